"""Deliveries and their attempts in the deliveries table (`pk`, `sk`, TTL `expiresAt`).

Items:
- a delivery: `pk = "DELIVERY#<deliveryId>"`, `sk = "DELIVERY"`, its state and a copy of the event
  envelope (so retries and replays need nothing else);
- its attempts: same `pk`, `sk = "ATTEMPT#<00001>"`, one item per attempt.
Indexes (deliveries only; attempts carry no index keys), newest first by creation time:
- `byTenant`: `tenantPk = <tenantId>`, `tenantSk = <createdAt ISO>#<deliveryId>`;
- `byEvent`:  `eventPk = <tenantId>#<eventId>`, `eventSk = <rule name>`;
- `byState`:  `statePk = <tenantId>#<state>`, `stateSk = <createdAt ISO>#<deliveryId>`.

Retention (TTL): every item expires `retention_seconds` (default 30 days) after its last write;
a delivery's last change (or a replay) keeps it and starts the period again. Expired items are
also ignored when read, as DynamoDB deletes them lazily.

Exactly-once bookkeeping is done with conditional writes: a new delivery is written together with
its first attempt claimed, refused if the id exists; claiming a later attempt is one transaction
that moves `attempts` from k to k+1, sets the lease and writes the attempt item, conditional on
the delivery being exactly as read; recording an outcome and settling the delivery are
conditional on the claim's lease token.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from eventrelay.clock import Clock, iso_utc, system_clock
from eventrelay.delivery.models import (
    Attempt,
    AttemptOutcome,
    AttemptResult,
    Delivery,
    DeliveryState,
)
from eventrelay.envelopes import EventEnvelope

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

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

Item = dict[str, "AttributeValueTypeDef"]


def delivery_pk(delivery_id: str) -> str:
    return f"DELIVERY#{delivery_id}"


def attempt_sk(attempt: int) -> str:
    return f"{ATTEMPT_SK_PREFIX}{attempt:05d}"


def _n(value: float | int) -> AttributeValueTypeDef:
    return {"N": repr(value) if isinstance(value, float) else str(value)}


def _s(value: str) -> AttributeValueTypeDef:
    return {"S": value}


def _conditional_failure(exc: ClientError) -> bool:
    error = exc.response.get("Error", {})
    code = error.get("Code")
    if code == "ConditionalCheckFailedException":
        return True
    if code == "TransactionCanceledException":
        # A failed condition or a concurrent transaction on the same item: the other writer won.
        reasons = exc.response.get("CancellationReasons", [])
        codes = {reason.get("Code") for reason in reasons}
        return bool(codes & {"ConditionalCheckFailed", "TransactionConflict"}) or not reasons
    return False


class DeliveryStore:
    def __init__(
        self,
        table_name: str,
        dynamodb_client: DynamoDBClient,
        clock: Clock = system_clock,
        retention_seconds: int = DEFAULT_RETENTION_SECONDS,
    ) -> None:
        self.table_name = table_name
        self._client = dynamodb_client
        self._clock = clock
        self._retention = retention_seconds

    # ---- deliveries

    def create_claimed(self, delivery: Delivery, token: str, lease_seconds: float) -> Delivery | None:
        """Save a new delivery with its first attempt already claimed (one transaction, the common path).

        None if a delivery with this id exists: the caller reads it and carries on from its state.
        """
        now = self._clock()
        claimed = delivery.with_changes(
            attempts=1, in_flight=True, lease_token=token, lease_until=now + lease_seconds, updated_at=now
        )
        item = self._delivery_item(claimed)
        item["leaseToken"] = _s(token)
        item["leaseUntil"] = _n(now + lease_seconds)
        try:
            self._client.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self.table_name,
                            "Item": item,
                            "ConditionExpression": "attribute_not_exists(#pk) OR #expiresAt < :now",
                            "ExpressionAttributeNames": {"#pk": "pk", "#expiresAt": "expiresAt"},
                            "ExpressionAttributeValues": {":now": _n(int(now))},
                        }
                    },
                    {"Put": self._new_attempt_put(claimed, token, now)},
                ]
            )
        except ClientError as exc:
            if _conditional_failure(exc):
                return None
            raise
        return claimed

    def get(self, delivery_id: str) -> Delivery | None:
        response = self._client.get_item(
            TableName=self.table_name,
            Key={"pk": _s(delivery_pk(delivery_id)), "sk": _s(DELIVERY_SK)},
            ConsistentRead=True,
        )
        item = response.get("Item")
        if item is None or self._expired(item):
            return None
        return _delivery(item)

    def claim(self, delivery: Delivery, token: str, lease_seconds: float) -> Delivery | None:
        """Start attempt `attempts + 1` if the delivery is still exactly as read; None if another won.

        One transaction: the delivery gets the lease and its new attempt count, and the attempt
        item is written IN_FLIGHT (so a runner that dies mid-call leaves a visible trace).
        """
        now = self._clock()
        number = delivery.attempts + 1
        claimed = delivery.with_changes(
            attempts=number,
            in_flight=True,
            lease_token=token,
            lease_until=now + lease_seconds,
            updated_at=now,
        )
        try:
            self._client.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": self.table_name,
                            "Key": self._key(delivery.delivery_id),
                            "UpdateExpression": (
                                "SET #attempts = :number, #inFlight = :true, #leaseToken = :token, "
                                "#leaseUntil = :until, #updatedAt = :now, #expiresAt = :expires"
                            ),
                            "ConditionExpression": (
                                "#attempts = :expected AND #inFlight = :false AND #round = :round "
                                "AND #state = :state AND #attemptLimit >= :number"
                            ),
                            "ExpressionAttributeNames": {
                                "#attempts": "attempts",
                                "#inFlight": "inFlight",
                                "#leaseToken": "leaseToken",
                                "#leaseUntil": "leaseUntil",
                                "#updatedAt": "updatedAt",
                                "#expiresAt": "expiresAt",
                                "#round": "round",
                                "#state": "state",
                                "#attemptLimit": "attemptLimit",
                            },
                            "ExpressionAttributeValues": {
                                ":number": _n(number),
                                ":expected": _n(delivery.attempts),
                                ":true": {"BOOL": True},
                                ":false": {"BOOL": False},
                                ":token": _s(token),
                                ":until": _n(now + lease_seconds),
                                ":now": _n(now),
                                ":expires": _n(self._expires(now)),
                                ":round": _n(delivery.round),
                                ":state": _s(delivery.state.value),
                            },
                        }
                    },
                    {"Put": self._new_attempt_put(claimed, token, now)},
                ]
            )
        except ClientError as exc:
            if _conditional_failure(exc):
                return None
            raise
        return claimed

    def _new_attempt_put(self, claimed: Delivery, token: str, now: float) -> Any:
        """The Put of a claimed delivery's new attempt item, IN_FLIGHT under the claim's token."""
        attempt = Attempt(
            delivery_id=claimed.delivery_id,
            attempt=claimed.attempts,
            tenant_id=claimed.tenant_id,
            event_id=claimed.event_id,
            rule_name=claimed.rule_name,
            action=claimed.action,
            round=claimed.round,
            started_at=now,
        )
        item = self._attempt_item(attempt)
        item["leaseToken"] = _s(token)
        return {
            "TableName": self.table_name,
            "Item": item,
            "ConditionExpression": "attribute_not_exists(#pk) OR #expiresAt < :now",
            "ExpressionAttributeNames": {"#pk": "pk", "#expiresAt": "expiresAt"},
            "ExpressionAttributeValues": {":now": _n(int(now))},
        }

    def settle(
        self,
        delivery: Delivery,
        token: str,
        state: DeliveryState,
        result: AttemptResult,
        next_attempt_at: float | None = None,
    ) -> Delivery | None:
        """End the running attempt of `delivery` (claimed with `token`); None if the lease was lost."""
        now = self._clock()
        settled = delivery.with_changes(
            state=state,
            in_flight=False,
            lease_token=None,
            lease_until=None,
            updated_at=now,
            next_attempt_at=next_attempt_at if next_attempt_at is not None else delivery.next_attempt_at,
            last_outcome=result.outcome.value,
            last_status=result.status_code,
            last_error=_clip(result.error, MAX_ERROR_CHARS),
        )
        values: dict[str, AttributeValueTypeDef] = {
            ":state": _s(state.value),
            ":false": {"BOOL": False},
            ":true": {"BOOL": True},
            ":now": _n(now),
            ":next": _n(settled.next_attempt_at),
            ":outcome": _s(result.outcome.value),
            ":statePk": _s(_state_pk(delivery.tenant_id, state)),
            ":expires": _n(self._expires(now)),
            ":token": _s(token),
            ":attempts": _n(delivery.attempts),
        }
        sets = [
            "#state = :state",
            "#inFlight = :false",
            "#updatedAt = :now",
            "#nextAttemptAt = :next",
            "#lastOutcome = :outcome",
            "#statePk = :statePk",
            "#expiresAt = :expires",
        ]
        removes = ["#leaseToken", "#leaseUntil"]
        names = {
            "#state": "state",
            "#inFlight": "inFlight",
            "#updatedAt": "updatedAt",
            "#nextAttemptAt": "nextAttemptAt",
            "#lastOutcome": "lastOutcome",
            "#statePk": "statePk",
            "#expiresAt": "expiresAt",
            "#leaseToken": "leaseToken",
            "#leaseUntil": "leaseUntil",
            "#attempts": "attempts",
            "#lastStatus": "lastStatus",
            "#lastError": "lastError",
        }
        if settled.last_status is not None:
            sets.append("#lastStatus = :status")
            values[":status"] = _n(settled.last_status)
        else:
            removes.append("#lastStatus")
        if settled.last_error is not None:
            sets.append("#lastError = :error")
            values[":error"] = _s(settled.last_error)
        else:
            removes.append("#lastError")
        try:
            self._client.update_item(
                TableName=self.table_name,
                Key=self._key(delivery.delivery_id),
                UpdateExpression="SET " + ", ".join(sets) + " REMOVE " + ", ".join(removes),
                ConditionExpression="#leaseToken = :token AND #attempts = :attempts AND #inFlight = :true",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except ClientError as exc:
            if _conditional_failure(exc):
                return None
            raise
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
        try:
            self._client.update_item(
                TableName=self.table_name,
                Key=self._key(current.delivery_id),
                UpdateExpression=(
                    "SET #state = :state, #round = :round, #roundStart = :roundStart, "
                    "#attemptLimit = :limit, #nextAttemptAt = :next, #updatedAt = :now, "
                    "#statePk = :statePk, #expiresAt = :expires"
                ),
                ConditionExpression=(
                    "#state = :expectedState AND #round = :expectedRound AND #attempts = :attempts "
                    "AND #inFlight = :false"
                ),
                ExpressionAttributeNames={
                    "#state": "state",
                    "#round": "round",
                    "#roundStart": "roundStart",
                    "#attemptLimit": "attemptLimit",
                    "#nextAttemptAt": "nextAttemptAt",
                    "#updatedAt": "updatedAt",
                    "#statePk": "statePk",
                    "#expiresAt": "expiresAt",
                    "#attempts": "attempts",
                    "#inFlight": "inFlight",
                },
                ExpressionAttributeValues={
                    ":state": _s(target.state.value),
                    ":round": _n(target.round),
                    ":roundStart": _n(target.round_start),
                    ":limit": _n(target.attempt_limit),
                    ":next": _n(target.next_attempt_at),
                    ":now": _n(target.updated_at),
                    ":statePk": _s(_state_pk(target.tenant_id, target.state)),
                    ":expires": _n(self._expires(target.updated_at)),
                    ":expectedState": _s(current.state.value),
                    ":expectedRound": _n(current.round),
                    ":attempts": _n(current.attempts),
                    ":false": {"BOOL": False},
                },
            )
        except ClientError as exc:
            if _conditional_failure(exc):
                return None
            raise
        return target

    # ---- attempts

    def record_attempt(self, delivery_id: str, attempt: int, token: str, result: AttemptResult) -> bool:
        """Write the outcome of an attempt still IN_FLIGHT under `token`; False if it was not."""
        values: dict[str, AttributeValueTypeDef] = {
            ":outcome": _s(result.outcome.value),
            ":finished": _n(result.finished_at),
            ":duration": _n(result.duration_ms),
            ":truncated": {"BOOL": result.response_truncated},
            ":inFlight": _s(AttemptOutcome.IN_FLIGHT.value),
            ":token": _s(token),
        }
        sets = [
            "#outcome = :outcome",
            "#finishedAt = :finished",
            "#durationMs = :duration",
            "#responseTruncated = :truncated",
        ]
        names = {
            "#outcome": "outcome",
            "#finishedAt": "finishedAt",
            "#durationMs": "durationMs",
            "#responseTruncated": "responseTruncated",
            "#leaseToken": "leaseToken",
        }
        optional: Mapping[str, tuple[str, AttributeValueTypeDef | None]] = {
            "statusCode": (
                ":status",
                _n(result.status_code) if result.status_code is not None else None,
            ),
            "responseBody": (
                ":body",
                _s(_clip(result.response_body, MAX_BODY_CHARS) or "")
                if result.response_body is not None
                else None,
            ),
            "error": (":error", _s(_clip(result.error, MAX_ERROR_CHARS) or "") if result.error else None),
            "retryAfterSeconds": (
                ":retryAfter",
                _n(float(result.retry_after_seconds)) if result.retry_after_seconds is not None else None,
            ),
        }
        for attribute, (placeholder, value) in optional.items():
            if value is not None:
                sets.append(f"#{attribute} = {placeholder}")
                names[f"#{attribute}"] = attribute
                values[placeholder] = value
        try:
            self._client.update_item(
                TableName=self.table_name,
                Key={"pk": _s(delivery_pk(delivery_id)), "sk": _s(attempt_sk(attempt))},
                UpdateExpression="SET " + ", ".join(sets),
                ConditionExpression="#outcome = :inFlight AND #leaseToken = :token",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except ClientError as exc:
            if _conditional_failure(exc):
                return False
            raise
        return True

    def attempt(self, delivery_id: str, attempt: int) -> Attempt | None:
        response = self._client.get_item(
            TableName=self.table_name,
            Key={"pk": _s(delivery_pk(delivery_id)), "sk": _s(attempt_sk(attempt))},
            ConsistentRead=True,
        )
        item = response.get("Item")
        return _attempt(item) if item is not None else None

    def attempts(self, delivery_id: str) -> list[Attempt]:
        """Every recorded attempt of a delivery, oldest first."""
        query: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "#pk = :pk AND begins_with(#sk, :prefix)",
            "ExpressionAttributeNames": {"#pk": "pk", "#sk": "sk"},
            "ExpressionAttributeValues": {
                ":pk": _s(delivery_pk(delivery_id)),
                ":prefix": _s(ATTEMPT_SK_PREFIX),
            },
            "ConsistentRead": True,
        }
        found: list[Attempt] = []
        while True:
            response = self._client.query(**query)
            found.extend(_attempt(item) for item in response.get("Items", []) if not self._expired(item))
            last = response.get("LastEvaluatedKey")
            if not last:
                return found
            query["ExclusiveStartKey"] = last

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
        names = {"#pk": partition_attribute}
        values: dict[str, AttributeValueTypeDef] = {":pk": _s(partition)}
        condition = "#pk = :pk"
        if sort_attribute is not None and (since is not None or until is not None):
            names["#sk"] = sort_attribute
            # "0" sorts before every ISO timestamp (index keys cannot be empty).
            values[":from"] = _s(iso_utc(since) if since is not None else "0")
            # "~" sorts after every character of an ISO timestamp and a delivery id.
            values[":to"] = _s(f"{iso_utc(until)}~" if until is not None else "~")
            condition += " AND #sk BETWEEN :from AND :to"
        query: dict[str, Any] = {
            "TableName": self.table_name,
            "IndexName": index,
            "KeyConditionExpression": condition,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
            "ScanIndexForward": not newest_first,
        }
        while True:
            response = self._client.query(**query)
            for item in response.get("Items", []):
                if not self._expired(item):
                    yield _delivery(item)
            last = response.get("LastEvaluatedKey")
            if not last:
                return
            query["ExclusiveStartKey"] = last

    # ---- items

    def _key(self, delivery_id: str) -> dict[str, AttributeValueTypeDef]:
        return {"pk": _s(delivery_pk(delivery_id)), "sk": _s(DELIVERY_SK)}

    def _expires(self, now: float) -> int:
        return int(now) + self._retention

    def _expired(self, item: Mapping[str, Any]) -> bool:
        expires = item.get("expiresAt", {}).get("N")
        return expires is not None and int(expires) < self._clock()

    def _delivery_item(self, delivery: Delivery) -> Item:
        created_key = f"{iso_utc(delivery.created_at)}#{delivery.delivery_id}"
        item: Item = {
            "pk": _s(delivery_pk(delivery.delivery_id)),
            "sk": _s(DELIVERY_SK),
            "kind": _s("DELIVERY"),
            "deliveryId": _s(delivery.delivery_id),
            "tenantId": _s(delivery.tenant_id),
            "eventId": _s(delivery.event_id),
            "eventName": _s(delivery.event_name),
            "eventVersion": _s(delivery.event_version),
            "ruleName": _s(delivery.rule_name),
            "action": _s(delivery.action),
            "state": _s(delivery.state.value),
            "attempts": _n(delivery.attempts),
            "attemptLimit": _n(delivery.attempt_limit),
            "round": _n(delivery.round),
            "roundStart": _n(delivery.round_start),
            "createdAt": _n(delivery.created_at),
            "updatedAt": _n(delivery.updated_at),
            "nextAttemptAt": _n(delivery.next_attempt_at),
            "inFlight": {"BOOL": delivery.in_flight},
            "tenantPk": _s(delivery.tenant_id),
            "tenantSk": _s(created_key),
            "eventPk": _s(f"{delivery.tenant_id}#{delivery.event_id}"),
            "eventSk": _s(delivery.rule_name),
            "statePk": _s(_state_pk(delivery.tenant_id, delivery.state)),
            "stateSk": _s(created_key),
            "expiresAt": _n(self._expires(delivery.updated_at)),
        }
        if delivery.envelope is not None:
            item["envelope"] = _s(delivery.envelope.to_message_body())
        return item

    def _attempt_item(self, attempt: Attempt) -> Item:
        return {
            "pk": _s(delivery_pk(attempt.delivery_id)),
            "sk": _s(attempt_sk(attempt.attempt)),
            "kind": _s("ATTEMPT"),
            "deliveryId": _s(attempt.delivery_id),
            "attempt": _n(attempt.attempt),
            "tenantId": _s(attempt.tenant_id),
            "eventId": _s(attempt.event_id),
            "ruleName": _s(attempt.rule_name),
            "action": _s(attempt.action),
            "round": _n(attempt.round),
            "startedAt": _n(attempt.started_at),
            "outcome": _s(attempt.outcome.value),
            "expiresAt": _n(self._expires(attempt.started_at)),
        }


def _state_pk(tenant_id: str, state: DeliveryState) -> str:
    return f"{tenant_id}#{state.value}"


def _clip(text: str | None, limit: int) -> str | None:
    if text is None or len(text) <= limit:
        return text
    return text[:limit] + "…"


def _str(item: Mapping[str, Any], name: str) -> str | None:
    value = item.get(name)
    return str(value["S"]) if value is not None and "S" in value else None


def _num(item: Mapping[str, Any], name: str) -> float | None:
    value = item.get(name)
    return float(value["N"]) if value is not None and "N" in value else None


def _int(item: Mapping[str, Any], name: str, default: int = 0) -> int:
    number = _num(item, name)
    return int(number) if number is not None else default


def _delivery(item: Mapping[str, Any]) -> Delivery:
    envelope_text = _str(item, "envelope")
    status = _num(item, "lastStatus")
    return Delivery(
        delivery_id=item["deliveryId"]["S"],
        tenant_id=item["tenantId"]["S"],
        event_id=item["eventId"]["S"],
        event_name=item["eventName"]["S"],
        event_version=item["eventVersion"]["S"],
        rule_name=item["ruleName"]["S"],
        action=item["action"]["S"],
        state=DeliveryState(item["state"]["S"]),
        created_at=_num(item, "createdAt") or 0.0,
        updated_at=_num(item, "updatedAt") or 0.0,
        attempts=_int(item, "attempts"),
        attempt_limit=_int(item, "attemptLimit", 1),
        round=_int(item, "round", 1),
        round_start=_int(item, "roundStart"),
        next_attempt_at=_num(item, "nextAttemptAt") or 0.0,
        in_flight=bool(item.get("inFlight", {}).get("BOOL", False)),
        lease_token=_str(item, "leaseToken"),
        lease_until=_num(item, "leaseUntil"),
        last_outcome=_str(item, "lastOutcome"),
        last_status=int(status) if status is not None else None,
        last_error=_str(item, "lastError"),
        envelope=EventEnvelope.model_validate(json.loads(envelope_text)) if envelope_text else None,
    )


def _attempt(item: Mapping[str, Any]) -> Attempt:
    status = _num(item, "statusCode")
    duration = _num(item, "durationMs")
    return Attempt(
        delivery_id=item["deliveryId"]["S"],
        attempt=_int(item, "attempt"),
        tenant_id=item["tenantId"]["S"],
        event_id=item["eventId"]["S"],
        rule_name=item["ruleName"]["S"],
        action=item["action"]["S"],
        round=_int(item, "round", 1),
        started_at=_num(item, "startedAt") or 0.0,
        outcome=AttemptOutcome(item["outcome"]["S"]),
        finished_at=_num(item, "finishedAt"),
        status_code=int(status) if status is not None else None,
        duration_ms=int(duration) if duration is not None else None,
        response_body=_str(item, "responseBody"),
        response_truncated=bool(item.get("responseTruncated", {}).get("BOOL", False)),
        error=_str(item, "error"),
        retry_after_seconds=_num(item, "retryAfterSeconds"),
    )
