"""`eventrelay publish` (as a publisher would, over HTTP) and `eventrelay job show`."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from eventrelay_cli.exit_codes import EXIT_FAILURE, EXIT_NOT_FOUND, EXIT_OK, EXIT_USAGE, CliError
from eventrelay_cli.framework import Command, Group, pass_cli_context

if TYPE_CHECKING:
    import requests

    from eventrelay_cli.context import CliContext

SECRET_ENVIRONMENT_VARIABLE = "EVENTRELAY_SHARED_SECRET"  # noqa: S105 - a variable name, not a secret
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


def _answer(context: CliContext, response: requests.Response, *, not_found: int = EXIT_FAILURE) -> int:
    """Print the API's answer; the exit code says whether it succeeded (`not_found` for a 404)."""
    try:
        body: Any = response.json()
    except ValueError:
        body = {"raw": response.text}
    rate = {k: v for k, v in response.headers.items() if k.lower().startswith(("ratelimit-", "retry-after"))}
    view = {"status": response.status_code, "body": body, "headers": rate}
    context.emit(view, lambda v: f"HTTP {v['status']}\n{json.dumps(v['body'], indent=2)}")
    if response.ok:
        return EXIT_OK
    return not_found if response.status_code == 404 else EXIT_FAILURE


@click.command(cls=Command)
@click.argument("tenant_id")
@click.argument("event_name")
@click.argument("event_version")
@click.option("--data", help="the event body (JSON text)")
@click.option("--file", help="read the body from a file (- for stdin)")
@click.option("--secret", help=_SECRET_HELP)
@click.option("--idempotency-key")
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
) -> int:
    """Publish an event over HTTP, as a publisher would."""
    import requests

    headers = {
        "Content-Type": "application/json",
        "tenantId": tenant_id,
        "sharedSecret": _secret(secret),
        "eventName": event_name,
        "eventVersion": event_version,
    }
    if idempotency_key:
        headers["Idempotency-Key"] = idempotency_key
    try:
        response = requests.post(
            f"{_api_url(context)}/v1/eventManager/event", data=_body(data, file), headers=headers, timeout=30
        )
    except requests.RequestException as exc:
        raise CliError(f"cannot reach the Events API: {exc.__class__.__name__}") from None
    return _answer(context, response)


@click.group(cls=Group)
def job() -> None:
    """Bulk jobs."""


@job.command("show")
@click.argument("tenant_id")
@click.argument("job_id")
@click.option("--secret", help=_SECRET_HELP)
@pass_cli_context
def job_show(context: CliContext, tenant_id: str, job_id: str, secret: str | None) -> int:
    """A bulk job's status, counts and item errors."""
    import requests

    headers = {"tenantId": tenant_id, "sharedSecret": _secret(secret)}
    try:
        response = requests.get(
            f"{_api_url(context)}/v1/eventManager/jobs/{job_id}", headers=headers, timeout=30
        )
    except requests.RequestException as exc:
        raise CliError(f"cannot reach the Events API: {exc.__class__.__name__}") from None
    # An unknown job (or another tenant's) is not found, as everywhere in the CLI.
    return _answer(context, response, not_found=EXIT_NOT_FOUND)
