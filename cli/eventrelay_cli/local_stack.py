"""`eventrelay local`: run the local stack until Ctrl-C."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from eventrelay_cli.context import EXIT_CONFLICT, EXIT_USAGE, CliError


def run_local(args: argparse.Namespace) -> int:
    from eventrelay_cli.local.processes import PortInUse
    from eventrelay_cli.local.stack import LocalStackOptions, run_until_stopped
    from eventrelay_cli.local.state import StateInUse
    from eventrelay_cli.local.template_resources import find_template

    try:
        template = Path(args.template) if args.template else find_template()
    except FileNotFoundError as exc:
        raise CliError(f"{exc}; run from the eventrelay checkout or pass --template", EXIT_USAGE) from None
    options = LocalStackOptions(
        template=template.resolve(),
        port=args.port,
        dynamodb=args.dynamodb,
        state_dir=Path(args.state_dir).resolve() if args.state_dir else template.resolve().parent,
        demo_secret=args.demo_secret,
        fresh=args.fresh,
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
        help="folder whose .eventrelay/ holds the stack's state (tables, secrets, queued messages, kept "
        "across restarts) and local.json, the endpoints the CLI reads (default: the checkout)",
    )
    local.add_argument(
        "--fresh",
        action="store_true",
        help="forget the saved state first: empty tables and queues, a new demo secret",
    )
    local.add_argument(
        "--demo-secret",
        help="the demo tenant's shared secret when it is created (default: generated, printed)",
    )
    local.set_defaults(handler=run_local, needs_context=False)
