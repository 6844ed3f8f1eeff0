"""`make bench`, the dataset expander's figures: rows per second expanded, and its peak memory, for
10,000 and 100,000 rows (memory must not grow with the row count).

The real expander function (functions/dataset_expander/app.py, its handler called with SQS events
as Lambda calls it) on the embedded AWS: the file in moto's S3, the run in DynamoDB Local, its
page messages and row messages on moto's SQS. The bench plays Lambda's SQS poller: it hands the
handler the upload's S3 notification, then each page message the expander sends itself, until the
file is read. Only the handler's calls are timed. Between pages the bench purges the rows queue
(untimed; moto's one-purge-a-minute rule is off for it): no runner takes the rows here, and
moto's SendMessage counts the queue's messages, which would charge the 100,000-row run for a
100,000-message queue that a deployed stack's runners never let build up.

Every expansion runs in a fresh process of its own (this module with `--expand`), so one size's
leftovers never weigh on the other, and the sides alternate (10,000, 100,000, 10,000, ...) so the
machine's load hits them alike. Each size is expanded twice per round: once timed, once with
`tracemalloc` on (it slows Python down, so it never runs while timing). The memory figure is
tracemalloc's peak: the most Python memory the expansion held at once, counted from just before
the notification is handled (the process has imported everything and expanded a small warm-up file
by then). The max RSS of the timed process is shown as well: it includes the interpreter, boto3
and the handler's imports, which do not depend on the file.

Printed as one table (bench/report.py) and written to the `datasets` section of bench/results.json.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.report import BenchReport

REPO_ROOT = Path(__file__).resolve().parent.parent
ROW_COUNTS = (10_000, 100_000)
ROUNDS = 1  # a 100,000-row expansion takes minutes here: one of each size, timed then traced
EXPANDER_QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:DatasetRunsQueue"
WARM_UP_ROWS = 600  # two pages: every code path of a page is imported and connected before measuring
TENANT = "bench"
RULE = "escalations"
# The requirement (issue 11): memory does not grow with the row count.
MEMORY_RATIO_TARGET = 1.2
EXPAND_TIMEOUT_SECONDS = 1800


def rows_file(rows: int) -> bytes:
    """A CSV as the README's escalations: a quoted comma in every title, a number, a status."""
    lines = ["id,title,amount,status\r\n"]
    lines.extend(f'E-{n},"Escalation {n}, printer on fire",{n % 997},open\r\n' for n in range(1, rows + 1))
    return "".join(lines).encode("utf-8")


# ---- the child: one expansion in a fresh process


@dataclass
class Expansion:
    """What one child measured."""

    rows: int
    seconds: float  # the handler's calls only
    pages: int
    traced_peak_bytes: int | None
    max_rss_kib: int

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds


def _expand(key: str, size: int, rows: int, warm_up_key: str, warm_up_size: int, trace: bool) -> Expansion:
    """Expand the uploaded file `key` through the expander function's handler, as Lambda would."""
    from eventrelay.aws import dynamodb_client, s3_client, sqs_client
    from eventrelay.datasets.models import run_id_for
    from eventrelay.datasets.store import RunStore
    from eventrelay.settings import get_settings
    from eventrelay_cli.local.lambda_runtime import load_handler, make_context
    from eventrelay_cli.local.notifications import object_created_event
    from eventrelay_cli.local.sqs_event_source import sqs_event_of_bodies

    settings = get_settings()
    handler = load_handler(REPO_ROOT / "functions" / "dataset_expander")
    context = make_context("DatasetExpanderFunction", 120)
    sqs = sqs_client(settings.region)
    s3 = s3_client(settings.region)
    runs = RunStore(settings.deliveries_table, dynamodb_client(settings.region))

    def handle(body: str) -> float:
        started = time.perf_counter()
        response = handler(sqs_event_of_bodies([body], EXPANDER_QUEUE_ARN), context)
        elapsed = time.perf_counter() - started
        if response != {"batchItemFailures": []}:
            raise RuntimeError(f"the expander failed a message: {response}")
        return elapsed

    def expand(file_key: str, file_size: int) -> tuple[str, float, int]:
        head = s3.head_object(Bucket=settings.datasets_bucket, Key=file_key)
        notification = object_created_event(
            settings.datasets_bucket,
            file_key,
            str(head["ETag"]).strip('"'),
            file_size,
            head.get("VersionId"),
            settings.region,
            datetime.now(UTC),
        )
        seconds = handle(json.dumps(notification))
        pages = 1
        while True:
            sqs.purge_queue(QueueUrl=settings.dataset_deliveries_queue_url)
            answer = sqs.receive_message(QueueUrl=settings.dataset_runs_queue_url, MaxNumberOfMessages=1)
            messages = answer.get("Messages", [])
            if not messages:
                break
            [message] = messages
            sqs.delete_message(
                QueueUrl=settings.dataset_runs_queue_url, ReceiptHandle=message["ReceiptHandle"]
            )
            seconds += handle(message["Body"])
            pages += 1
        version = head.get("VersionId")
        version = version if version and version != "null" else str(head["ETag"]).strip('"')
        return run_id_for(TENANT, RULE, settings.datasets_bucket, file_key, version), seconds, pages

    expand(warm_up_key, warm_up_size)
    if trace:
        tracemalloc.start()
        tracemalloc.reset_peak()
    run_id, seconds, pages = expand(key, size)
    traced_peak = tracemalloc.get_traced_memory()[1] if trace else None
    tracemalloc.stop()
    run = runs.get(run_id)
    if run is None or not run.expanded or (run.rows, run.invalid, run.skipped) != (rows, 0, 0):
        raise RuntimeError(f"the run did not expand the {rows} rows: {run}")
    max_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return Expansion(rows, seconds, pages, traced_peak, max_rss)


def _child(arguments: argparse.Namespace) -> int:
    # The handler's logs go to stdout, as in Lambda; the parent discards them. The figures go to a file.
    expansion = _expand(
        arguments.key,
        arguments.size,
        arguments.rows,
        arguments.warm_up_key,
        arguments.warm_up_size,
        arguments.trace,
    )
    Path(arguments.result).write_text(json.dumps(expansion.__dict__))
    return 0


# ---- the parent: the embedded AWS, the files, the children, the table


def _configure(settings: Any) -> None:
    from eventrelay.actions import ActionStore
    from eventrelay.aws import dynamodb_client
    from eventrelay.connectors.models import ConnectorSpec
    from eventrelay.roots import AwsClients
    from eventrelay.roots.connectors import build_connector_services
    from eventrelay.rules import RuleStore

    dynamodb = dynamodb_client(settings.region)
    build_connector_services(settings, AwsClients.for_settings(settings)).store.create(
        TENANT,
        ConnectorSpec(name="tickets", base_url="http://127.0.0.1:9"),  # never called here
    )
    actions = ActionStore(settings.config_table, dynamodb)
    actions.create(
        TENANT,
        {
            "connector": "tickets",
            "name": "open-ticket",
            "method": "POST",
            "url": "/tickets",
            "payload": '{"id": "{{id}}", "title": "{{title}}", "amount": {{amount}}}',
            "fields": [{"name": "amount", "type": "Number"}],
        },
    )
    RuleStore(settings.config_table, dynamodb, actions).create(
        TENANT,
        {
            "name": RULE,
            "source": {"type": "dataset"},
            "action": "open-ticket",
            "mapping": {"id": "$.id", "title": "$.title", "amount": "$.amount"},
            "condition": {"path": "$.status", "op": "ne", "value": "closed"},
        },
    )


def _run_child(
    environment: dict[str, str], upload: Any, rows: int, body: bytes, warm_up: tuple[str, int], trace: bool
) -> Expansion:
    key = f"tenants/{TENANT}/rules/{RULE}/{rows}-{uuid.uuid4().hex[:8]}.csv"
    upload(key, body)
    with tempfile.TemporaryDirectory() as directory:
        result = Path(directory) / "expansion.json"
        argv = [
            sys.executable, "-m", "bench.dataset_bench", "--expand", key, "--size", str(len(body)),
            "--rows", str(rows), "--warm-up-key", warm_up[0], "--warm-up-size", str(warm_up[1]),
            "--result", str(result),
        ]  # fmt: skip
        if trace:
            argv.append("--trace")
        subprocess.run(
            argv,
            cwd=REPO_ROOT,
            env=environment,
            stdout=subprocess.DEVNULL,
            check=True,
            timeout=EXPAND_TIMEOUT_SECONDS,
        )
        return Expansion(**json.loads(result.read_text()))


def _parent(row_counts: tuple[int, ...], rounds: int) -> int:
    from eventrelay.aws import s3_client
    from eventrelay_cli.local.environment import LocalAws

    os.environ["MOTO_SQS_ENFORCE_STRICT_QUEUE_PURGE_BEHAVIOUR"] = "false"  # read by the moto server
    aws = LocalAws(
        template=REPO_ROOT / "template.yaml", stack_name="eventrelay-dataset-bench", use_dynamodb_local=True
    )
    aws.start()
    timed: dict[int, list[Expansion]] = {rows: [] for rows in row_counts}
    traced: dict[int, list[Expansion]] = {rows: [] for rows in row_counts}
    try:
        aws.export()
        settings = aws.settings
        _configure(settings)
        s3 = s3_client(settings.region)

        def upload(key: str, body: bytes) -> None:
            s3.put_object(Bucket=settings.datasets_bucket, Key=key, Body=body)

        # Each child expands a warm-up file first: a run per child, so each has a key of its own.
        warm_up_body = rows_file(WARM_UP_ROWS)
        environment = {**os.environ, **aws.environ(), "POWERTOOLS_TRACE_DISABLED": "true"}
        bodies = {rows: rows_file(rows) for rows in row_counts}
        for _ in range(rounds):
            for rows in row_counts:
                for trace, into in ((False, timed), (True, traced)):
                    warm_up = f"tenants/{TENANT}/rules/{RULE}/warm-up-{uuid.uuid4().hex[:8]}.csv"
                    upload(warm_up, warm_up_body)
                    into[rows].append(
                        _run_child(
                            environment, upload, rows, bodies[rows], (warm_up, len(warm_up_body)), trace
                        )
                    )
    finally:
        aws.stop()

    report = BenchReport(
        "datasets",
        f"dataset expander (CSV in moto's S3, DynamoDB Local, moto's SQS; 500-row pages; fresh process "
        f"per expansion, {rounds} round(s), sizes alternating; medians)",
    )
    report.details.update(row_counts=list(row_counts), rounds=rounds, warm_up_rows=WARM_UP_ROWS)
    peaks: dict[int, float] = {}
    for rows in row_counts:
        rates = [expansion.rows_per_second for expansion in timed[rows]]
        report.add(
            f"rows/s expanded, {rows:,} rows",
            statistics.median(rates),
            "rows/s",
            note=f"{timed[rows][0].pages} pages; the handler's calls only",
            samples=rates,
        )
    for rows in row_counts:
        peak_mib = [(expansion.traced_peak_bytes or 0) / 2**20 for expansion in traced[rows]]
        peaks[rows] = statistics.median(peak_mib)
        report.add(
            f"peak memory of the expansion, {rows:,} rows",
            peaks[rows],
            "MiB",
            note="tracemalloc peak from the notification to the last page",
            samples=peak_mib,
        )
    for rows in row_counts:
        rss_mib = [expansion.max_rss_kib / 1024 for expansion in timed[rows]]
        report.add(
            f"max RSS of the expander process, {rows:,} rows",
            statistics.median(rss_mib),
            "MiB",
            note="interpreter, boto3, handler and expansion",
            samples=rss_mib,
        )
    smallest, largest = min(row_counts), max(row_counts)
    report.ratio(
        f"peak memory {largest:,} / {smallest:,} rows",
        peaks[largest] / peaks[smallest],
        at_most=MEMORY_RATIO_TARGET,
        note=f"{largest // smallest}x the rows",
    )
    report.print_table()
    report.write()
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, nargs="*", help="row counts to compare (default 10000 100000)")
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    # The child's arguments (one expansion in a fresh process).
    parser.add_argument("--expand", metavar="KEY", help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--warm-up-key", help=argparse.SUPPRESS)
    parser.add_argument("--warm-up-size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.expand:
        arguments.key = arguments.expand
        arguments.rows = arguments.rows[0]
        return _child(arguments)
    return _parent(tuple(arguments.rows or ROW_COUNTS), arguments.rounds)


if __name__ == "__main__":
    sys.exit(main())
