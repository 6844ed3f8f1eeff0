"""Deliveries and attempts: what the runner records, and the messages it puts back on the queue.

A **delivery** is one (event, rule) pair: its id is derived from tenant, event id and rule name,
so every runner that sees the event computes the same id. Its `state` is PENDING (not yet
finished, no attempt failed), RETRYING (an attempt failed and another is scheduled), SUCCEEDED or
FAILED. `attempts` counts attempts started; `attempt_limit` is where they stop (1 + the action's
max retries, raised again by each replay). `in_flight` with a lease says an attempt is running.

An **attempt** is one try: its number, when, its outcome (SUCCESS, RETRYABLE, PERMANENT; IN_FLIGHT
while running; ABANDONED when its runner stopped before recording an outcome), status code,
duration, truncated response body and error. Attempts of a replay carry the replay's `round`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from eventrelay.clock import iso_utc
from eventrelay.envelopes import EventEnvelope

DELIVERY_MESSAGE_KIND = "eventrelay.delivery"


class DeliveryState(StrEnum):
    PENDING = "PENDING"
    RETRYING = "RETRYING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"

    @property
    def finished(self) -> bool:
        return self in (DeliveryState.SUCCEEDED, DeliveryState.FAILED)


class AttemptOutcome(StrEnum):
    IN_FLIGHT = "IN_FLIGHT"
    SUCCESS = "SUCCESS"
    RETRYABLE = "RETRYABLE"
    PERMANENT = "PERMANENT"
    ABANDONED = "ABANDONED"


def delivery_id_for(tenant_id: str, event_id: str, rule_name: str) -> str:
    """The deterministic id of the delivery of one event through one rule."""
    digest = hashlib.sha256("\x1f".join((tenant_id, event_id, rule_name)).encode("utf-8")).hexdigest()
    return f"d-{digest[:32]}"


@dataclass(frozen=True)
class Delivery:
    delivery_id: str
    tenant_id: str
    event_id: str
    event_name: str
    event_version: str
    rule_name: str
    action: str
    state: DeliveryState
    created_at: float
    updated_at: float
    attempts: int = 0
    attempt_limit: int = 1
    round: int = 1
    round_start: int = 0
    next_attempt_at: float = 0.0
    in_flight: bool = False
    lease_token: str | None = None
    lease_until: float | None = None
    last_outcome: str | None = None
    last_status: int | None = None
    last_error: str | None = None
    # None in listings (indexes do not project it); always set when read by id.
    envelope: EventEnvelope | None = None
    # The attempt started last, kept in the delivery item (IN_FLIGHT while it runs); earlier attempts
    # have items of their own. None in listings, before the first attempt, and in items written
    # before the attempt was kept here.
    latest_attempt: Attempt | None = None

    @property
    def replays(self) -> int:
        return self.round - 1

    @property
    def retries_done(self) -> int:
        """Attempts of the current round after its first."""
        return max(0, self.attempts - self.round_start - 1)

    @property
    def idempotency_key(self) -> str:
        """Sent as `Idempotency-Key`: the same for every attempt of a round, new for each replay."""
        base = f"eventrelay-{self.delivery_id}"
        return base if self.round == 1 else f"{base}-r{self.round}"

    def with_changes(self, **changes: Any) -> Delivery:
        return replace(self, **changes)

    def to_view(self) -> dict[str, Any]:
        """JSON-ready, camelCase (the CLI's output)."""
        view: dict[str, Any] = {
            "deliveryId": self.delivery_id,
            "tenantId": self.tenant_id,
            "eventId": self.event_id,
            "eventName": self.event_name,
            "eventVersion": self.event_version,
            "rule": self.rule_name,
            "action": self.action,
            "state": self.state.value,
            "attempts": self.attempts,
            "attemptLimit": self.attempt_limit,
            "replays": self.replays,
            "inFlight": self.in_flight,
            "createdAt": iso_utc(self.created_at),
            "updatedAt": iso_utc(self.updated_at),
            "lastOutcome": self.last_outcome,
            "lastStatus": self.last_status,
            "lastError": self.last_error,
        }
        if self.state is DeliveryState.RETRYING or (
            self.state is DeliveryState.PENDING and not self.in_flight
        ):
            view["nextAttemptAt"] = iso_utc(self.next_attempt_at)
        return view


@dataclass(frozen=True)
class Attempt:
    delivery_id: str
    attempt: int
    tenant_id: str
    event_id: str
    rule_name: str
    action: str
    round: int
    started_at: float
    outcome: AttemptOutcome = AttemptOutcome.IN_FLIGHT
    finished_at: float | None = None
    status_code: int | None = None
    duration_ms: int | None = None
    response_body: str | None = None
    response_truncated: bool = False
    error: str | None = None
    retry_after_seconds: float | None = None

    @property
    def replay(self) -> bool:
        return self.round > 1

    def to_view(self) -> dict[str, Any]:
        return {
            "attempt": self.attempt,
            "deliveryId": self.delivery_id,
            "eventId": self.event_id,
            "tenantId": self.tenant_id,
            "rule": self.rule_name,
            "action": self.action,
            "round": self.round,
            "replay": self.replay,
            "startedAt": iso_utc(self.started_at),
            "finishedAt": iso_utc(self.finished_at) if self.finished_at is not None else None,
            "outcome": self.outcome.value,
            "statusCode": self.status_code,
            "durationMs": self.duration_ms,
            "responseBody": self.response_body,
            "responseTruncated": self.response_truncated,
            "error": self.error,
            "retryAfterSeconds": self.retry_after_seconds,
        }


@dataclass(frozen=True)
class AttemptResult:
    """What one attempt came to, as recorded."""

    outcome: AttemptOutcome
    finished_at: float
    status_code: int | None = None
    duration_ms: int = 0
    response_body: str | None = None
    response_truncated: bool = False
    error: str | None = None
    retry_after_seconds: float | None = None


@dataclass(frozen=True)
class DeliveryMessage:
    """A message on the events queue that drives one delivery: "start attempt `attempt` when due".

    `reason` says why it was sent: retry (after a retryable failure), delay (not due yet, sent
    again), lease (an attempt is running elsewhere: look again when its lease ends), watch (a copy
    that takes over if the designated message never comes), postponed (due, but its invocation
    had too little time left to start it), paced (due, but its connector's rate limit was
    reached: sent for when a window has room), replay, recover (a replay of a delivery whose
    runner stopped: its expired lease is recovered).
    """

    delivery_id: str
    tenant_id: str
    attempt: int
    reason: str

    def to_body(self) -> str:
        return json.dumps(
            {
                "kind": DELIVERY_MESSAGE_KIND,
                "deliveryId": self.delivery_id,
                "tenantId": self.tenant_id,
                "attempt": self.attempt,
                "reason": self.reason,
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DeliveryMessage:
        delivery_id, tenant_id, attempt = data.get("deliveryId"), data.get("tenantId"), data.get("attempt")
        if not isinstance(delivery_id, str) or not isinstance(tenant_id, str) or not isinstance(attempt, int):
            raise ValueError("a delivery message needs deliveryId, tenantId and attempt")
        return cls(delivery_id, tenant_id, attempt, str(data.get("reason", "")))
