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

import dataclasses
import json
import re
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, get_args

from botocore.exceptions import ConnectTimeoutError, EndpointConnectionError

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
EventSource = Literal["publish", "bulk", "replay", "dataset"]
_SOURCES: tuple[str, ...] = get_args(EventSource)
# The text fields every envelope has, in the order they are written.
_TEXT_FIELDS = ("eventId", "tenantId", "eventName", "eventVersion", "receivedAt", "requestId")


def _sqs_safe(text: str) -> str:
    return _SQS_REFUSED.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


class InvalidEnvelope(ValueError):
    """A queue message or stored item that is not an envelope; names each field that is wrong."""


@dataclass(frozen=True)
class EventEnvelope:
    """An accepted event. A frozen dataclass checked in `__post_init__` (not a pydantic model: every
    publish builds one, and pydantic was a large part of the publish function's cold start)."""

    eventId: str
    tenantId: str
    eventName: str
    eventVersion: str
    receivedAt: str
    requestId: str
    payload: dict[str, Any]
    source: EventSource = "publish"
    jobId: str | None = None
    # The payload's JSON text as received; None writes it from `payload`. Not part of equality: two
    # envelopes of the same values are the same event, however the payload was spelled.
    _payload_text: str | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        problems = [
            f"{name}: must be a string" for name in _TEXT_FIELDS if not isinstance(getattr(self, name), str)
        ]
        if not isinstance(self.payload, dict):
            problems.append("payload: must be a JSON object")
        if self.source not in _SOURCES:
            problems.append(f"source: must be one of {', '.join(_SOURCES)}")
        if self.jobId is not None and not isinstance(self.jobId, str):
            problems.append("jobId: must be a string")
        if problems:
            raise InvalidEnvelope("; ".join(problems))

    @classmethod
    def from_fields(cls, fields: Mapping[str, Any]) -> EventEnvelope:
        """The envelope of parsed JSON fields (others are ignored); InvalidEnvelope when one is
        missing or wrong."""
        missing = [name for name in (*_TEXT_FIELDS, "payload") if name not in fields]
        if missing:
            raise InvalidEnvelope("; ".join(f"{name}: missing" for name in missing))
        optional = {name: fields[name] for name in ("source", "jobId") if name in fields}
        return cls(**{name: fields[name] for name in (*_TEXT_FIELDS, "payload")}, **optional)

    # The names pydantic gave these, kept for callers written when the envelope was a model.
    model_validate = from_fields

    def model_copy(self, *, update: Mapping[str, Any] | None = None) -> EventEnvelope:
        """This envelope with `update`'s fields changed; it keeps the payload's text unless the
        payload changes."""
        copy = dataclasses.replace(self, **(update or {}))
        if update is None or "payload" not in update:
            object.__setattr__(copy, "_payload_text", self._payload_text)
        return copy

    def with_payload_text(self, payload_text: str) -> EventEnvelope:
        """This envelope carrying `payload_text` (the JSON text `payload` was parsed from) verbatim."""
        carrying = dataclasses.replace(self)
        object.__setattr__(carrying, "_payload_text", _sqs_safe(payload_text.strip(" \t\r\n")))
        return carrying

    def header_fields(self) -> dict[str, str]:
        """Every field but the payload, in their written order (`jobId` only when set)."""
        fields = {name: getattr(self, name) for name in _TEXT_FIELDS}
        fields["source"] = self.source
        if self.jobId is not None:
            fields["jobId"] = self.jobId
        return fields

    @classmethod
    def from_message_body(cls, body: str) -> EventEnvelope:
        """The envelope of a queue message, keeping its payload's text for `to_message_body`."""
        fields, payload_text = _top_level_fields(body)
        envelope = cls.from_fields(fields)
        return envelope.with_payload_text(payload_text) if payload_text is not None else envelope

    def to_message_body(self) -> str:
        payload_text = self._payload_text if self._payload_text is not None else self.reserialized_payload()
        return self._message_body(payload_text)

    def reserialized_payload(self) -> str:
        """The payload written from its parsed value (what a consumer that re-serializes stores)."""
        return json.dumps(self.payload, ensure_ascii=False, separators=(",", ":"))

    def _message_body(self, payload_text: str) -> str:
        head = json.dumps(self.header_fields(), ensure_ascii=False, separators=(",", ":"))
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
