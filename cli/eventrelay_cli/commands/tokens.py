"""`eventrelay token`: mint an admin API token signed by the running local stack's key."""

from __future__ import annotations

from pathlib import Path

import click

from eventrelay_cli.exit_codes import EXIT_NOT_FOUND, EXIT_USAGE, CliError
from eventrelay_cli.framework import Command


def find_token_key(start: Path) -> Path | None:
    """The nearest `.eventrelay/token-key.json` from `start` upwards (as the CLI finds local.json)."""
    from eventrelay_cli.local.state import STATE_FOLDER, TOKEN_KEY_FILE

    here = start.resolve()
    for folder in (here, *here.parents):
        candidate = folder / STATE_FOLDER / TOKEN_KEY_FILE
        if candidate.is_file():
            return candidate
    return None


@click.command(cls=Command)
@click.argument("tenants", nargs=-1)
@click.option("--operator", is_flag=True, help="an operator's token (every tenant, tenant administration)")
@click.option(
    "--ttl", type=click.IntRange(min=1), default=3600, show_default=True, help="lifetime in seconds"
)
@click.option("--subject", default="local-admin", show_default=True, help="the token's subject (`sub`)")
@click.option("--state-dir", help="folder whose .eventrelay/ holds the local stack's key (default: nearest)")
def token(tenants: tuple[str, ...], operator: bool, ttl: int, subject: str, state_dir: str | None) -> int:
    """Print a token for the local stack's admin API: a tenant admin of TENANT..., or --operator."""
    from eventrelay_cli.local.state import STATE_FOLDER, TOKEN_KEY_FILE
    from eventrelay_cli.local.token_issuer import LocalTokenIssuer

    if not tenants and not operator:
        raise CliError("name at least one TENANT, or pass --operator", EXIT_USAGE)
    key_file = Path(state_dir) / STATE_FOLDER / TOKEN_KEY_FILE if state_dir else find_token_key(Path.cwd())
    if key_file is None or not key_file.is_file():
        raise CliError("no local stack's token key found: start one with `eventrelay local`", EXIT_NOT_FOUND)
    issuer = LocalTokenIssuer.load(key_file)
    print(issuer.mint(subject, operator=operator, tenants=tenants, ttl_seconds=ttl))
    return 0
