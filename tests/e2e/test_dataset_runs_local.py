"""Dataset runs on the local stack, as a user starts them: any S3 client's upload to the datasets
bucket (moto sends no notification; the local stack's poller does), and `eventrelay dataset run`.

A real HTTP server on 127.0.0.1 plays the ticket API; every row must reach it exactly once: for the
issue's 1,000-row file, and when the expander's process is killed in the middle of a file.
"""

from __future__ import annotations

import json
import os
import signal
from collections import Counter
from typing import Any

import boto3
import pytest

from eventrelay.datasets.models import Run, RunState
from eventrelay.datasets.store import RunStore
from tests.support.datasets import body_of, rows_csv, thousand_row, thousand_row_line, thousand_rows
from tests.support.http_servers import RecordingServer
from tests.support.local_stack import RunningStack
from tests.support.waiting import process_is_gone, wait_until

CONFIG = """
tenant: demo
connectors:
  - name: tickets-api-NAME
    baseUrl: BASE_URL
    auth: {type: token, headers: {X-Api-Key: {env: TICKETS_TOKEN}}}
actions:
  - name: open-ticket-NAME
    connector: tickets-api-NAME
    method: POST
    url: tickets
    payload: '{"id": "{{id}}", "title": "{{title}}", "amount": {{amount}}}'
    fields:
      - {name: amount, type: Number}
rules:
  - name: NAME
    source: {type: dataset}
    action: open-ticket-NAME
    mapping: {id: $.id, title: $.title, amount: $.amount}
"""


# The issue's condition: a closed escalation opens no ticket.
SKIP_CLOSED = "{path: $.status, op: ne, value: closed}"
EXPANDER = "DatasetExpanderFunction"
# The expander's page (DEFAULT_PAGE_ROWS): a file of several pages is read by several invocations.
PAGE_ROWS = 500
# The setting naming the dataset deliveries queue: one message per row to call.
ROWS_QUEUE = "EVENTRELAY_DATASET_DELIVERIES_QUEUE_URL"


def apply_dataset_rule(
    local_stack: RunningStack, name: str, base_url: str, condition: str | None = None
) -> None:
    config = local_stack.state_dir / f"{name}.yaml"
    text = CONFIG.replace("NAME", name).replace("BASE_URL", base_url)
    if condition is not None:
        text += f"    condition: {condition}\n"
    config.write_text(text)
    applied = local_stack.cli("apply", "-f", config.name, env={"TICKETS_TOKEN": "tickets-token-e2e"})
    assert applied.returncode == 0, applied.stderr


def ticket_ids(target: RecordingServer) -> Counter[str]:
    return Counter(json.loads(request.body)["id"] for request in target.requests)


def runs(local_stack: RunningStack) -> list[dict[str, Any]]:
    listed = local_stack.cli("--json", "dataset", "list", "demo")
    assert listed.returncode == 0, listed.stderr
    return list(json.loads(listed.stdout)["runs"])


def aws(local_stack: RunningStack, service: str) -> Any:
    """A plain boto3 client of the stack's embedded AWS (DynamoDB Local for dynamodb)."""
    endpoint = local_stack.environ["AWS_ENDPOINT_URL"]
    if service == "dynamodb":
        endpoint = local_stack.environ.get("AWS_ENDPOINT_URL_DYNAMODB", endpoint)
    return boto3.client(  # type: ignore[call-overload]
        service,
        region_name=local_stack.environ["AWS_REGION"],
        endpoint_url=endpoint,
        aws_access_key_id=local_stack.environ["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=local_stack.environ["AWS_SECRET_ACCESS_KEY"],
    )


def upload(local_stack: RunningStack, key: str, body: bytes) -> None:
    aws(local_stack, "s3").put_object(
        Bucket=local_stack.environ["EVENTRELAY_DATASETS_BUCKET"], Key=key, Body=body
    )


class StackRuns:
    """The stack's runs read straight from its deliveries table: cheap enough to poll closely."""

    def __init__(self, local_stack: RunningStack) -> None:
        self.store = RunStore(
            local_stack.environ["EVENTRELAY_DELIVERIES_TABLE"], aws(local_stack, "dynamodb")
        )

    def of_file(self, key: str) -> Run | None:
        return next((run for run in self.store.list("demo") if run.key == key), None)

    def finished(self, key: str) -> Run | None:
        run = self.of_file(key)
        return run if run is not None and run.state.finished else None


def queue_counts(local_stack: RunningStack, setting: str) -> dict[str, int]:
    """Messages on the stack's queue named by `setting`: waiting, in flight and delayed."""
    attributes = aws(local_stack, "sqs").get_queue_attributes(
        QueueUrl=local_stack.environ[setting],
        AttributeNames=[
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        ],
    )["Attributes"]
    return {
        "waiting": int(attributes["ApproximateNumberOfMessages"]),
        "in flight": int(attributes["ApproximateNumberOfMessagesNotVisible"]),
        "delayed": int(attributes["ApproximateNumberOfMessagesDelayed"]),
    }


def no_row_waiting_or_in_flight(local_stack: RunningStack) -> bool:
    counts = queue_counts(local_stack, ROWS_QUEUE)
    return counts["waiting"] == 0 and counts["in flight"] == 0


def test_an_object_put_with_a_plain_s3_client_starts_a_run(local_stack: RunningStack) -> None:
    with RecordingServer() as target:
        # Given a dataset rule
        apply_dataset_rule(local_stack, "plain-upload", target.url("/api"))
        # When any S3 client puts a file under the rule's key (no notification from moto's S3)
        s3 = aws(local_stack, "s3")
        key = "tenants/demo/rules/plain-upload/escalations.csv"
        body = rows_csv(["id", "title", "amount"], [[f"P-{n}", f"Plain {n}", str(n)] for n in (1, 2, 3)])
        s3.put_object(Bucket=local_stack.environ["EVENTRELAY_DATASETS_BUCKET"], Key=key, Body=body)

        # Then a run of that rule starts on it and ends SUCCEEDED, every row called once
        def finished_run() -> dict[str, Any] | None:
            mine = [run for run in runs(local_stack) if run["file"]["key"] == key]
            return mine[0] if mine and mine[0]["state"] == "SUCCEEDED" else None

        wait_until(lambda: finished_run() is not None, timeout=60, what="the upload's run SUCCEEDED")
        run = finished_run()
        assert run is not None
        assert (run["rule"], run["startedBy"], run["rows"], run["delivered"]) == (
            "plain-upload",
            "upload",
            3,
            3,
        )
        assert ticket_ids(target) == Counter({"P-1": 1, "P-2": 1, "P-3": 1})


def test_dataset_run_uploads_follows_and_reports_the_bad_rows(local_stack: RunningStack) -> None:
    with RecordingServer() as target:
        # Given a dataset rule and a 50-row CSV whose rows 12 and 40 have an amount that is no number
        apply_dataset_rule(local_stack, "cli-run", target.url("/api"))
        bad = {12, 40}
        rows = [[f"C-{n}", f"Row {n}", "many" if n in bad else str(n)] for n in range(1, 51)]
        (local_stack.state_dir / "rows.csv").write_bytes(rows_csv(["id", "title", "amount"], rows))
        # When `eventrelay dataset run` uploads it and follows the run
        ran = local_stack.cli(
            "--json", "dataset", "run", "demo", "cli-run", "--file", "rows.csv", "--timeout", "50"
        )
        # Then it ends PARTIAL_SUCCESS (exit code 1) after drawing its progress on stderr
        assert ran.returncode == 1, ran.stderr
        assert "PARTIAL_SUCCESS" in ran.stderr
        followed = json.loads(ran.stdout)
        assert followed["state"] == "PARTIAL_SUCCESS"
        # and the target got the 48 good rows, each exactly once
        assert ticket_ids(target) == Counter({f"C-{n}": 1 for n in range(1, 51) if n not in bad})
    # And `dataset show` reports the counts and the two bad rows' line numbers (the header is line 1)
    shown = local_stack.cli("--json", "dataset", "show", "demo", followed["runId"])
    assert shown.returncode == 0, shown.stderr
    run = json.loads(shown.stdout)
    assert (run["rows"], run["skipped"], run["invalid"], run["delivered"], run["failed"], run["pending"]) == (
        50,
        0,
        2,
        48,
        0,
        0,
    )
    assert [error["line"] for error in run["errors"]] == [13, 41]
    assert run["file"]["key"].startswith("tenants/demo/rules/cli-run/")
    assert run["file"]["key"].endswith("-rows.csv")
    # And the run's deliveries are found by `delivery list --run`: one per good row, all SUCCEEDED
    listed = local_stack.cli(
        "--json", "delivery", "list", "demo", "--run", followed["runId"], "--limit", "100"
    )
    assert listed.returncode == 0, listed.stderr
    deliveries = json.loads(listed.stdout)["deliveries"]
    assert len(deliveries) == 48
    assert {(d["state"], d["eventId"], d["rule"]) for d in deliveries} == {
        ("SUCCEEDED", followed["runId"], "cli-run")
    }


# 987 real deliveries through the stack's runner: on a loaded machine more than the suite's 300 s.
@pytest.mark.timeout(600)
def test_the_thousand_row_csv_uploaded_to_the_stack_calls_each_delivered_row_once_with_its_values(
    local_stack: RunningStack,
) -> None:
    runs = StackRuns(local_stack)
    key = "tenants/demo/rules/thousand/escalations.csv"
    with RecordingServer() as target:
        # Given a dataset rule that skips closed rows, and the 1,000-row CSV (a BOM, quoted commas,
        # embedded newlines, 3 rows whose amount is no number, 10 closed rows)
        apply_dataset_rule(local_stack, "thousand", target.url("/api"), condition=SKIP_CLOSED)
        body, invalid, closed = thousand_rows()
        # When it is uploaded to the stack's datasets bucket
        upload(local_stack, key, body)
        # Then its run finishes, and no row is left on the dataset deliveries queue
        wait_until(lambda: runs.finished(key) is not None, timeout=480, interval=0.2, what="the run finished")
        wait_until(
            lambda: not any(queue_counts(local_stack, ROWS_QUEUE).values()),
            timeout=60,
            interval=0.2,
            what="the dataset deliveries queue is idle",
        )
        requests = list(target.requests)
    # And the target got exactly 987 calls: one per valid open row, each with that row's values
    delivered = [n for n in range(1, 1001) if n not in invalid and n not in closed]
    expected = {}
    for number in delivered:
        row_id, title, amount, _status = thousand_row(number)
        expected[row_id] = {"id": row_id, "title": title, "amount": int(amount)}
    assert len(requests) == 987
    assert Counter(body_of(request)["id"] for request in requests) == Counter(expected.keys())
    assert {body_of(request)["id"]: body_of(request) for request in requests} == expected
    assert {(request.method, request.path) for request in requests} == {("POST", "/api/tickets")}
    # And the job reports 1000 rows, 10 skipped, 3 invalid (with their lines), 987 delivered
    run = runs.finished(key)
    assert run is not None
    shown = local_stack.cli("--json", "dataset", "show", "demo", run.run_id)
    assert shown.returncode == 0, shown.stderr
    view = json.loads(shown.stdout)
    assert view["state"] == "PARTIAL_SUCCESS"
    counts = ("rows", "skipped", "invalid", "delivered", "failed", "pending")
    assert tuple(view[name] for name in counts) == (1000, 10, 3, 987, 0, 0)
    assert [(error["row"], error["line"]) for error in view["errors"]] == [
        (number, thousand_row_line(number)) for number in sorted(invalid)
    ]


def expander_failures(local_stack: RunningStack) -> int:
    """Invocations of the expander that ended because its process died (the stack prints each)."""
    return sum(
        f"{EXPANDER} invocation" in line and "Runtime.ExitError" in line for line in list(local_stack.output)
    )


def kill_the_expander_mid_file(local_stack: RunningStack, runs: StackRuns, key: str) -> list[int]:
    """SIGKILL every instance of the expander while it reads a page after the first of `key`'s file;
    the pids killed. Tried again on a later page if the kill fell between two invocations."""
    sqs = aws(local_stack, "sqs")
    pages_queue = local_stack.environ["EVENTRELAY_DATASET_RUNS_QUEUE_URL"]
    failures_before = expander_failures(local_stack)
    killed: list[int] = []
    rows_read = 0  # by the pages recorded when the last kill was sent

    def page_under_way() -> bool:
        nonlocal rows_read
        run = runs.of_file(key)
        if run is None or run.expanded or run.position.rows < max(PAGE_ROWS, rows_read + 1):
            return False
        counts = sqs.get_queue_attributes(
            QueueUrl=pages_queue,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        # The next page's message taken by the expander, none waiting: an invocation is under way.
        if (
            counts["ApproximateNumberOfMessagesNotVisible"] != "0"
            and counts["ApproximateNumberOfMessages"] == "0"
        ):
            rows_read = run.position.rows
            return True
        return False

    def killed_or_recorded() -> bool:
        run = runs.of_file(key)
        recorded = run is not None and (run.expanded or run.position.rows > rows_read)
        return expander_failures(local_stack) > failures_before or recorded

    while True:
        wait_until(page_under_way, timeout=120, interval=0.005, what="a page after the first is under way")
        pids = local_stack.function_instance_pids(EXPANDER)
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        killed.extend(pids)
        # The kill landed mid-invocation if the stack reports it; it missed if a page was recorded.
        wait_until(
            killed_or_recorded, timeout=120, interval=0.05, what="the killed page failed or was recorded"
        )
        if expander_failures(local_stack) > failures_before:
            return killed
        run = runs.of_file(key)
        assert run is not None
        assert not run.expanded, "every kill fell between two invocations"


def test_the_expander_killed_mid_file_restarts_on_a_fresh_instance_and_calls_every_row_once(
    local_stack: RunningStack,
) -> None:
    sqs = aws(local_stack, "sqs")
    pages_queue = local_stack.environ["EVENTRELAY_DATASET_RUNS_QUEUE_URL"]
    template_visibility = sqs.get_queue_attributes(
        QueueUrl=pages_queue, AttributeNames=["VisibilityTimeout"]
    )["Attributes"]["VisibilityTimeout"]
    # A killed invocation's message returns after the queue's visibility timeout: the template's
    # is six times the expander's 120 s timeout (as Lambda asks), 20 s here so the test waits less.
    sqs.set_queue_attributes(QueueUrl=pages_queue, Attributes={"VisibilityTimeout": "20"})
    runs = StackRuns(local_stack)
    key = "tenants/demo/rules/killed/rows.csv"
    total = 3 * PAGE_ROWS + 100  # four pages: three chances for the kill to land mid-page
    # Every sixth row is open, the others closed: every page is read and counted, while the
    # runner (the slow part on a loaded machine) calls a sixth of them.
    opened = {number for number in range(1, total + 1) if number % 6 == 0}
    try:
        with RecordingServer() as target:
            # Given a dataset rule that skips closed rows, and a file of several pages
            apply_dataset_rule(local_stack, "killed", target.url("/api"), condition=SKIP_CLOSED)
            rows = [
                [f"K-{n}", f"Killed {n}", str(n), "open" if n in opened else "closed"]
                for n in range(1, total + 1)
            ]
            upload(local_stack, key, rows_csv(["id", "title", "amount", "status"], rows))
            # When the expander's process is killed (SIGKILL) in the middle of the file
            killed = kill_the_expander_mid_file(local_stack, runs, key)
            # Then the killed page's message comes back, a fresh instance reads on, and the run ends
            wait_until(
                lambda: runs.finished(key) is not None, timeout=240, interval=0.2, what="the run finished"
            )
            # and every row message sent twice (the killed page's rows, sent again) has been handled.
            # (Only those that came while their row's call was under way are left, delayed until
            # its lease ends: the runner then finds the row delivered and calls nothing.)
            wait_until(
                lambda: no_row_waiting_or_in_flight(local_stack),
                timeout=60,
                interval=0.2,
                what="no row message is waiting or in flight",
            )
            calls = Counter(body_of(request)["id"] for request in target.requests)
    finally:
        sqs.set_queue_attributes(QueueUrl=pages_queue, Attributes={"VisibilityTimeout": template_visibility})
    # And every open row was called exactly once, no closed one at all
    assert calls == Counter({f"K-{n}": 1 for n in sorted(opened)})
    # And the run counted every row once, the killed page's too
    run = runs.finished(key)
    assert run is not None
    assert (run.state, run.rows, run.skipped, run.delivered, run.invalid, run.failed, run.pending) == (
        RunState.SUCCEEDED,
        total,
        total - len(opened),
        len(opened),
        0,
        0,
        0,
    )
    # And the killed processes are gone: the expander runs in a fresh instance (a new process)
    assert all(process_is_gone(pid) for pid in killed)
    survivors = local_stack.function_instance_pids(EXPANDER)
    assert survivors
    assert not set(survivors) & set(killed)
