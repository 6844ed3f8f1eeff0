"""`eventrelay`: administer tenants, events, limits, connectors, actions, rules; publish; run locally.

Each area lives in its own module exposing `register(subparsers)`; commands receive the parsed
arguments and a lazily resolved CliContext (the local stack, or --stack NAME for a deployed one).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import os
import sys
from collections.abc import Iterator, Sequence

from eventrelay_cli.context import EXIT_USAGE, CliError, resolve_context

# Modules under eventrelay_cli that add commands; each defines register(subparsers).
COMMAND_MODULES: tuple[str, ...] = (
    "local_stack",
    "tenants",
    "events",
    "publishing",
    "connectors",
    "actions",
    "apply",
    "rules",
    "deliveries",
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
        module = importlib.import_module(f"eventrelay_cli.{name}")
        module.register(subparsers)
    return parser


@contextlib.contextmanager
def _stdout_for_answers(quiet: bool) -> Iterator[None]:
    """While a command runs, library logs (Powertools JSON) go to stderr so stdout holds only its
    answer; outside the local stack they stay at WARNING unless POWERTOOLS_LOG_LEVEL asks for more."""
    library_logger = logging.getLogger("eventrelay")
    level = library_logger.level
    moved = [
        handler
        for handler in library_logger.handlers
        if isinstance(handler, logging.StreamHandler) and handler.stream in (sys.stdout, sys.__stdout__)
    ]
    streams = [handler.setStream(sys.stderr) for handler in moved]
    if quiet and "POWERTOOLS_LOG_LEVEL" not in os.environ and level == logging.INFO:
        library_logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        library_logger.setLevel(level)
        for handler, stream in zip(moved, streams, strict=True):
            handler.setStream(stream)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    with _stdout_for_answers(quiet=args.command != "local"):
        return _run(args)


def _run(args: argparse.Namespace) -> int:
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
