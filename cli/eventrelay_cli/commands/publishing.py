"""`eventrelay publish` (as a publisher would, over HTTP) and `eventrelay job show`."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from eventrelay_cli.exit_codes import EXIT_FAILURE, EXIT_NOT_FOUND, EXIT_OK, EXIT_USAGE, CliError
from eventrelay_cli.framework import Command, Group, pass_cli_context

if TYPE_CHECKING:
    from eventrelay.publisher import Answer, Publisher
    from eventrelay_cli.context import CliContext

SECRET_ENVIRONMENT_VARIABLE = "EVENTRELAY_SHARED_SECRET"  # noqa: S105 - a variable name, not a secret
# Short: someone is waiting at the terminal (a publisher's own default is longer).
CLI_RETRY_BUDGET_SECONDS = 10.0
_SECRET_HELP = f"the tenant's shared secret, may start with '-' (default: ${SECRET_ENVIRONMENT_VARIABLE})"


def _secret(given: str | None) -> str:
    secret = given or os.environ.get(SECRET_ENVIRONMENT_VARIABLE)
    if not secret:
        raise CliError(f"pass --secret or set {SECRET_ENVIRONMENT_VARIABLE}", EXIT_USAGE)
    return str(secret)


def _api_url(context: CliContext) -> str:
    url = str(context.api_url).rstrip("/")
    if not url:
        raise CliError("no API URL: start the local stack, pass --stack or --api-url", EXIT_USAGE)
    return url


def _body(data: str | None, file: str | None) -> bytes:
    if data is not None:
        return data.encode("utf-8")
    if file == "-":
        return sys.stdin.buffer.read()
    if file:
        return Path(file).read_bytes()
    raise CliError("give the event body with --data JSON or --file PATH (- for stdin)", EXIT_USAGE)


def _publisher(context: CliContext, tenant_id: str, secret: str | None, retry_budget: float) -> Publisher:
    from eventrelay.publisher import Publisher

    return Publisher(
        _api_url(context), tenant_id, _secret(secret), timeout=30, retry_budget_seconds=retry_budget
    )


def _emit(context: CliContext, answer: Answer) -> None:
    """Print the API's answer: status, body and the rate-limit headers."""
    rate = {k: v for k, v in answer.headers.items() if k.lower().startswith(("ratelimit-", "retry-after"))}
    view = {"status": answer.status, "body": answer.body, "headers": rate}
    context.emit(view, lambda v: f"HTTP {v['status']}\n{json.dumps(v['body'], indent=2)}")


def _call(context: CliContext, call: Callable[[], Answer], *, not_found: int = EXIT_FAILURE) -> int:
    """Run one client call and print its answer; the exit code says whether it succeeded
    (`not_found` for a 404). Retries already happened inside the client, within its budget."""
    import requests

    from eventrelay.publisher import PublishRejected, PublishUnavailable

    try:
        answer = call()
    except PublishRejected as rejected:
        _emit(context, rejected.answer)
        return not_found if rejected.status == 404 else EXIT_FAILURE
    except PublishUnavailable as unavailable:
        if unavailable.last_answer is None:
            raise CliError(f"cannot reach the Events API: {unavailable.last_error}") from None
        _emit(context, unavailable.last_answer)
        return EXIT_FAILURE
    except requests.RequestException as exc:
        raise CliError(f"cannot reach the Events API: {exc.__class__.__name__}") from None
    _emit(context, answer)
    return EXIT_OK


_RETRY_BUDGET_HELP = "seconds to keep retrying 1009, 429 and network errors"


@click.command(cls=Command)
@click.argument("tenant_id")
@click.argument("event_name")
@click.argument("event_version")
@click.option("--data", help="the event body (JSON text)")
@click.option("--file", help="read the body from a file (- for stdin)")
@click.option("--secret", help=_SECRET_HELP)
@click.option("--idempotency-key", help="default: a new uuid4, the same on every retry of this call")
@click.option(
    "--retry-budget", type=float, default=CLI_RETRY_BUDGET_SECONDS, show_default=True, help=_RETRY_BUDGET_HELP
)
@pass_cli_context
def publish(
    context: CliContext,
    tenant_id: str,
    event_name: str,
    event_version: str,
    data: str | None,
    file: str | None,
    secret: str | None,
    idempotency_key: str | None,
    retry_budget: float,
) -> int:
    """Publish an event over HTTP, as a publisher would (with eventrelay.publisher)."""
    body = _body(data, file)
    publisher = _publisher(context, tenant_id, secret, retry_budget)
    return _call(
        context,
        lambda: publisher.publish(event_name, event_version, body, idempotency_key=idempotency_key).answer,
    )


@click.group(cls=Group)
def job() -> None:
    """Bulk jobs."""


@job.command("show")
@click.argument("tenant_id")
@click.argument("job_id")
@click.option("--secret", help=_SECRET_HELP)
@click.option(
    "--retry-budget", type=float, default=CLI_RETRY_BUDGET_SECONDS, show_default=True, help=_RETRY_BUDGET_HELP
)
@pass_cli_context
def job_show(
    context: CliContext, tenant_id: str, job_id: str, secret: str | None, retry_budget: float
) -> int:
    """A bulk job's status, counts and item errors."""
    publisher = _publisher(context, tenant_id, secret, retry_budget)
    # An unknown job (or another tenant's) is not found, as everywhere in the CLI.
    return _call(context, lambda: publisher.job(job_id), not_found=EXIT_NOT_FOUND)
