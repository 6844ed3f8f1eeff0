"""`eventrelay login --api URL`: check a token against an admin API and save it for `--api`."""

from __future__ import annotations

import os
import sys

import click

from eventrelay_cli.exit_codes import EXIT_OK, EXIT_USAGE, CliError
from eventrelay_cli.framework import Command


@click.command(cls=Command)
@click.option("--api", "api_url", required=True, metavar="URL", help="the admin API's base URL")
@click.option("--token-env", metavar="VARIABLE", help="read the token from this variable (default: stdin)")
def login(api_url: str, token_env: str | None) -> int:
    """Save a token (from Cognito's hosted UI, or `eventrelay token` locally) for `--api URL`.

    The token is read from standard input (a prompt without echo on a terminal) or --token-env,
    checked with GET /v1/admin/me, and saved in a file only you can read."""
    from eventrelay_cli.admin_client import HttpAdmin
    from eventrelay_cli.login import save_token

    if token_env:
        token = os.environ.get(token_env, "")
    elif sys.stdin.isatty():
        token = click.prompt("token", hide_input=True)
    else:
        token = sys.stdin.readline()
    token = token.strip()
    if not token:
        raise CliError("no token given", EXIT_USAGE)
    who = HttpAdmin(api_url, token).call("GET", "/v1/admin/me")
    path = save_token(api_url, token)
    roles = "operator" if who.get("operator") else "tenant admin of " + ", ".join(who.get("tenants") or [])
    click.echo(f"signed in as {who.get('subject')} ({roles}); token saved in {path}", err=True)
    return EXIT_OK
