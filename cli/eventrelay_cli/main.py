"""`eventrelay`: administer tenants, events, limits, connectors, actions, rules; publish; run locally.

The root group holds the options that choose the target stack; each command lives in a module
under `eventrelay_cli.commands` (see its COMMANDS registry) and is imported only when it runs.
Every error a command raises is turned into one line and an exit code here, by the table in
`exit_codes`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import traceback
from collections.abc import Iterator, Sequence

import click

from eventrelay_cli.commands import COMMANDS
from eventrelay_cli.exit_codes import EXIT_USAGE, failure_of, show_traceback
from eventrelay_cli.framework import CONTEXT_SETTINGS, LazyGroup, Target


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


@click.group(
    cls=LazyGroup,
    lazy_commands=COMMANDS,
    context_settings=CONTEXT_SETTINGS,
    help="Administer and use an eventrelay stack (the local one or a deployed one).",
)
@click.option("--stack", help="a deployed stack's name (default: $EVENTRELAY_STACK, else the local stack)")
@click.option("--local", is_flag=True, help="target the running local stack")
@click.option("--region", help="AWS region of the deployed stack")
@click.option("--api-url", help="override the Events API base URL")
@click.option(
    "--api",
    "admin_api",
    metavar="URL",
    help="administer through this admin API (token: $EVENTRELAY_TOKEN or `eventrelay login`) "
    "instead of AWS; default $EVENTRELAY_API",
)
@click.pass_context
def cli(
    ctx: click.Context,
    stack: str | None,
    local: bool,
    region: str | None,
    api_url: str | None,
    admin_api: str | None,
) -> None:
    ctx.obj = Target(stack=stack, local=local, region=region, api_url=api_url, admin_api=admin_api)
    ctx.with_resource(_stdout_for_answers(quiet=ctx.invoked_subcommand != "local"))


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command line; the exit code is returned (the console script exits with it)."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        result = cli.main(args=args, prog_name="eventrelay", standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError as exc:
        exc.show()  # `eventrelay` alone: the help, as a usage error
        return EXIT_USAGE
    except Exception as exc:
        return _report(exc)
    except KeyboardInterrupt as exc:
        return _report(exc)
    return result if isinstance(result, int) else 0


def _report(error: BaseException) -> int:
    failure = failure_of(error)
    if show_traceback():
        traceback.print_exception(error, file=sys.stderr)
    if failure.message:
        print(f"error: {failure.message}", file=sys.stderr)
    return failure.exit_code


if __name__ == "__main__":
    sys.exit(main())

__all__ = ["cli", "main"]
