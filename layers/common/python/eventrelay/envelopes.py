"""The SQS message an accepted event becomes, and the adapter that enqueues it.

The envelope is the contract between the publish path and the action runner:
`{"eventId", "tenantId", "eventName", "eventVersion", "receivedAt", "requestId", "payload"}` plus
`source` ("publish" or "bulk") and, for bulk, `jobId`.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict

from eventrelay.aws import dependency_boundary
from eventrelay.errors import DependencyFailure

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import SendMessageBatchRequestEntryTypeDef

SQS_BATCH_SIZE = 10


class EventEnvelope(BaseModel):
    model_config = ConfigDict(frozen=True)

    eventId: str
    tenantId: str
    eventName: str
    eventVersion: str
    receivedAt: str
    requestId: str
    payload: dict[str, Any]
    source: Literal["publish", "bulk", "replay"] = "publish"
    jobId: str | None = None

    def to_message_body(self) -> str:
        return json.dumps(self.model_dump(exclude_none=True), ensure_ascii=False, separators=(",", ":"))


def _attributes(envelope: EventEnvelope) -> dict[str, Any]:
    return {
        "tenantId": {"DataType": "String", "StringValue": envelope.tenantId},
        "eventName": {"DataType": "String", "StringValue": envelope.eventName},
        "eventVersion": {"DataType": "String", "StringValue": envelope.eventVersion},
    }


class MessageQueue:
    """One SQS queue. Failures surface as DependencyFailure: the caller decides what was not accepted."""

    def __init__(self, queue_url: str, client: SQSClient) -> None:
        self.queue_url = queue_url
        self._client = client

    def send_envelope(self, envelope: EventEnvelope) -> None:
        self.send(envelope.to_message_body(), _attributes(envelope))

    def send(self, body: str, attributes: dict[str, Any] | None = None, delay_seconds: int = 0) -> None:
        with dependency_boundary("SQS queue"):
            self._client.send_message(
                QueueUrl=self.queue_url,
                MessageBody=body,
                MessageAttributes=attributes or {},
                DelaySeconds=delay_seconds,
            )

    def send_envelopes(self, envelopes: list[EventEnvelope]) -> None:
        """Send in batches of 10; any entry SQS refuses raises DependencyFailure (the caller retries all)."""
        for start in range(0, len(envelopes), SQS_BATCH_SIZE):
            chunk = envelopes[start : start + SQS_BATCH_SIZE]
            entries: list[SendMessageBatchRequestEntryTypeDef] = [
                {
                    "Id": str(i),
                    "MessageBody": envelope.to_message_body(),
                    "MessageAttributes": _attributes(envelope),
                }
                for i, envelope in enumerate(chunk)
            ]
            with dependency_boundary("SQS queue"):
                response = self._client.send_message_batch(QueueUrl=self.queue_url, Entries=entries)
            if response.get("Failed"):
                raise DependencyFailure("SQS queue refused a message of the batch")
