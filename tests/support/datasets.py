"""Dataset runs as tests drive them: the expander and the runner on queues of the test's own,
moto's S3, DynamoDB Local, and a recording HTTP server as the action's target."""

from __future__ import annotations

import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from eventrelay.aws import s3_client
from eventrelay.datasets.expander import DatasetExpander
from eventrelay.datasets.models import Run
from eventrelay.delivery.runner import ActionRunner
from eventrelay.roots import AwsClients
from eventrelay.roots.datasets import build_dataset_expander
from eventrelay.roots.delivery import build_delivery_services
from eventrelay.settings import Settings
from eventrelay_cli.local.notifications import object_created_event
from tests.support.delivery import Harness


def rows_csv(header: list[str], rows: list[list[str]], bom: bool = False) -> bytes:
    """RFC 4180 text: every field quoted, quotes doubled, CRLF line ends."""

    def line(fields: list[str]) -> str:
        return ",".join('"' + value.replace('"', '""') + '"' for value in fields) + "\r\n"

    text = line(header) + "".join(line(row) for row in rows)
    return (b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8")


# The 1,000-row file: every odd title holds a comma, every even one a newline; three rows
# have an amount that is no number, ten are closed (a rule's condition `status ne closed` skips them).
THOUSAND_ROWS_HEADER = ["id", "title", "amount", "status"]
THOUSAND_ROWS_INVALID = frozenset({17, 500, 999})
THOUSAND_ROWS_CLOSED = frozenset(range(100, 110))


def thousand_row(number: int) -> list[str]:
    """Row `number` (1-based) of the 1,000-row file, as its fields."""
    title = f"Escalation {number}, urgent" if number % 2 else f"Line one of {number}\nline two"
    amount = "not-a-number" if number in THOUSAND_ROWS_INVALID else str(number)
    return [f"E-{number}", title, amount, "closed" if number in THOUSAND_ROWS_CLOSED else "open"]


def thousand_rows() -> tuple[bytes, set[int], set[int]]:
    """1,000 rows: quoted commas, embedded newlines, a BOM; 3 invalid amounts, 10 closed rows."""
    rows = [thousand_row(number) for number in range(1, 1001)]
    body = rows_csv(THOUSAND_ROWS_HEADER, rows, bom=True)
    return body, set(THOUSAND_ROWS_INVALID), set(THOUSAND_ROWS_CLOSED)


def thousand_row_line(number: int) -> int:
    """The line row `number` starts on: the header is line 1 and every even row takes two lines."""
    return 2 + (number - 1) + (number - 1) // 2


@dataclass
class DatasetRig:
    """Per test: its own events, rows and pages queues; the expander and a runner that use them."""

    harness: Harness
    page_rows: int = 100
    settings: Settings = field(init=False)
    expander: DatasetExpander = field(init=False)
    runner: ActionRunner = field(init=False)
    s3: Any = field(init=False)
    queues: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        base = self.harness.settings
        sqs = self.harness.sqs
        self.queues = {
            name: sqs.create_queue(
                QueueName=f"{name}-{uuid.uuid4().hex[:10]}", Attributes={"VisibilityTimeout": "30"}
            )["QueueUrl"]
            for name in ("events", "rows", "pages")
        }
        self.settings = base.model_copy(
            update={
                "events_queue_url": self.queues["events"],
                "dataset_deliveries_queue_url": self.queues["rows"],
                "dataset_runs_queue_url": self.queues["pages"],
            }
        )
        clients = AwsClients.for_settings(self.settings)
        self.s3 = s3_client(self.settings.region)
        self.expander = build_dataset_expander(
            self.settings, clients, self.s3, self.harness.clock, page_rows=self.page_rows
        )
        self.runner = build_delivery_services(
            self.settings,
            clients,
            self.harness.clock,
            policy=self.harness.policy,
            connectors=self.harness.connector_services,
        ).runner

    def close(self) -> None:
        self.runner.close()
        for url in self.queues.values():
            self.harness.sqs.delete_queue(QueueUrl=url)

    # ---- files

    def upload(self, key: str, body: bytes) -> dict[str, Any]:
        """Put the object and return the S3 notification AWS would send for it."""
        bucket = self.settings.datasets_bucket
        answer = self.s3.put_object(Bucket=bucket, Key=key, Body=body)
        return object_created_event(
            bucket,
            key,
            answer["ETag"].strip('"'),
            len(body),
            answer.get("VersionId"),
            self.settings.region,
            datetime.now(UTC),
        )

    # ---- queues

    def receive(self, name: str, wanted: int = 10) -> list[dict[str, Any]]:
        answer = self.harness.sqs.receive_message(
            QueueUrl=self.queues[name], MaxNumberOfMessages=wanted, WaitTimeSeconds=0
        )
        return list(answer.get("Messages", []))

    def delete(self, name: str, messages: list[dict[str, Any]]) -> None:
        for message in messages:
            self.harness.sqs.delete_message(
                QueueUrl=self.queues[name], ReceiptHandle=message["ReceiptHandle"]
            )

    def expand_one_page(self) -> bool:
        """Hand the expander one message of its queue; False when there was none."""
        messages = self.receive("pages", 1)
        for message in messages:
            self.expander.handle_message(message["Body"])
        self.delete("pages", messages)
        return bool(messages)

    def run_rows(self) -> int:
        """Hand the runner every row message until the rows queue is empty; the number handled."""
        handled = 0
        with ThreadPoolExecutor(10) as pool:  # a Lambda batch's records run concurrently
            while messages := self.receive("rows"):
                batch = self.runner.batch()
                bodies = [message["Body"] for message in messages]
                list(pool.map(self.runner.handle_message, bodies, [batch] * len(bodies)))
                self.delete("rows", messages)
                handled += len(messages)
        return handled

    def pending(self, name: str) -> int:
        """Messages on the queue: visible, in flight or delayed (a retry waits out its delay)."""
        attributes = self.harness.sqs.get_queue_attributes(
            QueueUrl=self.queues[name],
            AttributeNames=[
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed",
            ],
        )["Attributes"]
        return sum(int(value) for value in attributes.values())

    def drain(self, timeout: float = 120) -> None:
        """Expand every page and run every row, as the two functions would, until both queues are
        empty: a row retried after a failed call (under load, a refused connection) comes back on
        the rows queue after its delay, and is run then."""
        deadline = time.monotonic() + timeout
        while True:
            expanded = self.expand_one_page()
            if self.run_rows() or expanded:
                continue
            if not (self.pending("pages") or self.pending("rows")):
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"the dataset queues did not drain within {timeout} s")
            time.sleep(0.2)  # polling for a delayed message to become visible

    def run(self, run_id: str) -> Run:
        run = self.expander.runs.get(run_id)
        assert run is not None, f"no run {run_id}"
        return run

    def only_run(self, tenant_id: str) -> Run:
        [run] = self.expander.runs.list(tenant_id)
        return run


def body_of(request: Any) -> dict[str, Any]:
    parsed = json.loads(request.body)
    assert isinstance(parsed, dict)
    return parsed


__all__ = [
    "THOUSAND_ROWS_CLOSED",
    "THOUSAND_ROWS_HEADER",
    "THOUSAND_ROWS_INVALID",
    "DatasetRig",
    "body_of",
    "rows_csv",
    "thousand_row",
    "thousand_row_line",
    "thousand_rows",
]
