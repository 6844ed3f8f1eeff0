"""The CLI's one table from errors to exit codes and the one line printed for each.

`main` applies it to whatever a command raises: the user sees `error: <message>` on stderr and
the exit code, never a traceback. Messages come from errors whose text is safe to show (the
admin errors never carry a secret value); an error the table does not know is named by its
class only, since its text might carry one.

Importing this module stays cheap (the CLI's `--help` must be fast): the error classes are
imported when an error is being mapped, and by then the command that raised it has loaded them.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_NOT_FOUND = 3
EXIT_CONFLICT = 4  # exists, in use, or changed concurrently
EXIT_INTERRUPTED = 130

DEBUG_VARIABLE = "EVENTRELAY_DEBUG"


class CliError(Exception):
    """A failure a command reports itself, with its exit code (worded for the command line)."""

    def __init__(self, message: str, exit_code: int = EXIT_FAILURE) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


@dataclass(frozen=True)
class Failure:
    """What the user sees: one line on stderr and the process's exit code."""

    exit_code: int
    message: str


@dataclass(frozen=True)
class ErrorEntry:
    error: type[BaseException]
    exit_code: int
    message: Callable[[BaseException], str] = str


def _aws_unavailable(error: BaseException) -> str:
    return f"AWS is unavailable ({error})"


def _aws_unreachable(error: BaseException) -> str:
    # botocore's own text names endpoints and request details: the class says enough.
    return f"AWS is unavailable ({error.__class__.__name__})"


def _aws_refused(error: BaseException) -> str:
    code = getattr(error, "response", {}).get("Error", {}).get("Code", "unknown")
    return f"AWS refused the request ({code})"


_SECRET_SOURCES = "secrets come from --*-env VARIABLE or --*-stdin"  # noqa: S105 - a hint, not a secret


def _credentials(error: BaseException) -> str:
    return f"credentials: {error} ({_SECRET_SOURCES})"


def _problems(error: BaseException) -> str:
    """An admin `Invalid...` error: its problems, as the CLI always worded them (no prefix)."""
    problems: list[str] = list(getattr(error, "problems", None) or [str(error)])
    text = "; ".join(problems)
    if any(problem.startswith("credentials") for problem in problems):
        text += f" ({_SECRET_SOURCES})"
    return text


def _invalid_action(error: BaseException) -> str:
    """A malformed template or a value that does not fit its field, as the template error says it
    (`payload: unclosed '{{' ... at line 1, column 8`); the service wraps it in InvalidAction."""
    from eventrelay.actions.errors import RenderError, TemplateError

    cause = error.__cause__
    return str(cause) if isinstance(cause, TemplateError | RenderError) else str(error)


def _tenant_not_found(error: BaseException) -> str:
    return f"tenant {_first_argument(error)!r} not found"


def _tenant_exists(error: BaseException) -> str:
    return f"tenant {_first_argument(error)!r} already exists"


def _first_argument(error: BaseException) -> str:
    return str(error.args[0]) if error.args else "?"


def _in_use(user_kind: str) -> Callable[[BaseException], str]:
    """The service says "force the delete"; on the command line that is `--force`."""

    def message(error: BaseException) -> str:
        what = "connector" if user_kind == "action" else "action"
        users = ", ".join(getattr(error, "users", []))
        name = getattr(error, "name", "?")
        return f"{what} {name!r} is used by {user_kind}(s) {users}: delete them first, or pass --force"

    return message


@cache
def table() -> tuple[ErrorEntry, ...]:
    """Most specific first: the first entry whose error type matches wins."""
    from botocore.exceptions import BotoCoreError, ClientError

    from eventrelay.actions.errors import InvalidAction, RenderError, TemplateError
    from eventrelay.admin import ActionInUse, ConnectorInUse
    from eventrelay.admin.errors import Invalid
    from eventrelay.connectors.errors import InvalidConnectorCredentials, NotAuthorizationCode
    from eventrelay.delivery.replay import NotReplayable
    from eventrelay.errors import (
        DependencyFailure,
        InvalidResource,
        ResourceConflict,
        ResourceExists,
        ResourceInUse,
        ResourceNotFound,
    )
    from eventrelay.rules.conditions import ConditionError
    from eventrelay.tenants import TenantExists, TenantNotFound

    return (
        # Bad input a user gave (an invalid definition, template, condition, credentials or limits):
        # a usage error, like a bad option.
        ErrorEntry(Invalid, EXIT_USAGE, _problems),
        ErrorEntry(InvalidAction, EXIT_USAGE, _invalid_action),
        ErrorEntry(TemplateError, EXIT_USAGE),
        ErrorEntry(RenderError, EXIT_USAGE),
        ErrorEntry(ConditionError, EXIT_USAGE),
        ErrorEntry(InvalidConnectorCredentials, EXIT_USAGE, _credentials),
        ErrorEntry(NotAuthorizationCode, EXIT_USAGE),
        ErrorEntry(InvalidResource, EXIT_USAGE),
        # The admin bases every area's errors derive from (a few worded for the command line).
        ErrorEntry(TenantNotFound, EXIT_NOT_FOUND, _tenant_not_found),
        ErrorEntry(ResourceNotFound, EXIT_NOT_FOUND),
        ErrorEntry(TenantExists, EXIT_CONFLICT, _tenant_exists),
        ErrorEntry(ResourceExists, EXIT_CONFLICT),
        ErrorEntry(ConnectorInUse, EXIT_CONFLICT, _in_use("action")),
        ErrorEntry(ActionInUse, EXIT_CONFLICT, _in_use("rule")),
        ErrorEntry(ResourceInUse, EXIT_CONFLICT),
        ErrorEntry(ResourceConflict, EXIT_CONFLICT),
        ErrorEntry(NotReplayable, EXIT_CONFLICT),
        # AWS: through a store's boundary, or straight from botocore where a store lets it escape.
        ErrorEntry(DependencyFailure, EXIT_FAILURE, _aws_unavailable),
        ErrorEntry(ClientError, EXIT_FAILURE, _aws_refused),
        ErrorEntry(BotoCoreError, EXIT_FAILURE, _aws_unreachable),
    )


def failure_of(error: BaseException) -> Failure:
    """The exit code and message for anything a command raised (the CLI's one error table)."""
    import click

    if isinstance(error, CliError):
        return Failure(error.exit_code, error.message)
    if isinstance(error, click.UsageError):
        hint = f" (see '{error.ctx.command_path} --help')" if error.ctx is not None else ""
        return Failure(EXIT_USAGE, error.format_message() + hint)
    if isinstance(error, click.ClickException):
        return Failure(error.exit_code, error.format_message())
    if isinstance(error, KeyboardInterrupt | click.Abort):
        return Failure(EXIT_INTERRUPTED, "")  # Ctrl-C: the user knows; nothing to print
    for entry in table():
        if isinstance(error, entry.error):
            return Failure(entry.exit_code, _one_line(entry.message(error)))
    return Failure(
        EXIT_FAILURE,
        f"unexpected {error.__class__.__name__} (set {DEBUG_VARIABLE}=1 to see the traceback)",
    )


def _one_line(message: str) -> str:
    return " ".join(message.split()) or "failed"


def show_traceback() -> bool:
    return os.environ.get(DEBUG_VARIABLE, "") not in ("", "0")
