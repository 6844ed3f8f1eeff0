"""The batch processor runs a batch's records concurrently and still reports each failure on its own."""

from __future__ import annotations

import json
import threading
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
    """Holds each record until `together` records are being handled at once (gives up after 10 s)."""

    def __init__(self, together: int) -> None:
        self.together = together
        self.condition = threading.Condition()
        self.now = 0
        self.peak = 0
        self.gave_up = False
        self.threads: set[threading.Thread] = set()

    def handle(self, record: SQSRecord) -> None:
        with self.condition:
            self.threads.add(threading.current_thread())
            self.now += 1
            self.peak = max(self.peak, self.now)
            self.condition.notify_all()
            if not self.condition.wait_for(
                lambda: self.now >= self.together or self.peak >= self.together, 10
            ):
                self.gave_up = True
            self.now -= 1
        if json.loads(record.body).get("fail"):
            raise RuntimeError("cannot process")


def test_records_run_concurrently_and_failures_are_reported_per_record() -> None:
    # Given a batch of 10 records, two of which cannot be processed
    tracker = Tracker(together=10)
    bodies = [json.dumps({"n": i, "fail": i in (2, 7)}) for i in range(10)]
    # When the batch is processed
    response = process_partial_response(
        event=sqs_event(bodies),
        record_handler=tracker.handle,
        processor=ConcurrentBatchProcessor(max_concurrency=10),
    )
    # Then all ten records were being handled at the same time (one at a time, none would see the others)
    assert (tracker.peak, tracker.gave_up) == (10, False)
    # And exactly the two failed records are reported
    assert sorted(f["itemIdentifier"] for f in response["batchItemFailures"]) == ["m-2", "m-7"]


def test_concurrency_is_bounded() -> None:
    # Records wait for three at once: a bound above three would let more in together
    tracker = Tracker(together=3)
    process_partial_response(
        event=sqs_event([json.dumps({"n": i}) for i in range(6)]),
        record_handler=tracker.handle,
        processor=ConcurrentBatchProcessor(max_concurrency=3),
    )
    assert (tracker.peak, tracker.gave_up) == (3, False)


def test_a_later_batch_runs_on_the_threads_of_the_first() -> None:
    # Given a processor that has processed a batch of 10 records, all at once
    processor = ConcurrentBatchProcessor(max_concurrency=10)
    first, second = Tracker(together=10), Tracker(together=10)
    bodies = [json.dumps({"n": i}) for i in range(10)]
    try:
        process_partial_response(event=sqs_event(bodies), record_handler=first.handle, processor=processor)
        # When it processes the next batch
        process_partial_response(event=sqs_event(bodies), record_handler=second.handle, processor=processor)
    finally:
        processor.close()
    # Then the second batch ran concurrently on the threads of the first: no thread was started for it
    assert (second.peak, second.gave_up) == (10, False)
    assert len(first.threads) == 10
    assert second.threads == first.threads
