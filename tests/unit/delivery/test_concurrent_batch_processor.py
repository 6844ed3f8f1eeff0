"""The batch processor runs a batch's records concurrently and still reports each failure on its own."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from aws_lambda_powertools.utilities.batch import process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from eventrelay.delivery.batch import ConcurrentBatchProcessor


def sqs_event(bodies: list[str]) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": f"m-{i}",
                "receiptHandle": f"h-{i}",
                "body": body,
                "attributes": {},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q",
                "awsRegion": "us-east-1",
            }
            for i, body in enumerate(bodies)
        ]
    }


class Tracker:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.now = 0
        self.peak = 0

    def handle(self, record: SQSRecord) -> None:
        with self.lock:
            self.now += 1
            self.peak = max(self.peak, self.now)
        time.sleep(0.1)  # the record's I/O (a call to a target): long enough for records to overlap
        with self.lock:
            self.now -= 1
        if json.loads(record.body).get("fail"):
            raise RuntimeError("cannot process")


def test_records_run_concurrently_and_failures_are_reported_per_record() -> None:
    # Given a batch of 10 records, two of which cannot be processed
    tracker = Tracker()
    bodies = [json.dumps({"n": i, "fail": i in (2, 7)}) for i in range(10)]
    started = time.monotonic()
    # When the batch is processed
    response = process_partial_response(
        event=sqs_event(bodies),
        record_handler=tracker.handle,
        processor=ConcurrentBatchProcessor(max_concurrency=10),
    )
    elapsed = time.monotonic() - started
    # Then the records ran at the same time (about one record's time, not ten)
    assert tracker.peak == 10
    assert elapsed < 0.6
    # And exactly the two failed records are reported
    assert sorted(f["itemIdentifier"] for f in response["batchItemFailures"]) == ["m-2", "m-7"]


def test_concurrency_is_bounded() -> None:
    tracker = Tracker()
    process_partial_response(
        event=sqs_event([json.dumps({"n": i}) for i in range(6)]),
        record_handler=tracker.handle,
        processor=ConcurrentBatchProcessor(max_concurrency=3),
    )
    assert tracker.peak == 3
