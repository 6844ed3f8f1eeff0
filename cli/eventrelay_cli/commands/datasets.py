"""`eventrelay dataset run|list|show`: one action call per row of a CSV or JSON Lines file.

\b
    eventrelay dataset run acme escalations --file rows.csv     # upload, then follow the run
    eventrelay dataset list acme
    eventrelay dataset show acme run-4c1f...

`run` uploads the file to the stack's datasets bucket under
`tenants/<tenant>/rules/<rule>/<UTC timestamp>-<file name>` (the bucket's notification starts the
run, as for any upload there), then draws the run's progress on stderr until it ends: exit code 0
when it SUCCEEDED, 1 when it ended PARTIAL_SUCCESS or FAILED (the counts and the first errors are
printed either way).
"""

from __future__ import annotations

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


def upload_key(tenant_id: str, rule_name: str, file_name: str, now: float) -> str:
    """Where `dataset run` puts a file: a new key per upload, so every upload is a new run."""
    from eventrelay.datasets.models import upload_prefix

    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
    return f"{upload_prefix(tenant_id, rule_name)}{stamp}-{file_name}"


def _upload(context: CliContext, tenant_id: str, rule_name: str, file: Path) -> str:
    """Put the file in the datasets bucket; the id of the run its notification starts."""
    from eventrelay.aws import s3_client
    from eventrelay.datasets.models import run_id_for

    settings = context.settings
    if settings is None:
        raise CliError(
            "dataset run uploads to the stack's bucket directly and is not available with --api yet; "
            "upload with an S3 client, then follow the run with `dataset show`",
            EXIT_USAGE,
        )
    if not settings.datasets_bucket:
        raise CliError("this stack has no datasets bucket (deploy the current template)", EXIT_USAGE)
    key = upload_key(tenant_id, rule_name, file.name, time.time())
    try:
        with file.open("rb") as body:
            s3 = s3_client(settings.region)
            answer = s3.put_object(Bucket=settings.datasets_bucket, Key=key, Body=body)
    except OSError as exc:
        raise CliError(f"cannot read {file}: {exc.strerror or exc}", EXIT_USAGE) from None
    version_id = answer.get("VersionId")
    version = (version_id if version_id and version_id != "null" else None) or str(answer["ETag"]).strip('"')
    context.info(f"uploaded s3://{settings.datasets_bucket}/{key}")
    return run_id_for(tenant_id, rule_name, settings.datasets_bucket, key, version)


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
    rule = context.call("GET", _path("tenants", tenant_id, "rules", rule_name))
    if rule.get("source", {}).get("type") != "dataset":
        raise CliError(f"rule {rule_name} is not a dataset rule (source: dataset)", EXIT_USAGE)
    run_id = _upload(context, tenant_id, rule_name, file)
    context.info(f"run {run_id}")
    view = _follow(context, tenant_id, run_id, timeout)
    shown = {**view, "errors": view["errors"][:SHOWN_ERRORS]}
    context.emit(view, lambda _view: _detail(shown))
    return EXIT_OK if view["state"] == "SUCCEEDED" else EXIT_FAILURE
