"""Lambda's SQS event source mapping, in-process: poll one queue, invoke one function with batches.

What it does, as Lambda does it:
- Long-polls ReceiveMessage (up to 10 messages a call) and gathers a batch of up to `batch_size`
  records; with `maximum_batching_window_seconds` > 0 it keeps polling until the batch is full,
  the window has passed or the batch reaches Lambda's 6 MB payload limit.
- Builds the event Lambda builds (`Records` with messageId, receiptHandle, body, attributes,
  messageAttributes in Lambda's camelCase shape, md5OfMessageAttributes, md5OfBody, eventSource,
  eventSourceARN, awsRegion) and invokes the function synchronously.
- On success deletes the batch. With `report_batch_item_failures` (FunctionResponseTypes:
  [ReportBatchItemFailures]) it deletes every message except those listed in `batchItemFailures`;
  an empty or absent list (or a null/empty response) means all succeeded, and an invalid response
  (not an object, an entry without a known `itemIdentifier`) fails the whole batch, as documented
  by AWS. If the function fails (raises, times out, result not serializable) nothing is deleted:
  the messages become visible again after the queue's visibility timeout and the queue's own
  redrive policy moves them to the dead-letter queue after maxReceiveCount receives.
- `concurrency` polling threads each invoke one batch at a time (like MaximumConcurrency).

Lambda does not change message visibility on failure and neither does this poller.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from eventrelay_cli.local.lambda_runtime import Handler, InvocationError, LocalFunction, SqsEventSourceSpec

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageAttributeValueOutputTypeDef, MessageTypeDef

# The system attributes Lambda copies into a record's "attributes", in Lambda's order.
LAMBDA_RECORD_ATTRIBUTES = (
    "ApproximateReceiveCount",
    "SentTimestamp",
    "SenderId",
    "ApproximateFirstReceiveTimestamp",
    "SequenceNumber",
    "MessageGroupId",
    "MessageDeduplicationId",
    "AWSTraceHeader",
    "DeadLetterQueueSourceArn",
)
MAX_BATCH_PAYLOAD_BYTES = 6 * 1024 * 1024  # Lambda's synchronous invocation payload limit
MAX_RECEIVE = 10  # ReceiveMessage returns at most 10 messages per call

_log = logging.getLogger("eventrelay_cli.local.sqs")


def _b64(value: bytes | str) -> str:
    raw = value.encode("utf-8") if isinstance(value, str) else bytes(value)
    return base64.b64encode(raw).decode("ascii")


def to_lambda_message_attribute(value: MessageAttributeValueOutputTypeDef) -> dict[str, Any]:
    """SQS API shape (StringValue, BinaryValue bytes, ...) → Lambda record shape (camelCase, base64)."""
    converted: dict[str, Any] = {}
    if "StringValue" in value:
        converted["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        converted["binaryValue"] = _b64(value["BinaryValue"])
    converted["stringListValues"] = list(value.get("StringListValues", []))
    converted["binaryListValues"] = [_b64(v) for v in value.get("BinaryListValues", [])]
    converted["dataType"] = value["DataType"]
    return converted


def to_lambda_record(message: MessageTypeDef, queue_arn: str) -> dict[str, Any]:
    """One SQS message as a record of the event Lambda passes to the function."""
    system = message.get("Attributes", {})
    region = queue_arn.split(":")[3]
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": {name: system[name] for name in LAMBDA_RECORD_ATTRIBUTES if name in system},
        "messageAttributes": {
            name: to_lambda_message_attribute(value)
            for name, value in message.get("MessageAttributes", {}).items()
        },
        "md5OfMessageAttributes": message.get("MD5OfMessageAttributes"),
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


def build_sqs_event(messages: Sequence[MessageTypeDef], queue_arn: str) -> dict[str, Any]:
    return {"Records": [to_lambda_record(message, queue_arn) for message in messages]}


def sqs_event_of_bodies(bodies: Sequence[str], queue_arn: str) -> dict[str, Any]:
    """The event Lambda would pass for these bodies, each received once (benches call handlers with it)."""
    messages: list[MessageTypeDef] = [
        {
            "MessageId": str(uuid.uuid4()),
            "ReceiptHandle": "direct",
            "Body": body,
            "MD5OfBody": hashlib.md5(body.encode("utf-8"), usedforsecurity=False).hexdigest(),
            "Attributes": {"ApproximateReceiveCount": "1"},
        }
        for body in bodies
    ]
    return build_sqs_event(messages, queue_arn)


def failed_message_ids(response: Any, batch_ids: set[str]) -> set[str] | None:
    """The message ids a ReportBatchItemFailures response reports; None if the whole batch failed."""
    if response is None:
        return set()
    if not isinstance(response, dict):
        return None
    failures = response.get("batchItemFailures")
    if failures is None:
        return set()
    if not isinstance(failures, list):
        return None
    failed: set[str] = set()
    for item in failures:
        identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not isinstance(identifier, str) or identifier not in batch_ids:
            return None
        failed.add(identifier)
    return failed


@dataclass(frozen=True)
class SqsEventSourceStats:
    """batches = invocations + failures; failed_records counts batchItemFailures entries."""

    batches: int = 0
    invocations: int = 0
    failures: int = 0
    failed_records: int = 0
    deleted: int = 0


class SqsEventSource:
    """Poll `queue_url` and invoke `function` with Lambda SQS events until `stop()`.

    sqs: the client to poll with (e.g. `eventrelay.aws.sqs_client(settings.region)`).
    wait_time_seconds: the long-poll wait of each ReceiveMessage; stop() takes at most about this
    long (plus an in-flight invocation).
    """

    def __init__(
        self,
        queue_url: str,
        function: LocalFunction | Handler,
        *,
        sqs: SQSClient,
        batch_size: int = 10,
        maximum_batching_window_seconds: float = 0,
        report_batch_item_failures: bool = False,
        concurrency: int = 2,
        wait_time_seconds: int = 1,
    ) -> None:
        if not 1 <= batch_size <= 10_000:
            raise ValueError("batch_size must be between 1 and 10000")
        if batch_size > MAX_RECEIVE and maximum_batching_window_seconds <= 0:
            raise ValueError("a batch_size above 10 needs a maximum_batching_window_seconds of at least 1")
        if not 0 <= maximum_batching_window_seconds <= 300:
            raise ValueError("maximum_batching_window_seconds must be between 0 and 300")
        if concurrency < 1 or not 0 <= wait_time_seconds <= 20:
            raise ValueError("concurrency must be at least 1 and wait_time_seconds between 0 and 20")
        self.queue_url = queue_url
        self.function = (
            function
            if isinstance(function, LocalFunction)
            else LocalFunction.from_handler("sqs-consumer", function, max_instances=concurrency)
        )
        self.batch_size = batch_size
        self.maximum_batching_window_seconds = maximum_batching_window_seconds
        self.report_batch_item_failures = report_batch_item_failures
        self.concurrency = concurrency
        self.wait_time_seconds = wait_time_seconds
        self._sqs = sqs
        self._queue_arn: str | None = None
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._stats = SqsEventSourceStats()

    @classmethod
    def from_spec(
        cls,
        spec: SqsEventSourceSpec,
        function: LocalFunction,
        *,
        queue_url: str,
        sqs: SQSClient,
        concurrency: int | None = None,
        wait_time_seconds: int = 1,
    ) -> SqsEventSource:
        """The mapping a template's SQS event declares (BatchSize, window, response types, scaling)."""
        return cls(
            queue_url,
            function,
            sqs=sqs,
            batch_size=spec.batch_size,
            maximum_batching_window_seconds=spec.maximum_batching_window_seconds,
            report_batch_item_failures=spec.report_batch_item_failures,
            concurrency=concurrency or spec.maximum_concurrency or 2,
            wait_time_seconds=wait_time_seconds,
        )

    @property
    def queue_arn(self) -> str:
        if self._queue_arn is None:
            attributes = self._sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])
            self._queue_arn = attributes["Attributes"]["QueueArn"]
        return self._queue_arn

    @property
    def stats(self) -> SqsEventSourceStats:
        with self._lock:
            return self._stats

    @property
    def running(self) -> bool:
        return any(thread.is_alive() for thread in self._threads)

    def _count(self, **increments: int) -> None:
        with self._lock:
            current = self._stats
            self._stats = replace(
                current, **{name: getattr(current, name) + n for name, n in increments.items()}
            )

    # ---- polling

    def _receive(self, wanted: int, wait_seconds: int) -> list[MessageTypeDef]:
        response = self._sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=max(1, min(MAX_RECEIVE, wanted)),
            WaitTimeSeconds=wait_seconds,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        return list(response.get("Messages", []))

    def _collect_batch(self) -> list[MessageTypeDef]:
        batch = self._receive(self.batch_size, self.wait_time_seconds)
        if not batch or self.maximum_batching_window_seconds <= 0:
            return batch
        deadline = time.monotonic() + self.maximum_batching_window_seconds
        size = sum(len(m.get("Body", "").encode()) for m in batch)
        while len(batch) < self.batch_size and size < MAX_BATCH_PAYLOAD_BYTES and not self._stopping.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            more = self._receive(self.batch_size - len(batch), min(self.wait_time_seconds, int(remaining)))
            if not more and remaining < 1:
                self._stopping.wait(remaining)  # short polls would spin until the window closes
            batch.extend(more)
            size += sum(len(m.get("Body", "").encode()) for m in more)
        return batch

    def _process(self, batch: list[MessageTypeDef]) -> None:
        self._count(batches=1)
        try:
            response = self.function.invoke(build_sqs_event(batch, self.queue_arn))
        except InvocationError as exc:
            self._count(failures=1)
            _log.warning(
                "batch failed; messages return after the visibility timeout",
                extra={"queue_url": self.queue_url, "size": len(batch), "error_type": exc.error_type},
            )
            return
        to_delete = batch
        if self.report_batch_item_failures:
            failed = failed_message_ids(response, {m["MessageId"] for m in batch})
            if failed is None:
                self._count(failures=1)
                _log.warning("invalid batchItemFailures response; the whole batch failed")
                return
            to_delete = [m for m in batch if m["MessageId"] not in failed]
            self._count(failed_records=len(failed))
        self._count(invocations=1)
        self._delete(to_delete)

    def _delete(self, messages: Sequence[MessageTypeDef]) -> None:
        for start in range(0, len(messages), MAX_RECEIVE):
            chunk = messages[start : start + MAX_RECEIVE]
            result = self._sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)],
            )
            self._count(deleted=len(result.get("Successful", [])))
            if result.get("Failed"):
                _log.warning("some deletes failed", extra={"failed": len(result["Failed"])})

    def _poll(self) -> None:
        while not self._stopping.is_set():
            try:
                batch = self._collect_batch()
                if batch:
                    self._process(batch)
                elif self.wait_time_seconds == 0:
                    self._stopping.wait(0.2)  # short polling an empty queue must not spin
            except Exception:  # an emulator outage must not kill the poller
                _log.exception("polling failed; retrying", extra={"queue_url": self.queue_url})
                self._stopping.wait(1.0)

    # ---- lifecycle

    def check_visibility_timeout(self) -> None:
        """Lambda refuses a mapping whose queue hides messages for less than the function may run."""
        attributes = self._sqs.get_queue_attributes(
            QueueUrl=self.queue_url, AttributeNames=["QueueArn", "VisibilityTimeout"]
        )["Attributes"]
        self._queue_arn = attributes["QueueArn"]
        visibility = int(attributes.get("VisibilityTimeout", "30"))
        if visibility < self.function.timeout_seconds:
            raise ValueError(
                f"Queue visibility timeout: {visibility} seconds is less than Function timeout: "
                f"{self.function.timeout_seconds} seconds"
            )

    def start(self) -> SqsEventSource:
        """Check the mapping as Lambda would (queue exists, visibility timeout), then start polling."""
        if self.running:
            raise RuntimeError("event source already running")
        self.check_visibility_timeout()
        self._stopping.clear()
        self._threads = [
            threading.Thread(target=self._poll, name=f"sqs-poller-{index}", daemon=True)
            for index in range(self.concurrency)
        ]
        for thread in self._threads:
            thread.start()
        return self

    def stop(self, timeout: float | None = None) -> None:
        """Stop polling; waits for in-flight batches (up to `timeout` seconds in total)."""
        self._stopping.set()
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in self._threads:
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        self._threads = [thread for thread in self._threads if thread.is_alive()]

    def __enter__(self) -> SqsEventSource:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
