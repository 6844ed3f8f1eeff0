"""`eventrelay local`: run the local stack until Ctrl-C."""

from __future__ import annotations

import argparse
import signal
from pathlib import Path
from typing import Any

from eventrelay_cli.context import EXIT_USAGE, CliError


def _raise_keyboard_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def run_local(args: argparse.Namespace) -> int:
    from eventrelay_cli.local.stack import LocalStackOptions, run_until_interrupted
    from eventrelay_cli.local.template_resources import find_template

    try:
        template = Path(args.template) if args.template else find_template()
    except FileNotFoundError as exc:
        raise CliError(f"{exc}; run from the eventrelay checkout or pass --template", EXIT_USAGE) from None
    # Stop cleanly on SIGTERM too (process managers, CI), not only on Ctrl-C.
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    options = LocalStackOptions(
        template=template.resolve(),
        port=args.port,
        dynamodb=args.dynamodb,
        state_dir=Path(args.state_dir) if args.state_dir else template.resolve().parent,
        demo_secret=args.demo_secret,
    )
    return run_until_interrupted(options, lambda text: print(text, flush=True))


def register(subparsers: Any) -> None:
    local = subparsers.add_parser(
        "local", help="run the local stack: embedded AWS, the HTTP API on 127.0.0.1 and the workers"
    )
    local.add_argument(
        "--port", type=int, default=3000, help="HTTP API port (default 3000; 0 picks a free one)"
    )
    local.add_argument("--template", help="template.yaml to run (default: the nearest one)")
    local.add_argument(
        "--dynamodb",
        choices=["auto", "local", "moto"],
        default="auto",
        help="tables on DynamoDB Local (when installed) or moto (default: auto)",
    )
    local.add_argument(
        "--state-dir",
        help="where .eventrelay/local.json (endpoints for the CLI) is written (default: the checkout)",
    )
    local.add_argument("--demo-secret", help="the demo tenant's shared secret (default: generated, printed)")
    local.set_defaults(handler=run_local, needs_context=False)
