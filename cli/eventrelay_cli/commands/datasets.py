"""`eventrelay dataset run|list|show`: one action call per row of a CSV or JSON Lines file.

\b
    eventrelay dataset run acme escalations --file rows.csv     # upload, then follow the run
    eventrelay dataset list acme
    eventrelay dataset show acme run-4c1f...

`run` asks the admin API for an upload URL (a presigned S3 PUT, 15 minutes, files up to 100 MiB),
puts the file there, under `tenants/<tenant>/rules/<rule>/<UTC timestamp>-<file name>` (the
bucket's notification starts the run, as for any upload there), then draws the run's progress on
stderr until it ends: exit code 0 when it SUCCEEDED, 1 when it ended PARTIAL_SUCCESS or FAILED (the
counts and the first errors are printed either way). The same with `--api`: no AWS credentials
needed.
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from eventrelay_cli.exit_codes import EXIT_FAILURE, EXIT_NOT_FOUND, EXIT_OK, EXIT_USAGE, CliError
from eventrelay_cli.framework import Group, pass_cli_context

if TYPE_CHECKING:
    from eventrelay_cli.context import CliContext

POLL_SECONDS = 0.5
BAR_WIDTH = 30
SHOWN_ERRORS = 20
UPLOAD_TIMEOUT = (10, 300)  # seconds to connect, and between bytes of S3's answer


def _path(*segments: str) -> str:
    from eventrelay.admin_api.routing import admin_path

    return admin_path(*segments)


def _run_path(tenant_id: str, run_id: str) -> str:
    return _path("tenants", tenant_id, "datasets", "runs", run_id)


def _counts(view: dict[str, Any]) -> str:
    return (
        f"rows {view['rows']}, skipped {view['skipped']}, invalid {view['invalid']}, "
        f"delivered {view['delivered']}, failed {view['failed']}, pending {view['pending']}"
    )


def _line(view: dict[str, Any]) -> str:
    return f"{view['runId']}\t{view['createdAt']}\t{view['state']}\t{view['rule']}\t{_counts(view)}"


def _detail(view: dict[str, Any]) -> str:
    lines = [
        f"run {view['runId']}: {view['state']}",
        f"  rule    {view['rule']} ({view['startedBy']})",
        f"  file    s3://{view['file']['bucket']}/{view['file']['key']} ({view['format']}, "
        f"{view['file']['size']} bytes)",
        f"  counts  {_counts(view)}",
        f"  started {view['createdAt']}" + (f", finished {view['finishedAt']}" if view["finishedAt"] else ""),
    ]
    if view["reason"]:
        lines.append(f"  reason  {view['reason']}")
    if view["errors"]:
        lines.append("row errors:")
        lines.extend(f"  line {e['line']} (row {e['row']}): {e['reason']}" for e in view["errors"])
        if view["errorsOmitted"]:
            lines.append(f"  ... and {view['errorsOmitted']} more")
    return "\n".join(lines)


@click.group(cls=Group, help=__doc__)
def dataset() -> None:
    pass


@dataset.command("list")
@click.argument("tenant_id")
@click.option("--limit", type=int, default=50, help="at most this many (default 50, up to 200)")
@pass_cli_context
def dataset_list(context: CliContext, tenant_id: str, limit: int) -> int:
    """A tenant's latest dataset runs, newest first."""
    runs = context.call("GET", _path("tenants", tenant_id, "datasets", "runs"), query={"limit": str(limit)})
    context.emit(runs, lambda page: "\n".join(_line(v) for v in page["runs"]) or "(no runs)")
    return EXIT_OK


@dataset.command("show")
@click.argument("tenant_id")
@click.argument("run_id")
@pass_cli_context
def dataset_show(context: CliContext, tenant_id: str, run_id: str) -> int:
    """One run: its state, counts and per-row errors (line number, reason)."""
    context.emit(context.call("GET", _run_path(tenant_id, run_id)), _detail)
    return EXIT_OK


def _put(ticket: dict[str, Any], file: Path) -> dict[str, str]:
    """PUT the file to the upload URL the API handed out; S3's answer headers (ETag, version id)."""
    import requests

    try:
        with file.open("rb") as body:
            answer = requests.request(
                ticket["method"], ticket["url"], data=body, headers=ticket["headers"], timeout=UPLOAD_TIMEOUT
            )
    except OSError as exc:  # the file, or the connection to S3 (requests' errors are OSErrors)
        raise CliError(f"cannot upload {file}: {exc.strerror or type(exc).__name__}", EXIT_FAILURE) from None
    if answer.status_code != 200:
        # S3 says why in XML (<Code>SignatureDoesNotMatch</Code>, ...); the URL itself is never shown.
        code = re.search(r"<Code>([^<]{1,100})</Code>", answer.text)
        raise CliError(
            f"the datasets bucket refused the upload: HTTP {answer.status_code}"
            + (f" {code.group(1)}" if code else ""),
            EXIT_FAILURE,
        )
    return {name.lower(): value for name, value in answer.headers.items()}


def _upload(context: CliContext, tenant_id: str, rule_name: str, file: Path) -> str:
    """Put the file in the datasets bucket through an upload URL; the id of the run it starts."""
    from eventrelay.datasets.models import run_id_for

    try:
        size = file.stat().st_size
    except OSError as exc:
        raise CliError(f"cannot read {file}: {exc.strerror or exc}", EXIT_USAGE) from None
    ticket = context.call(
        "POST",
        _path("tenants", tenant_id, "datasets", "uploads"),
        body={"rule": rule_name, "fileName": file.name, "size": size},
    )
    stored = _put(ticket, file)
    # The run's id derives from the object version S3 stored: its version id, else its ETag.
    version_id = stored.get("x-amz-version-id")
    etag = stored.get("etag", "").strip('"')
    version = version_id if version_id and version_id != "null" else etag
    context.info(f"uploaded s3://{ticket['bucket']}/{ticket['key']}")
    return run_id_for(tenant_id, rule_name, ticket["bucket"], ticket["key"], version)


def _bar(view: dict[str, Any]) -> str:
    settled = view["skipped"] + view["invalid"] + view["delivered"] + view["failed"]
    if not view["fileRead"]:
        return f"{view['state']:<15} reading: {view['rows']} rows so far, {settled} settled"
    total = max(view["rows"], 1)
    filled = BAR_WIDTH * min(settled, total) // total
    return f"{view['state']:<15} [{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {settled}/{view['rows']}"


def _follow(context: CliContext, tenant_id: str, run_id: str, timeout: float) -> dict[str, Any]:
    """Poll the run until it ends, redrawing one progress line on stderr."""
    from eventrelay.admin.datasets import RunNotFound

    deadline = time.monotonic() + timeout
    interactive = sys.stderr.isatty()
    last = ""
    while True:
        view: dict[str, Any] | None
        try:
            view = context.call("GET", _run_path(tenant_id, run_id))
        except RunNotFound:
            view = None  # the bucket's notification has not reached the expander yet
        except CliError as exc:  # the same, answered over HTTP
            if exc.exit_code != EXIT_NOT_FOUND:
                raise
            view = None
        line = _bar(view) if view is not None else "ACCEPTED        waiting for the run to start"
        if line != last:
            # a terminal redraws one line; a log or a pipe gets one line per change
            start, end = ("\r", "") if interactive else ("", "\n")
            print(start + line, end=end, file=sys.stderr, flush=True)
            last = line
        if view is not None and view["state"] in ("SUCCEEDED", "PARTIAL_SUCCESS", "FAILED"):
            if interactive:
                print(file=sys.stderr)
            return view
        if time.monotonic() > deadline:
            raise CliError(
                f"run {run_id} has not ended after {timeout:g}s; follow it with `eventrelay dataset show "
                f"{tenant_id} {run_id}`"
            )
        time.sleep(POLL_SECONDS)  # polling an admin route: the run's progress has no push channel


@dataset.command("run")
@click.argument("tenant_id")
@click.argument("rule_name")
@click.option(
    "--file",
    "file",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="a CSV (header row) or JSON Lines (.jsonl, .ndjson) file",
)
@click.option("--timeout", type=float, default=3600.0, help="stop following after this many seconds")
@pass_cli_context
def dataset_run(context: CliContext, tenant_id: str, rule_name: str, file: Path, timeout: float) -> int:
    """Upload a file for a dataset rule and follow its run until it ends."""
    run_id = _upload(context, tenant_id, rule_name, file)
    context.info(f"run {run_id}")
    view = _follow(context, tenant_id, run_id, timeout)
    shown = {**view, "errors": view["errors"][:SHOWN_ERRORS]}
    context.emit(view, lambda _view: _detail(shown))
    return EXIT_OK if view["state"] == "SUCCEEDED" else EXIT_FAILURE
