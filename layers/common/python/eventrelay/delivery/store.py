"""Deliveries and their attempts in the deliveries table (`pk`, `sk`, TTL `expiresAt`).

Items:
- a delivery: `pk = "DELIVERY#<deliveryId>"`, `sk = "DELIVERY"`, its state, a copy of the event
  envelope (so retries and replays need nothing else) and its latest attempt (`lastAttempt`, a map:
  IN_FLIGHT while it runs, then its outcome);
- its earlier attempts: same `pk`, `sk = "ATTEMPT#<00001>"`, one item per attempt, written when
  the next attempt is claimed (a copy of the settled `lastAttempt`).
Indexes (deliveries only; attempts carry no index keys), newest first by creation time:
- `byTenant`: `tenantPk = <tenantId>`, `tenantSk = <createdAt ISO>#<deliveryId>`;
- `byEvent`:  `eventPk = <tenantId>#<eventId>`, `eventSk = <rule name>`;
- `byState`:  `statePk = <tenantId>#<state>`, `stateSk = <createdAt ISO>#<deliveryId>`.
A delivery created with its first attempt claimed is in `byTenant` at once and joins `byEvent` and
`byState` when that attempt is settled: each index entry is written once on the common path
(DynamoDB bills every index an item write touches, and twice for an index whose key changes).

Retention (TTL): every item expires `retention_seconds` (default 30 days) after its last write;
a delivery's last change (or a replay) keeps it and starts the period again. Expired items are
also ignored when read, as DynamoDB deletes them lazily.

Writes, and what a delivery costs (write units, items of at most 1 KB): creating a delivery with
its first attempt claimed is one conditional PutItem (base 1 + byTenant 1), refused if the id
exists; settling an attempt is one conditional UpdateItem that records the attempt's outcome in
`lastAttempt` and the delivery's new state together (base 1 + one per index: 3), conditional on
the claim's lease token. So an event delivered at the first try costs 6 units. Claiming a later
attempt first copies the settled `lastAttempt` to its attempt item (an unconditional PutItem of
content that no longer changes: repeating it is harmless), then moves `attempts` from k to k+1
and takes the lease in one conditional UpdateItem, conditional on the delivery being exactly as
read. No write is a transaction (they bill every item twice).

A write whose answer is lost is retried by the SDK, and the retry of a write that went through
is refused by its own condition. So every conditional write can recognise itself in the item a
refusal returns: claims by their lease token, the other writes by a `writeId` of their own. A
refusal that finds the write's own id counts as done, never as "taken over".

A delivery item holds its copy of the event, and DynamoDB items hold at most 400 KB: a delivery
that would not fit raises `DeliveryTooLarge` before anything is written.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from eventrelay.clock import Clock, iso_utc, system_clock
from eventrelay.delivery.models import (
    Attempt,
    AttemptOutcome,
    AttemptResult,
    Delivery,
    DeliveryState,
)
from eventrelay.dynamodb import (
    MAX_ITEM_BYTES,
    ConditionFailed,
    Expression,
    Item,
    Table,
    item_size,
)
from eventrelay.envelopes import EventEnvelope

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

DEFAULT_RETENTION_SECONDS = 30 * 24 * 3600
DELIVERY_SK = "DELIVERY"
ATTEMPT_SK_PREFIX = "ATTEMPT#"
BY_TENANT = "byTenant"
BY_EVENT = "byEvent"
BY_STATE = "byState"
# Attributes the indexes project (template.yaml's NonKeyAttributes list must match).
SUMMARY_ATTRIBUTES = (
    "deliveryId",
    "tenantId",
    "eventId",
    "eventName",
    "eventVersion",
    "ruleName",
    "action",
    "state",
    "attempts",
    "attemptLimit",
    "round",
    "createdAt",
    "updatedAt",
    "nextAttemptAt",
    "inFlight",
    "lastOutcome",
    "lastStatus",
    "lastError",
)
MAX_ERROR_CHARS = 1024
MAX_BODY_CHARS = 4096
# The id a conditional write stores with its change, to recognise itself when its retry is refused.
WRITE_ID = "writeId"
# Envelope fields the delivery item holds as attributes of the same name (its copy leaves them out).
_ENVELOPE_FIELDS_IN_THE_ITEM = ("eventId", "tenantId", "eventName", "eventVersion")
# The delivery item's copy of its latest attempt (a map of the attempt's own fields).
LAST_ATTEMPT = "lastAttempt"


class DeliveryTooLarge(Exception):
    """The delivery item, with its copy of the event, would exceed DynamoDB's item size limit."""

    def __init__(self, size: int) -> None:
        self.size = size
        super().__init__(
            f"the event is too large to keep with its delivery ({size:,} bytes stored; "
            f"a DynamoDB item holds at most {MAX_ITEM_BYTES:,})"
        )


def delivery_pk(delivery_id: str) -> str:
    return f"DELIVERY#{delivery_id}"


def attempt_sk(attempt: int) -> str:
    return f"{ATTEMPT_SK_PREFIX}{attempt:05d}"


def _attempt_key(delivery_id: str, attempt: int) -> dict[str, str]:
    return {"pk": delivery_pk(delivery_id), "sk": attempt_sk(attempt)}


class DeliveryStore:
    def __init__(
        self,
        table_name: str,
        dynamodb_client: DynamoDBClient,
        clock: Clock = system_clock,
        retention_seconds: int = DEFAULT_RETENTION_SECONDS,
    ) -> None:
        self.table_name = table_name
        self._table = Table(table_name, dynamodb_client)
        self._clock = clock
        self._retention = retention_seconds

    # ---- deliveries

    def create_claimed(self, delivery: Delivery, token: str, lease_seconds: float) -> Delivery | None:
        """Save a new delivery with its first attempt already claimed (one PutItem, the common path).

        None if a delivery with this id exists: the caller reads it and carries on from its state.
        """
        now = self._clock()
        claimed = delivery.with_changes(
            attempts=1,
            in_flight=True,
            lease_token=token,
            lease_until=now + lease_seconds,
            updated_at=now,
            latest_attempt=_started_attempt(delivery, 1, now),
        )
        item = self._delivery_item(claimed, listed_by_tenant_only=True)
        item["leaseToken"] = token
        item["leaseUntil"] = now + lease_seconds
        try:
            self._table.put(item, _absent_or_expired(now))
        except ConditionFailed as refused:
            return claimed if _claimed_with(refused.item, token, claimed.attempts) else None
        return claimed

    def create(self, delivery: Delivery) -> bool:
        """Save a new delivery as it is, no attempt claimed (one to start later, or one that ended
        before it could start); False if a delivery with this id exists."""
        now = self._clock()
        item = self._delivery_item(delivery)
        for attribute, value in (
            ("lastOutcome", delivery.last_outcome),
            ("lastStatus", delivery.last_status),
            ("lastError", _clip(delivery.last_error, MAX_ERROR_CHARS)),
        ):
            if value is not None:
                item[attribute] = value
        try:
            self._table.put(item, _absent_or_expired(now))
        except ConditionFailed:
            return False
        return True

    def get(self, delivery_id: str) -> Delivery | None:
        item = self._table.get(self._key(delivery_id), consistent=True)
        if item is None or self._expired(item):
            return None
        return _delivery(item)

    def claim(self, delivery: Delivery, token: str, lease_seconds: float) -> Delivery | None:
        """Start attempt `attempts + 1` if the delivery is still exactly as read; None if another won.

        The settled latest attempt is first copied to its own item (its content no longer changes,
        so a copy by a runner that then loses the claim is the same copy); then one conditional
        UpdateItem gives the delivery the lease, its new attempt count and the new attempt,
        IN_FLIGHT (so a runner that dies mid-call leaves a visible trace).
        """
        now = self._clock()
        number = delivery.attempts + 1
        previous = delivery.latest_attempt
        if previous is not None and previous.outcome is not AttemptOutcome.IN_FLIGHT:
            self._table.put(self._attempt_item(previous))
        started = _started_attempt(delivery, number, now)
        claimed = delivery.with_changes(
            attempts=number,
            in_flight=True,
            lease_token=token,
            lease_until=now + lease_seconds,
            updated_at=now,
            latest_attempt=started,
        )
        start = Expression()
        start.set("attempts", number).set("inFlight", True).set("leaseToken", token)
        start.set("leaseUntil", now + lease_seconds).set("updatedAt", now)
        start.set(LAST_ATTEMPT, _attempt_map(started)).set("expiresAt", self._expires(now))
        start.require(
            start.equals("attempts", delivery.attempts),
            start.equals("inFlight", False),
            start.equals("round", delivery.round),
            start.equals("state", delivery.state.value),
            start.compare("attemptLimit", ">=", number),
        )
        try:
            self._table.update(self._key(delivery.delivery_id), start)
        except ConditionFailed as refused:
            return claimed if _claimed_with(refused.item, token, number) else None
        return claimed

    def settle(
        self,
        delivery: Delivery,
        token: str,
        state: DeliveryState,
        result: AttemptResult,
        next_attempt_at: float | None = None,
        delivery_error: str | None = None,
    ) -> Delivery | None:
        """End the running attempt of `delivery` (claimed with `token`); None if the lease was lost.

        One write records the attempt's outcome (`result`) and the delivery's new state; the
        delivery's `lastError` is `delivery_error` when given (a summary), else the attempt's error.
        """
        now = self._clock()
        running = delivery.latest_attempt
        if running is None or running.attempt != delivery.attempts:
            # Claimed by an earlier version of the runner, which kept the attempt in its own item.
            running = _started_attempt(delivery, delivery.attempts, delivery.updated_at)
        ended = replace(
            running,
            outcome=result.outcome,
            finished_at=result.finished_at,
            status_code=result.status_code,
            duration_ms=result.duration_ms,
            response_body=(
                (_clip(result.response_body, MAX_BODY_CHARS) or "")
                if result.response_body is not None
                else None
            ),
            response_truncated=result.response_truncated,
            error=_clip(result.error, MAX_ERROR_CHARS) if result.error else None,
            retry_after_seconds=(
                float(result.retry_after_seconds) if result.retry_after_seconds is not None else None
            ),
        )
        settled = delivery.with_changes(
            state=state,
            in_flight=False,
            lease_token=None,
            lease_until=None,
            updated_at=now,
            next_attempt_at=next_attempt_at if next_attempt_at is not None else delivery.next_attempt_at,
            last_outcome=result.outcome.value,
            last_status=result.status_code,
            last_error=_clip(delivery_error if delivery_error is not None else result.error, MAX_ERROR_CHARS),
            latest_attempt=ended,
        )
        write_id = _new_write_id()
        end = Expression()
        end.set("state", state.value).set("inFlight", False).set("updatedAt", now).set(WRITE_ID, write_id)
        end.set("nextAttemptAt", settled.next_attempt_at).set("lastOutcome", result.outcome.value)
        end.set(LAST_ATTEMPT, _attempt_map(ended)).set("expiresAt", self._expires(now))
        # The index keys a delivery created claimed still lacks (the same values on later settles).
        for index_key, key_value in self._index_keys(delivery).items():
            end.set(index_key, key_value)
        end.set("statePk", _state_pk(delivery.tenant_id, state))
        end.remove("leaseToken").remove("leaseUntil")
        last: tuple[tuple[str, int | str | None], ...] = (
            ("lastStatus", settled.last_status),
            ("lastError", settled.last_error),
        )
        for attribute, value in last:
            if value is not None:
                end.set(attribute, value)
            else:
                end.remove(attribute)
        end.require(
            end.equals("leaseToken", token),
            end.equals("attempts", delivery.attempts),
            end.equals("inFlight", True),
        )
        try:
            self._table.update(self._key(delivery.delivery_id), end)
        except ConditionFailed as refused:
            return settled if _written_by(refused.item, write_id) else None
        return settled

    def reopen(self, delivery: Delivery, attempt_limit: int) -> Delivery | None:
        """Start a new round (a replay): PENDING, due now, `attempt_limit` attempts in all.

        Conditional on the delivery being as read and not running; None if it changed meanwhile.
        """
        now = self._clock()
        reopened = delivery.with_changes(
            state=DeliveryState.PENDING,
            round=delivery.round + 1,
            round_start=delivery.attempts,
            attempt_limit=attempt_limit,
            next_attempt_at=now,
            updated_at=now,
        )
        return self._rewrite_round(delivery, reopened)

    def restore(self, reopened: Delivery, previous: Delivery) -> Delivery | None:
        """Undo `reopen` (its message could not be sent) if nothing happened since."""
        return self._rewrite_round(reopened, previous.with_changes(updated_at=self._clock()))

    def _rewrite_round(self, current: Delivery, target: Delivery) -> Delivery | None:
        write_id = _new_write_id()
        rewrite = Expression()
        rewrite.set("state", target.state.value).set("round", target.round).set(WRITE_ID, write_id)
        rewrite.set("roundStart", target.round_start).set("attemptLimit", target.attempt_limit)
        rewrite.set("nextAttemptAt", target.next_attempt_at).set("updatedAt", target.updated_at)
        rewrite.set("statePk", _state_pk(target.tenant_id, target.state))
        rewrite.set("expiresAt", self._expires(target.updated_at))
        rewrite.require(
            rewrite.equals("state", current.state.value),
            rewrite.equals("round", current.round),
            rewrite.equals("attempts", current.attempts),
            rewrite.equals("inFlight", False),
        )
        try:
            self._table.update(self._key(current.delivery_id), rewrite)
        except ConditionFailed as refused:
            return target if _written_by(refused.item, write_id) else None
        return target

    # ---- attempts

    def attempt(self, delivery_id: str, attempt: int) -> Attempt | None:
        return next((found for found in self.attempts(delivery_id) if found.attempt == attempt), None)

    def attempts(self, delivery_id: str) -> list[Attempt]:
        """Every recorded attempt of a delivery, oldest first (one query: the attempt items and the
        delivery item, which holds the latest attempt)."""
        of_delivery = Expression()
        of_delivery.key(of_delivery.equals("pk", delivery_pk(delivery_id)))
        by_number: dict[int, Attempt] = {}
        latest: Attempt | None = None
        for item in self._table.query(of_delivery, consistent=True):
            if self._expired(item):
                continue
            if item.get("sk") == DELIVERY_SK:
                latest = _delivery(item).latest_attempt
            elif str(item.get("sk", "")).startswith(ATTEMPT_SK_PREFIX):
                copy = _attempt(item)
                by_number[copy.attempt] = copy
        if latest is not None:
            # The delivery's own record wins over a copy (or over an item an earlier version left IN_FLIGHT).
            by_number[latest.attempt] = latest
        return [by_number[number] for number in sorted(by_number)]

    # ---- listings

    def list_by_tenant(
        self,
        tenant_id: str,
        *,
        since: float | None = None,
        until: float | None = None,
        newest_first: bool = True,
    ) -> Iterator[Delivery]:
        return self._query_index(BY_TENANT, "tenantPk", "tenantSk", tenant_id, since, until, newest_first)

    def list_by_state(
        self,
        tenant_id: str,
        state: DeliveryState,
        *,
        since: float | None = None,
        until: float | None = None,
        newest_first: bool = True,
    ) -> Iterator[Delivery]:
        partition = _state_pk(tenant_id, state)
        return self._query_index(BY_STATE, "statePk", "stateSk", partition, since, until, newest_first)

    def list_by_event(self, tenant_id: str, event_id: str) -> Iterator[Delivery]:
        return self._query_index(BY_EVENT, "eventPk", None, f"{tenant_id}#{event_id}", None, None, False)

    def _query_index(
        self,
        index: str,
        partition_attribute: str,
        sort_attribute: str | None,
        partition: str,
        since: float | None,
        until: float | None,
        newest_first: bool,
    ) -> Iterator[Delivery]:
        matching = Expression()
        matching.key(matching.equals(partition_attribute, partition))
        if sort_attribute is not None and (since is not None or until is not None):
            # "0" sorts before every ISO timestamp (index keys cannot be empty); "~" after every
            # character of an ISO timestamp and a delivery id.
            low = iso_utc(since) if since is not None else "0"
            high = f"{iso_utc(until)}~" if until is not None else "~"
            matching.key(matching.between(sort_attribute, low, high))
        for item in self._table.query(matching, index=index, newest_first=newest_first):
            if not self._expired(item):
                yield _delivery(item)

    # ---- items

    def _key(self, delivery_id: str) -> dict[str, str]:
        return {"pk": delivery_pk(delivery_id), "sk": DELIVERY_SK}

    def _expires(self, now: float) -> int:
        return int(now) + self._retention

    def _expired(self, item: Mapping[str, Any]) -> bool:
        expires = item.get("expiresAt")
        return expires is not None and int(expires) < self._clock()

    def _delivery_item(self, delivery: Delivery, *, listed_by_tenant_only: bool = False) -> Item:
        """The delivery's item; `listed_by_tenant_only` leaves out the keys of `byEvent` and
        `byState` (settling adds them)."""
        item: Item = {
            **self._key(delivery.delivery_id),
            "kind": "DELIVERY",
            "deliveryId": delivery.delivery_id,
            "tenantId": delivery.tenant_id,
            "eventId": delivery.event_id,
            "eventName": delivery.event_name,
            "eventVersion": delivery.event_version,
            "ruleName": delivery.rule_name,
            "action": delivery.action,
            "state": delivery.state.value,
            "attempts": delivery.attempts,
            "attemptLimit": delivery.attempt_limit,
            "round": delivery.round,
            "roundStart": delivery.round_start,
            "createdAt": delivery.created_at,
            "updatedAt": delivery.updated_at,
            "nextAttemptAt": delivery.next_attempt_at,
            "inFlight": delivery.in_flight,
            "expiresAt": self._expires(delivery.updated_at),
        }
        index_keys = self._index_keys(delivery)
        if listed_by_tenant_only:
            item.update(tenantPk=index_keys["tenantPk"], tenantSk=index_keys["tenantSk"])
        else:
            item.update(index_keys, statePk=_state_pk(delivery.tenant_id, delivery.state))
        if delivery.latest_attempt is not None:
            item[LAST_ATTEMPT] = _attempt_map(delivery.latest_attempt)
        if delivery.envelope is not None:
            item["envelope"] = _stored_envelope(delivery.envelope)
            # Room for what later writes add (lease, last outcome and error, latest attempt, write id).
            size = item_size(item) + _LATER_ATTRIBUTES_BYTES
            if size > MAX_ITEM_BYTES:
                raise DeliveryTooLarge(size)
        return item

    @staticmethod
    def _index_keys(delivery: Delivery) -> dict[str, str]:
        """The index keys that never change (`statePk` follows the state)."""
        created_key = f"{iso_utc(delivery.created_at)}#{delivery.delivery_id}"
        return {
            "tenantPk": delivery.tenant_id,
            "tenantSk": created_key,
            "eventPk": f"{delivery.tenant_id}#{delivery.event_id}",
            "eventSk": delivery.rule_name,
            "stateSk": created_key,
        }

    def _attempt_item(self, attempt: Attempt) -> Item:
        """An earlier attempt's own item: a copy of what the delivery held as its latest attempt."""
        return {
            **_attempt_key(attempt.delivery_id, attempt.attempt),
            "kind": "ATTEMPT",
            "deliveryId": attempt.delivery_id,
            "tenantId": attempt.tenant_id,
            "eventId": attempt.event_id,
            "ruleName": attempt.rule_name,
            "action": attempt.action,
            **_attempt_map(attempt),
            "expiresAt": self._expires(attempt.started_at),
        }


# What later writes add to a delivery item at most: the latest attempt (its response body and
# error clipped, 4 bytes a character at worst), the delivery's last error, status, lease, ids.
_LATER_ATTRIBUTES_BYTES = 4 * (MAX_BODY_CHARS + 2 * MAX_ERROR_CHARS) + 1024


def _started_attempt(delivery: Delivery, number: int, started_at: float) -> Attempt:
    return Attempt(
        delivery_id=delivery.delivery_id,
        attempt=number,
        tenant_id=delivery.tenant_id,
        event_id=delivery.event_id,
        rule_name=delivery.rule_name,
        action=delivery.action,
        round=delivery.round,
        started_at=started_at,
    )


def _attempt_map(attempt: Attempt) -> Item:
    """An attempt's own fields (the ids are the delivery's), absent values left out."""
    fields: dict[str, Any] = {
        "attempt": attempt.attempt,
        "round": attempt.round,
        "startedAt": attempt.started_at,
        "outcome": attempt.outcome.value,
        "finishedAt": attempt.finished_at,
        "statusCode": attempt.status_code,
        "durationMs": attempt.duration_ms,
        "responseBody": attempt.response_body,
        "responseTruncated": attempt.response_truncated or None,
        "error": attempt.error,
        "retryAfterSeconds": attempt.retry_after_seconds,
    }
    return {name: value for name, value in fields.items() if value is not None}


def _new_write_id() -> str:
    return uuid.uuid4().hex


def _written_by(stored: Mapping[str, Any] | None, write_id: str) -> bool:
    """Whether the stored item is this write's own work (its first try went through)."""
    return stored is not None and stored.get(WRITE_ID) == write_id


def _claimed_with(stored: Mapping[str, Any] | None, token: str, attempt: int) -> bool:
    """Whether the stored delivery is this claim's own work: attempt `attempt` under `token`."""
    return (
        stored is not None
        and stored.get("leaseToken") == token
        and stored.get("attempts") == attempt
        and stored.get("inFlight") is True
    )


def _absent_or_expired(now: float) -> Expression:
    """A new item's condition: none stored under its key, or only one past its TTL (deleted lazily)."""
    new = Expression()
    return new.require(new.any_of(new.missing("pk"), new.compare("expiresAt", "<", int(now))))


def _state_pk(tenant_id: str, state: DeliveryState) -> str:
    return f"{tenant_id}#{state.value}"


def _clip(text: str | None, limit: int) -> str | None:
    if text is None or len(text) <= limit:
        return text
    return text[:limit] + "…"


def _float(item: Mapping[str, Any], name: str) -> float | None:
    value = item.get(name)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _int(item: Mapping[str, Any], name: str, default: int = 0) -> int:
    number = _float(item, name)
    return int(number) if number is not None else default


def _str(item: Mapping[str, Any], name: str) -> str | None:
    value = item.get(name)
    return value if isinstance(value, str) else None


def _delivery(item: Mapping[str, Any]) -> Delivery:
    status = _float(item, "lastStatus")
    return Delivery(
        delivery_id=item["deliveryId"],
        tenant_id=item["tenantId"],
        event_id=item["eventId"],
        event_name=item["eventName"],
        event_version=item["eventVersion"],
        rule_name=item["ruleName"],
        action=item["action"],
        state=DeliveryState(item["state"]),
        created_at=_float(item, "createdAt") or 0.0,
        updated_at=_float(item, "updatedAt") or 0.0,
        attempts=_int(item, "attempts"),
        attempt_limit=_int(item, "attemptLimit", 1),
        round=_int(item, "round", 1),
        round_start=_int(item, "roundStart"),
        next_attempt_at=_float(item, "nextAttemptAt") or 0.0,
        in_flight=item.get("inFlight") is True,
        lease_token=_str(item, "leaseToken"),
        lease_until=_float(item, "leaseUntil"),
        last_outcome=_str(item, "lastOutcome"),
        last_status=int(status) if status is not None else None,
        last_error=_str(item, "lastError"),
        envelope=_envelope(item),
        latest_attempt=_latest_attempt(item),
    )


def _stored_envelope(envelope: EventEnvelope) -> str:
    """The envelope's JSON without the fields the delivery item holds anyway (every byte over 1 KB
    costs a write unit on each write of the item)."""
    fields = {
        name: value
        for name, value in envelope.header_fields().items()
        if name not in _ENVELOPE_FIELDS_IN_THE_ITEM
    }
    return json.dumps({**fields, "payload": envelope.payload}, ensure_ascii=False, separators=(",", ":"))


def _envelope(item: Mapping[str, Any]) -> EventEnvelope | None:
    text = _str(item, "envelope")
    if not text:
        return None
    # Items written before the fields were left out hold them too, with the same values.
    return EventEnvelope.from_fields(
        {**json.loads(text), **{name: item[name] for name in _ENVELOPE_FIELDS_IN_THE_ITEM}}
    )


def _latest_attempt(item: Mapping[str, Any]) -> Attempt | None:
    fields = item.get(LAST_ATTEMPT)
    if not isinstance(fields, Mapping):
        return None
    ids = {name: item[name] for name in ("deliveryId", "tenantId", "eventId", "ruleName", "action")}
    return _attempt({**fields, **ids})


def _attempt(item: Mapping[str, Any]) -> Attempt:
    status = _float(item, "statusCode")
    duration = _float(item, "durationMs")
    return Attempt(
        delivery_id=item["deliveryId"],
        attempt=_int(item, "attempt"),
        tenant_id=item["tenantId"],
        event_id=item["eventId"],
        rule_name=item["ruleName"],
        action=item["action"],
        round=_int(item, "round", 1),
        started_at=_float(item, "startedAt") or 0.0,
        outcome=AttemptOutcome(item["outcome"]),
        finished_at=_float(item, "finishedAt"),
        status_code=int(status) if status is not None else None,
        duration_ms=int(duration) if duration is not None else None,
        response_body=_str(item, "responseBody"),
        response_truncated=item.get("responseTruncated") is True,
        error=_str(item, "error"),
        retry_after_seconds=_float(item, "retryAfterSeconds"),
    )
