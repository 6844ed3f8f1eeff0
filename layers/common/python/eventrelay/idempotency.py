"""`Idempotency-Key` for publishes: a retry with the same key and body within 24 h returns the first answer.

One item per (tenant, key) in the config table, written only when a publisher sends the header:
`IN_PROGRESS` (claimed, with the eventId chosen up front) then `COMPLETED`. The body's fingerprint
decides between a replay (same body) and a conflict (1010).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from eventrelay.errors import DependencyFailure, IdempotencyConflict, Unavailable
from eventrelay.tenants import tenant_pk

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

IDEMPOTENCY_TTL_SECONDS = 24 * 3600
# A claim older than this was abandoned (the function timeout is far shorter): it may be taken over.
IN_PROGRESS_EXPIRY_SECONDS = 60


def fingerprint(*parts: bytes | str) -> str:
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode("utf-8", "surrogatepass") if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)
    return digest.hexdigest()


@dataclass(frozen=True)
class IdempotencyClaim:
    """The outcome of claiming a key: a fresh claim to complete, or the earlier answer to replay."""

    event_id: str
    replay: bool


class IdempotencyStore:
    def __init__(self, table_name: str, client: DynamoDBClient) -> None:
        self._table = table_name
        self._client = client

    @staticmethod
    def _key(tenant_id: str, idempotency_key: str) -> dict[str, dict[str, str]]:
        return {"pk": {"S": tenant_pk(tenant_id)}, "sk": {"S": f"IDEM#{idempotency_key}"}}

    def claim(
        self, tenant_id: str, idempotency_key: str, body_fingerprint: str, event_id: str, now: float
    ) -> IdempotencyClaim:
        try:
            self._client.put_item(
                TableName=self._table,
                Item={
                    **self._key(tenant_id, idempotency_key),
                    "fingerprint": {"S": body_fingerprint},
                    "eventId": {"S": event_id},
                    "status": {"S": "IN_PROGRESS"},
                    "claimExpiresAt": {"N": str(int(now) + IN_PROGRESS_EXPIRY_SECONDS)},
                    "expiresAt": {"N": str(int(now) + IDEMPOTENCY_TTL_SECONDS)},
                },
                # TTL deletes lazily: an expired record is treated as absent.
                ConditionExpression=(
                    "attribute_not_exists(#pk) OR #expiresAt < :now "
                    "OR (#status = :inProgress AND #claimExpiresAt < :now AND #fingerprint = :fingerprint)"
                ),
                ExpressionAttributeNames={
                    "#pk": "pk",
                    "#expiresAt": "expiresAt",
                    "#status": "status",
                    "#claimExpiresAt": "claimExpiresAt",
                    "#fingerprint": "fingerprint",
                },
                ExpressionAttributeValues={
                    ":now": {"N": str(int(now))},
                    ":inProgress": {"S": "IN_PROGRESS"},
                    ":fingerprint": {"S": body_fingerprint},
                },
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise DependencyFailure("dynamodb") from None
            # With ReturnValuesOnConditionCheckFailure the error carries the item as it stands.
            response: dict[str, Any] = dict(exc.response)
            existing: dict[str, Any] = response.get("Item") or {}
            if existing.get("fingerprint", {}).get("S") != body_fingerprint:
                raise IdempotencyConflict from None
            if existing.get("status", {}).get("S") == "COMPLETED":
                return IdempotencyClaim(event_id=existing["eventId"]["S"], replay=True)
            raise Unavailable(
                "A request with this Idempotency-Key is still being processed; retry shortly"
            ) from None
        except BotoCoreError:
            raise DependencyFailure("dynamodb") from None
        return IdempotencyClaim(event_id=event_id, replay=False)

    def complete(self, tenant_id: str, idempotency_key: str) -> None:
        self._client.update_item(
            TableName=self._table,
            Key=self._key(tenant_id, idempotency_key),
            UpdateExpression="SET #status = :completed REMOVE #claimExpiresAt",
            ExpressionAttributeNames={"#status": "status", "#claimExpiresAt": "claimExpiresAt"},
            ExpressionAttributeValues={":completed": {"S": "COMPLETED"}},
        )

    def release(self, tenant_id: str, idempotency_key: str, event_id: str) -> None:
        """Forget an unfinished claim so the publisher's retry is processed afresh."""
        try:
            self._client.delete_item(
                TableName=self._table,
                Key=self._key(tenant_id, idempotency_key),
                ConditionExpression="#eventId = :eventId AND #status = :inProgress",
                ExpressionAttributeNames={"#eventId": "eventId", "#status": "status"},
                ExpressionAttributeValues={":eventId": {"S": event_id}, ":inProgress": {"S": "IN_PROGRESS"}},
            )
        except (ClientError, BotoCoreError):
            # The claim expires by itself after IN_PROGRESS_EXPIRY_SECONDS.
            return
