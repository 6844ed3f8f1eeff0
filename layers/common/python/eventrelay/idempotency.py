"""`Idempotency-Key` for publishes: a retry with the same key and body within 24 h returns the first answer.

One item per (tenant, key) in the config table, written only when a publisher sends the header:
`IN_PROGRESS` (claimed, with the eventId chosen up front) then `COMPLETED`. The body's fingerprint
decides between a replay (same body) and a conflict (1010).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from eventrelay.dynamodb import ConditionFailed, Expression, Table
from eventrelay.errors import IdempotencyConflict, Unavailable
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
        self._table = Table(table_name, client)

    @staticmethod
    def _key(tenant_id: str, idempotency_key: str) -> dict[str, str]:
        return {"pk": tenant_pk(tenant_id), "sk": f"IDEM#{idempotency_key}"}

    def claim(
        self, tenant_id: str, idempotency_key: str, body_fingerprint: str, event_id: str, now: float
    ) -> IdempotencyClaim:
        claim = Expression()
        claim.require(
            claim.any_of(
                claim.missing("pk"),
                # TTL deletes lazily: an expired record is treated as absent.
                claim.compare("expiresAt", "<", int(now)),
                claim.all_of(
                    claim.equals("status", "IN_PROGRESS"),
                    claim.compare("claimExpiresAt", "<", int(now)),
                    claim.equals("fingerprint", body_fingerprint),
                ),
            )
        )
        try:
            self._table.put(
                {
                    **self._key(tenant_id, idempotency_key),
                    "fingerprint": body_fingerprint,
                    "eventId": event_id,
                    "status": "IN_PROGRESS",
                    "claimExpiresAt": int(now) + IN_PROGRESS_EXPIRY_SECONDS,
                    "expiresAt": int(now) + IDEMPOTENCY_TTL_SECONDS,
                },
                claim,
            )
        except ConditionFailed as refused:
            existing = refused.item or {}
            if existing.get("fingerprint") != body_fingerprint:
                raise IdempotencyConflict from None
            if existing.get("status") == "COMPLETED":
                return IdempotencyClaim(event_id=existing["eventId"], replay=True)
            raise Unavailable(
                "A request with this Idempotency-Key is still being processed; retry shortly"
            ) from None
        return IdempotencyClaim(event_id=event_id, replay=False)

    def complete(self, tenant_id: str, idempotency_key: str) -> None:
        done = Expression().set("status", "COMPLETED").remove("claimExpiresAt")
        self._table.update(self._key(tenant_id, idempotency_key), done)

    def release(self, tenant_id: str, idempotency_key: str, event_id: str) -> None:
        """Forget an unfinished claim so the publisher's retry is processed afresh.

        Raises DependencyFailure when DynamoDB fails; the claim then expires by itself after
        IN_PROGRESS_EXPIRY_SECONDS."""
        unfinished = Expression()
        unfinished.require(unfinished.equals("eventId", event_id), unfinished.equals("status", "IN_PROGRESS"))
        try:
            self._table.delete(self._key(tenant_id, idempotency_key), unfinished)
        except ConditionFailed:
            return  # no longer an unfinished claim of this event: nothing to forget
