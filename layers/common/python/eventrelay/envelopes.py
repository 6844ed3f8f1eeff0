"""The SQS message an accepted event becomes, and the adapter that enqueues it.

The envelope is the contract between the publish path and the action runner:
`{"eventId", "tenantId", "eventName", "eventVersion", "receivedAt", "requestId", "source"}` plus,
for bulk, `jobId`, and last `"payload"`: the publisher's JSON object.

The payload travels exactly as received: an envelope built `with_payload_text` (the publish path)
or read `from_message_body` (what a consumer should use) writes the payload's original text back
byte for byte, so numbers keep their spelling (`1E15` stays 4 bytes, never
`1000000000000000.0`). The only change ever made to that text is escaping U+FFFE and U+FFFF,
which SQS refuses in a message; they can only occur inside JSON strings, where `\\ufffe` is the
same value.

Every accepted envelope fits every place it is stored (`storage_problem`): the SQS message
(256 KiB with its attributes) and the runner's delivery item (DynamoDB's 400 KB, holding a copy of
the envelope), both as sent and as re-serialized from the parsed value.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Literal

from botocore.exceptions import ConnectTimeoutError, EndpointConnectionError
from pydantic import BaseModel, ConfigDict, PrivateAttr

from eventrelay.aws import dependency_boundary
from eventrelay.errors import DependencyFailure

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import SendMessageBatchRequestEntryTypeDef

SQS_BATCH_SIZE = 10
# SQS counts the body and its attributes against 262,144 bytes; the attributes (tenant id, event
# name and version) take well under 1 KiB. The runner's delivery item (at most 409,600 bytes) holds
# this envelope plus under 4 KiB of bookkeeping, so the same bound keeps it far from its limit.
MAX_ENVELOPE_BYTES = 256 * 1024 - 1024
# Characters JSON may carry raw but SQS refuses in a message body.
_SQS_REFUSED = re.compile(r"[\ufffe\uffff]")


def _sqs_safe(text: str) -> str:
    return _SQS_REFUSED.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


class EventEnvelope(BaseModel):
    model_config = ConfigDict(frozen=True)

    eventId: str
    tenantId: str
    eventName: str
    eventVersion: str
    receivedAt: str
    requestId: str
    payload: dict[str, Any]
    source: Literal["publish", "bulk", "replay", "dataset"] = "publish"
    jobId: str | None = None
    # The payload's JSON text as received; None writes it from `payload`.
    _payload_text: str | None = PrivateAttr(default=None)

    def with_payload_text(self, payload_text: str) -> EventEnvelope:
        """This envelope carrying `payload_text` (the JSON text `payload` was parsed from) verbatim."""
        carrying = self.model_copy()
        carrying._payload_text = _sqs_safe(payload_text.strip(" \t\r\n"))
        return carrying

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> EventEnvelope:
        copy = super().model_copy(update=update, deep=deep)
        if update is not None and "payload" in update:
            copy._payload_text = None  # the text spelled the old payload
        return copy

    @classmethod
    def from_message_body(cls, body: str) -> EventEnvelope:
        """The envelope of a queue message, keeping its payload's text for `to_message_body`."""
        fields, payload_text = _top_level_fields(body)
        envelope = cls.model_validate(fields)
        return envelope.with_payload_text(payload_text) if payload_text is not None else envelope

    def to_message_body(self) -> str:
        payload_text = self._payload_text if self._payload_text is not None else self.reserialized_payload()
        return self._message_body(payload_text)

    def reserialized_payload(self) -> str:
        """The payload written from its parsed value (what a consumer that re-serializes stores)."""
        return json.dumps(self.payload, ensure_ascii=False, separators=(",", ":"))

    def _message_body(self, payload_text: str) -> str:
        head = json.dumps(
            self.model_dump(exclude_none=True, exclude={"payload"}), ensure_ascii=False, separators=(",", ":")
        )
        return _sqs_safe(f'{head[:-1]},"payload":{payload_text}}}')

    def storage_problem(self) -> str | None:
        """Why this envelope cannot be stored everywhere it must be, or None when it fits."""
        sent = len(self.to_message_body().encode("utf-8"))
        reserialized = len(self._message_body(self.reserialized_payload()).encode("utf-8"))
        largest = max(sent, reserialized)
        if largest <= MAX_ENVELOPE_BYTES:
            return None
        return (
            f"the event would take {largest} bytes where it is queued and stored (numbers count as "
            f"written out in full, e.g. 1E15 as 1000000000000000.0); at most {MAX_ENVELOPE_BYTES}"
        )


def _top_level_fields(body: str) -> tuple[dict[str, Any], str | None]:
    """The message's top-level fields and the exact text of its `payload` value."""
    decoder = json.JSONDecoder()
    fields: dict[str, Any] = {}
    payload_text: str | None = None
    position = _skip_space(body, 0)
    if body[position : position + 1] != "{":
        raise ValueError("an envelope is a JSON object")
    position = _skip_space(body, position + 1)
    while body[position : position + 1] != "}":
        name, position = decoder.raw_decode(body, position)
        position = _skip_space(body, position)
        if body[position : position + 1] != ":":
            raise ValueError("an envelope field name must be followed by ':'")
        value_start = _skip_space(body, position + 1)
        value, position = decoder.raw_decode(body, value_start)
        fields[name] = value
        if name == "payload":
            payload_text = body[value_start:position]
        position = _skip_space(body, position)
        if body[position : position + 1] == ",":
            position = _skip_space(body, position + 1)
    return fields, payload_text


def _skip_space(text: str, position: int) -> int:
    while position < len(text) and text[position] in " \t\r\n":
        position += 1
    return position


class SendOutcomeUnknown(DependencyFailure):
    """SQS may hold the message: a request went out and no answer came back (timeout, connection
    lost). Only an answered error or a connection never made means "surely not sent"."""


# Per thread, whether an attempt of the current send went out and got no answer (botocore retries
# inside one call, so the call's final error alone does not tell).
_attempts = threading.local()
_NEVER_SENT = (EndpointConnectionError, ConnectTimeoutError)


def _note_attempt(caught_exception: Exception | None = None, **_: Any) -> None:
    if caught_exception is not None and not isinstance(caught_exception, _NEVER_SENT):
        _attempts.unanswered = True


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
        for operation in ("SendMessage", "SendMessageBatch"):
            client.meta.events.register(
                f"needs-retry.sqs.{operation}", _note_attempt, unique_id=f"eventrelay-outcome-{operation}"
            )

    @contextmanager
    def _sending(self) -> Iterator[None]:
        """DependencyFailure when SQS surely did not take the message, SendOutcomeUnknown when it may have."""
        _attempts.unanswered = False
        try:
            with dependency_boundary("SQS queue"):
                yield
        except DependencyFailure as failure:
            if _attempts.unanswered:
                raise SendOutcomeUnknown(f"{failure}; the message may be on the queue") from None
            raise

    def send_envelope(self, envelope: EventEnvelope) -> None:
        self.send(envelope.to_message_body(), _attributes(envelope))

    def send(self, body: str, attributes: dict[str, Any] | None = None, delay_seconds: int = 0) -> None:
        with self._sending():
            self._client.send_message(
                QueueUrl=self.queue_url,
                MessageBody=body,
                MessageAttributes=attributes or {},
                DelaySeconds=delay_seconds,
            )

    def send_bodies(self, bodies: list[str], attributes: dict[str, Any] | None = None) -> None:
        """Send message bodies in batches of 10; any entry SQS refuses raises DependencyFailure."""
        for start in range(0, len(bodies), SQS_BATCH_SIZE):
            entries: list[SendMessageBatchRequestEntryTypeDef] = [
                {"Id": str(i), "MessageBody": body, "MessageAttributes": attributes or {}}
                for i, body in enumerate(bodies[start : start + SQS_BATCH_SIZE])
            ]
            with self._sending():
                response = self._client.send_message_batch(QueueUrl=self.queue_url, Entries=entries)
            if response.get("Failed"):
                raise DependencyFailure("SQS queue refused a message of the batch")

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
            with self._sending():
                response = self._client.send_message_batch(QueueUrl=self.queue_url, Entries=entries)
            if response.get("Failed"):
                raise DependencyFailure("SQS queue refused a message of the batch")
