"""`eventrelay local`: run the local stack until Ctrl-C (or SIGTERM/SIGHUP)."""

from __future__ import annotations

from pathlib import Path

import click

from eventrelay_cli.exit_codes import EXIT_CONFLICT, EXIT_USAGE, CliError
from eventrelay_cli.framework import Command


@click.command(cls=Command)
@click.option("--port", type=int, default=3000, help="HTTP API port (default 3000; 0 picks a free one)")
@click.option("--template", help="template.yaml to run (default: the nearest one)")
@click.option(
    "--dynamodb",
    type=click.Choice(["auto", "local", "moto"]),
    default="auto",
    help="tables on DynamoDB Local (when installed) or moto (default: auto)",
)
@click.option(
    "--state-dir",
    help="folder whose .eventrelay/ holds the stack's state (tables, secrets, queued messages, kept "
    "across restarts) and local.json, the endpoints the CLI reads (default: the checkout)",
)
@click.option(
    "--fresh", is_flag=True, help="forget the saved state first: empty tables and queues, a new demo secret"
)
@click.option(
    "--demo-secret", help="the demo tenant's shared secret when it is created (default: generated, printed)"
)
def local(
    port: int,
    template: str | None,
    dynamodb: str,
    state_dir: str | None,
    fresh: bool,
    demo_secret: str | None,
) -> int:
    """Run the local stack: embedded AWS, the HTTP API on 127.0.0.1 and the workers."""
    from eventrelay_cli.local.processes import PortInUse
    from eventrelay_cli.local.stack import LocalStackOptions, run_until_stopped
    from eventrelay_cli.local.state import StateInUse
    from eventrelay_cli.local.template_resources import find_template

    try:
        template_path = Path(template) if template else find_template()
    except FileNotFoundError as exc:
        raise CliError(f"{exc}; run from the eventrelay checkout or pass --template", EXIT_USAGE) from None
    options = LocalStackOptions(
        template=template_path.resolve(),
        port=port,
        dynamodb=dynamodb,
        state_dir=Path(state_dir).resolve() if state_dir else template_path.resolve().parent,
        demo_secret=demo_secret,
        fresh=fresh,
    )
    try:
        return run_until_stopped(options, lambda text: print(text, flush=True))
    except PortInUse as taken:
        raise CliError(
            f"port {taken.port} on {taken.host} is in use (another local stack?); choose another: "
            f"eventrelay local --port {taken.port + 1}, or make run PORT={taken.port + 1}",
            EXIT_CONFLICT,
        ) from None
    except StateInUse as used:
        raise CliError(
            f"a local stack (pid {used.owner_pid or 'unknown'}) is running on the state in {used.folder}; "
            "stop it first, or give this one its own folder: --state-dir DIR",
            EXIT_CONFLICT,
        ) from None
