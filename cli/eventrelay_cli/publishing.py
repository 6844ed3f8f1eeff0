"""`eventrelay publish` (as a publisher would, over HTTP) and `eventrelay job show`."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

import requests

from eventrelay_cli.context import EXIT_FAILURE, EXIT_USAGE, CliError

SECRET_ENVIRONMENT_VARIABLE = "EVENTRELAY_SHARED_SECRET"  # noqa: S105 - a variable name, not a secret


def _secret(args: argparse.Namespace) -> str:
    secret = args.secret or os.environ.get(SECRET_ENVIRONMENT_VARIABLE)
    if not secret:
        raise CliError(f"pass --secret or set {SECRET_ENVIRONMENT_VARIABLE}", EXIT_USAGE)
    return str(secret)


def _api_url(args: argparse.Namespace) -> str:
    url = str(args.context.api_url).rstrip("/")
    if not url:
        raise CliError("no API URL: start the local stack, pass --stack or --api-url", EXIT_USAGE)
    return url


def _body(args: argparse.Namespace) -> bytes:
    if args.data is not None:
        return str(args.data).encode("utf-8")
    if args.file == "-":
        return sys.stdin.buffer.read()
    if args.file:
        return Path(args.file).read_bytes()
    raise CliError("give the event body with --data JSON or --file PATH (- for stdin)", EXIT_USAGE)


def _answer(args: argparse.Namespace, response: requests.Response) -> int:
    try:
        body: Any = response.json()
    except ValueError:
        body = {"raw": response.text}
    rate = {k: v for k, v in response.headers.items() if k.lower().startswith(("ratelimit-", "retry-after"))}
    view = {"status": response.status_code, "body": body, "headers": rate}
    args.context.emit(view, lambda v: f"HTTP {v['status']}\n{json.dumps(v['body'], indent=2)}")
    return 0 if response.ok else EXIT_FAILURE


def publish(args: argparse.Namespace) -> int:
    headers = {
        "Content-Type": "application/json",
        "tenantId": args.tenant_id,
        "sharedSecret": _secret(args),
        "eventName": args.event_name,
        "eventVersion": args.event_version,
    }
    if args.idempotency_key:
        headers["Idempotency-Key"] = args.idempotency_key
    try:
        response = requests.post(
            f"{_api_url(args)}/v1/eventManager/event", data=_body(args), headers=headers, timeout=30
        )
    except requests.RequestException as exc:
        raise CliError(f"cannot reach the Events API: {exc.__class__.__name__}") from None
    return _answer(args, response)


def job_show(args: argparse.Namespace) -> int:
    headers = {"tenantId": args.tenant_id, "sharedSecret": _secret(args)}
    try:
        response = requests.get(
            f"{_api_url(args)}/v1/eventManager/jobs/{args.job_id}", headers=headers, timeout=30
        )
    except requests.RequestException as exc:
        raise CliError(f"cannot reach the Events API: {exc.__class__.__name__}") from None
    return _answer(args, response)


def register(subparsers: Any) -> None:
    pub = subparsers.add_parser("publish", help="publish an event over HTTP, as a publisher would")
    pub.add_argument("tenant_id")
    pub.add_argument("event_name")
    pub.add_argument("event_version")
    pub.add_argument("--data", help="the event body (JSON text)")
    pub.add_argument("--file", help="read the body from a file (- for stdin)")
    pub.add_argument("--secret", help=f"the tenant's shared secret (default: ${SECRET_ENVIRONMENT_VARIABLE})")
    pub.add_argument("--idempotency-key")
    pub.set_defaults(handler=publish)

    job = subparsers.add_parser("job", help="bulk jobs").add_subparsers(
        dest="action", metavar="ACTION", required=True
    )
    show = job.add_parser("show", help="a bulk job's status, counts and item errors")
    show.add_argument("tenant_id")
    show.add_argument("job_id")
    show.add_argument(
        "--secret", help=f"the tenant's shared secret (default: ${SECRET_ENVIRONMENT_VARIABLE})"
    )
    show.set_defaults(handler=job_show)
