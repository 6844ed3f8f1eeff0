"""`eventrelay local`: run the local stack until Ctrl-C."""

from __future__ import annotations

import signal
from pathlib import Path

import click

from eventrelay_cli.exit_codes import EXIT_USAGE, CliError
from eventrelay_cli.framework import Command


def _raise_keyboard_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


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
    help="where .eventrelay/local.json (endpoints for the CLI) is written (default: the checkout)",
)
@click.option("--demo-secret", help="the demo tenant's shared secret (default: generated, printed)")
def local(
    port: int, template: str | None, dynamodb: str, state_dir: str | None, demo_secret: str | None
) -> int:
    """Run the local stack: embedded AWS, the HTTP API on 127.0.0.1 and the workers."""
    from eventrelay_cli.local.stack import LocalStackOptions, run_until_interrupted
    from eventrelay_cli.local.template_resources import find_template

    try:
        template_path = Path(template) if template else find_template()
    except FileNotFoundError as exc:
        raise CliError(f"{exc}; run from the eventrelay checkout or pass --template", EXIT_USAGE) from None
    # Stop cleanly on SIGTERM too (process managers, CI), not only on Ctrl-C.
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    options = LocalStackOptions(
        template=template_path.resolve(),
        port=port,
        dynamodb=dynamodb,
        state_dir=Path(state_dir) if state_dir else template_path.resolve().parent,
        demo_secret=demo_secret,
    )
    return run_until_interrupted(options, lambda text: print(text, flush=True))
