"""The local SQS event source against moto server: batches, partial failures, redelivery, DLQ."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes import SQSEvent
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from eventrelay.aws import sqs_client
from eventrelay_cli.local.environment import LocalAws, unique_name
from eventrelay_cli.local.lambda_runtime import LocalFunction
from eventrelay_cli.local.sqs_event_source import SqsEventSource
from tests.support.waiting import wait_until

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

SAMPLE = json.loads(
    (Path(__file__).resolve().parents[2] / "unit" / "local" / "sqs_event_sample.json").read_text(
        encoding="utf-8"
    )
)
VISIBILITY_TIMEOUT = 1
MAX_RECEIVE_COUNT = 2


@dataclass
class ThrowawayQueue:
    url: str
    arn: str
    dlq_url: str


def messages_left(sqs: SQSClient, url: str) -> int:
    """Messages visible or in flight: 0 means every message was deleted, none can come back."""
    visible, in_flight = message_counts(sqs, url)
    return visible + in_flight


def message_counts(sqs: SQSClient, url: str) -> tuple[int, int]:
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]), int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


@pytest.fixture
def sqs(local_aws: LocalAws) -> SQSClient:
    return sqs_client(local_aws.settings.region)


@pytest.fixture
def queue(sqs: SQSClient) -> Iterator[ThrowawayQueue]:
    """A throwaway queue of this test: 1 s visibility, redrive to its own DLQ after 2 receives."""
    dlq_url = sqs.create_queue(QueueName=unique_name("local-es-dlq"))["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    url = sqs.create_queue(
        QueueName=unique_name("local-es"),
        Attributes={
            "VisibilityTimeout": str(VISIBILITY_TIMEOUT),
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": MAX_RECEIVE_COUNT}
            ),
        },
    )["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    yield ThrowawayQueue(url, arn, dlq_url)
    sqs.delete_queue(QueueUrl=url)
    sqs.delete_queue(QueueUrl=dlq_url)


def send(sqs: SQSClient, url: str, *bodies: str) -> None:
    sqs.send_message_batch(
        QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": b} for i, b in enumerate(bodies)]
    )


def consumer(handler: Any, **options: Any) -> LocalFunction:
    """The function under the queue; its timeout fits the 1 s visibility timeout, as Lambda requires."""
    return LocalFunction.from_handler("Consumer", handler, timeout_seconds=VISIBILITY_TIMEOUT, **options)


class Deliveries:
    """A handler remembering what it saw: (body, ApproximateReceiveCount) per record, thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.seen: list[tuple[str, str]] = []
        self.events: list[dict[str, Any]] = []

    def record(self, event: dict[str, Any]) -> None:
        with self._lock:
            self.events.append(event)
            self.seen.extend(
                (r["body"], r["attributes"]["ApproximateReceiveCount"]) for r in event["Records"]
            )

    def __call__(self, event: dict[str, Any], context: Any) -> None:
        self.record(event)

    def count(self, body: str) -> int:
        with self._lock:
            return sum(1 for seen_body, _ in self.seen if seen_body == body)


def test_a_partial_batch_failure_redelivers_only_the_failed_message(
    sqs: SQSClient, queue: ThrowawayQueue
) -> None:
    # Given a Powertools batch handler that fails "bad" on its first delivery only
    deliveries = Deliveries()

    def make_handler() -> Any:
        processor = BatchProcessor(event_type=EventType.SQS)

        def record_handler(record: SQSRecord) -> None:
            if record.body == "bad" and record.attributes.approximate_receive_count == "1":
                raise ValueError("first attempt fails")

        def handler(event: dict[str, Any], context: Any) -> Any:
            deliveries.record(event)
            return process_partial_response(event=event, record_handler=record_handler, processor=processor)

        return handler

    send(sqs, queue.url, "good-1", "bad", "good-2")
    source = SqsEventSource(
        queue.url,
        LocalFunction("Batch", make_handler, timeout_seconds=VISIBILITY_TIMEOUT),
        sqs=sqs,
        report_batch_item_failures=True,
        concurrency=1,
    )
    # When the event source runs until "bad" was redelivered and every message was deleted (a
    # deleted message cannot come back, so what was delivered by then is all there will be)
    with source:
        wait_until(lambda: deliveries.count("bad") == 2 and messages_left(sqs, queue.url) == 0)
    # Then the good messages were delivered once and deleted; only "bad" came back (receive count 2)
    assert Counter(deliveries.seen) == Counter(
        {("good-1", "1"): 1, ("good-2", "1"): 1, ("bad", "1"): 1, ("bad", "2"): 1}
    )
    assert source.stats.deleted == 3
    assert messages_left(sqs, queue.url) == 0


def test_a_handler_that_raises_gets_the_whole_batch_back(sqs: SQSClient, queue: ThrowawayQueue) -> None:
    # Given a handler that raises whenever a batch holds a first delivery
    deliveries = Deliveries()

    def handler(event: dict[str, Any], context: Any) -> None:
        deliveries.record(event)
        if any(r["attributes"]["ApproximateReceiveCount"] == "1" for r in event["Records"]):
            raise RuntimeError("whole batch fails")

    send(sqs, queue.url, "a", "b", "c")
    source = SqsEventSource(
        queue.url, consumer(handler), sqs=sqs, report_batch_item_failures=True, concurrency=1
    )
    # When it runs until every message was seen a second time
    with source:
        wait_until(
            lambda: all(deliveries.count(body) == 2 for body in "abc") and messages_left(sqs, queue.url) == 0
        )
    # Then nothing was deleted after the failure: all three came back after the visibility timeout
    assert sorted(deliveries.seen) == [(b, n) for b in "abc" for n in ("1", "2")]
    assert source.stats.failures >= 1
    assert source.stats.deleted == 3


def test_a_message_that_keeps_failing_lands_in_the_dead_letter_queue(
    sqs: SQSClient, queue: ThrowawayQueue
) -> None:
    # Given a handler that always fails
    deliveries = Deliveries()

    def handler(event: dict[str, Any], context: Any) -> None:
        deliveries.record(event)
        raise RuntimeError("always fails")

    send(sqs, queue.url, "poison")
    dead: list[str] = []

    def in_dlq() -> bool:
        received = sqs.receive_message(QueueUrl=queue.dlq_url, WaitTimeSeconds=0).get("Messages", [])
        dead.extend(m["Body"] for m in received)
        return bool(dead)

    # When the event source runs until the queue's redrive policy gives up on it
    with SqsEventSource(queue.url, consumer(handler), sqs=sqs, concurrency=1) as source:
        wait_until(in_dlq, timeout=15, interval=0.2)
    # Then it was tried maxReceiveCount times, then moved to the DLQ, and the source queue is empty
    assert dead == ["poison"]
    assert deliveries.seen == [("poison", "1"), ("poison", "2")]
    assert source.stats.failures == MAX_RECEIVE_COUNT
    assert messages_left(sqs, queue.url) == 0


def test_the_event_has_lambdas_shape(sqs: SQSClient, queue: ThrowawayQueue, local_aws: LocalAws) -> None:
    # Given one message with string, number and binary attributes and one without attributes
    sqs.send_message(
        QueueUrl=queue.url,
        MessageBody='{"orderId": "o-1"}',
        MessageAttributes={
            "myAttribute": {"DataType": "String", "StringValue": "myValue"},
            "count": {"DataType": "Number", "StringValue": "3"},
            "blob": {"DataType": "Binary", "BinaryValue": b"\x00\xff"},
        },
    )
    sqs.send_message(QueueUrl=queue.url, MessageBody="plain")
    deliveries = Deliveries()
    # When the event source delivers them
    with SqsEventSource(
        queue.url, consumer(deliveries), sqs=sqs, batch_size=10, maximum_batching_window_seconds=1
    ):
        wait_until(lambda: len(deliveries.seen) == 2)
    records = {r["body"]: r for event in deliveries.events for r in event["Records"]}
    sample_record = SAMPLE["Records"][0]
    # Then every record has exactly the keys of a real Lambda SQS record
    assert set(deliveries.events[0]) == set(SAMPLE)
    for record in records.values():
        assert list(record) == list(sample_record)
        assert list(record["attributes"]) == list(sample_record["attributes"])
        assert record["eventSource"] == "aws:sqs"
        assert record["eventSourceARN"] == queue.arn
        assert record["awsRegion"] == local_aws.settings.region
        assert record["md5OfBody"] == hashlib.md5(record["body"].encode()).hexdigest()  # noqa: S324 - SQS's digest
    # And message attributes are in Lambda's shape
    attributes = records['{"orderId": "o-1"}']["messageAttributes"]
    assert attributes["myAttribute"] == sample_record["messageAttributes"]["myAttribute"]
    assert attributes["count"] == {
        "stringValue": "3",
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": "Number",
    }
    assert attributes["blob"] == {
        "binaryValue": "AP8=",
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": "Binary",
    }
    assert isinstance(records['{"orderId": "o-1"}']["md5OfMessageAttributes"], str)
    assert records["plain"]["messageAttributes"] == {}
    assert records["plain"]["md5OfMessageAttributes"] is None
    # And Powertools reads it as an SQS event
    parsed = next(SQSEvent(deliveries.events[0]).records)
    assert parsed.event_source_arn == queue.arn
    assert parsed.attributes.approximate_receive_count == "1"


def test_without_report_batch_item_failures_a_returned_list_is_ignored(
    sqs: SQSClient, queue: ThrowawayQueue
) -> None:
    # Given a handler that "reports" a failure although the mapping does not enable the response type
    deliveries = Deliveries()

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        deliveries.record(event)
        return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in event["Records"]]}

    send(sqs, queue.url, "x", "y")
    with SqsEventSource(queue.url, consumer(handler), sqs=sqs, concurrency=1) as source:
        wait_until(lambda: source.stats.deleted == 2 and messages_left(sqs, queue.url) == 0)
    # Then the successful invocation deleted everything, as Lambda does (nothing left to come back)
    assert sorted(body for body, _ in deliveries.seen) == ["x", "y"]
    assert messages_left(sqs, queue.url) == 0


def test_the_batching_window_gathers_messages_into_one_invocation(
    sqs: SQSClient, queue: ThrowawayQueue
) -> None:
    deliveries = Deliveries()
    send(sqs, queue.url, "first")
    source = SqsEventSource(
        queue.url,
        consumer(deliveries),
        sqs=sqs,
        batch_size=5,
        maximum_batching_window_seconds=2,
        concurrency=1,
    )
    # When messages keep arriving within the window after the first one was received
    with source:
        wait_until(lambda: message_counts(sqs, queue.url) == (0, 1), what='"first" received')
        send(sqs, queue.url, "2", "3", "4", "5")
        wait_until(lambda: len(deliveries.seen) == 5)
    # Then the full batch went to the function in one invocation
    assert len(deliveries.events) == 1
    assert sorted(body for body, _ in deliveries.seen) == ["2", "3", "4", "5", "first"]


def test_concurrency_bounds_parallel_invocations(sqs: SQSClient, queue: ThrowawayQueue) -> None:
    # Given a handler that holds its batch until two batches are in flight, and 2 pollers
    lock = threading.Lock()
    in_flight = 0
    peak = 0
    two_in_flight = threading.Event()

    def handler(event: dict[str, Any], context: Any) -> None:
        nonlocal in_flight, peak
        with lock:
            in_flight += 1
            peak = max(peak, in_flight)
            if in_flight == 2:
                two_in_flight.set()
        two_in_flight.wait(VISIBILITY_TIMEOUT * 0.8)
        with lock:
            in_flight -= 1

    send(sqs, queue.url, "1", "2", "3", "4", "5", "6")
    function = consumer(handler, max_instances=10)
    with SqsEventSource(queue.url, function, sqs=sqs, batch_size=1, concurrency=2) as source:
        wait_until(lambda: source.stats.deleted == 6)
    # Then 2 batches ran at once, never more
    assert two_in_flight.is_set()
    assert peak == 2
    assert source.stats.batches == source.stats.invocations == 6


def test_stop_is_prompt_and_stops_consuming(sqs: SQSClient, queue: ThrowawayQueue) -> None:
    deliveries = Deliveries()
    source = SqsEventSource(
        queue.url, consumer(deliveries), sqs=sqs, wait_time_seconds=1, concurrency=2
    ).start()
    assert source.running
    # When stopped while long-polling an empty queue
    started = time.monotonic()
    source.stop()
    # Then it returns within about one poll wait, and every poller thread has ended: nothing is
    # left that could receive a message sent now
    assert time.monotonic() - started < 2.0
    assert not source.running
    send(sqs, queue.url, "after-stop")
    assert deliveries.seen == []
    assert message_counts(sqs, queue.url) == (1, 0)


def test_a_visibility_timeout_below_the_function_timeout_is_refused(
    sqs: SQSClient, queue: ThrowawayQueue
) -> None:
    # Given a function that may run 5 s on a queue that hides messages for 1 s
    slow = LocalFunction.from_handler("Slow", lambda event, context: None, timeout_seconds=5)
    # Then the mapping is refused with Lambda's message, before polling anything
    source = SqsEventSource(queue.url, slow, sqs=sqs)
    with pytest.raises(ValueError, match=r"visibility timeout: 1 seconds is less than Function timeout: 5"):
        source.start()
    assert not source.running
