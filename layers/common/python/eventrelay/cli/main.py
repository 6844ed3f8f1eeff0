"""`eventrelay`: administer tenants, events, limits, connectors, actions, rules; publish; run locally.

Each area lives in its own module exposing `register(subparsers)`; commands receive the parsed
arguments and a lazily resolved CliContext (the local stack, or --stack NAME for a deployed one).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from eventrelay.cli.context import EXIT_USAGE, CliError, resolve_context

# Modules under eventrelay.cli that add commands; each defines register(subparsers).
COMMAND_MODULES: tuple[str, ...] = (
    "local_stack",
    "tenants",
    "events",
    "publishing",
    "connectors",
    "actions",
    "apply",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="eventrelay",
        description="Administer and use an eventrelay stack (the local one or a deployed one).",
    )
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
    parser.add_argument(
        "--stack", help="a deployed stack's name (default: $EVENTRELAY_STACK, else the local stack)"
    )
    parser.add_argument("--local", action="store_true", help="target the running local stack")
    parser.add_argument("--region", help="AWS region of the deployed stack")
    parser.add_argument("--api-url", help="override the Events API base URL")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        module = importlib.import_module(f"eventrelay.cli.{name}")
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if getattr(args, "needs_context", True):
            args.context = resolve_context(
                json_output=args.json,
                stack=args.stack,
                local=args.local,
                region=args.region,
                api_url=args.api_url,
            )
        result: int = args.handler(args)
        return result
    except CliError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())

__all__ = ["EXIT_USAGE", "build_parser", "main"]
