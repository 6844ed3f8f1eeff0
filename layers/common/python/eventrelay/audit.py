"""The audit log in the config table: who changed what, per tenant, never any value.

Item: `pk = TENANT#<tenantId>`, `sk = AUDIT#<ISO UTC time>#<uuid>` (the time first, so a query
reads newest first), `subject`, `operation` (created, updated, deleted, ...), `resourceKind`,
`resourceName`, `attributes` (names only), `requestId` (optional), and `expiresAt`: DynamoDB's
TTL deletes an entry `RETENTION_DAYS` after it was written.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from eventrelay.clock import Clock, iso_utc, system_clock
from eventrelay.dynamodb import Expression, Item, Table
from eventrelay.errors import InvalidResource

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

RETENTION_DAYS = 400
MAX_PAGE = 500
_PREFIX = "AUDIT#"
# Sorts after every "AUDIT#<ISO time>#..." key: the upper bound of a first page.
_AFTER_EVERY_ENTRY = _PREFIX + "~"


class InvalidAuditQuery(InvalidResource):
    """A limit out of range or a cursor this log did not hand out."""


@dataclass(frozen=True)
class AuditEntry:
    """One change: `operation` on the resource `resource_kind`/`resource_name`, by `subject`."""

    tenant_id: str
    subject: str
    operation: str
    resource_kind: str
    resource_name: str
    attributes: tuple[str, ...] = ()
    request_id: str | None = None
    at: str = ""

    def to_view(self) -> dict[str, Any]:
        return {
            "at": self.at,
            "subject": self.subject,
            "operation": self.operation,
            "resourceKind": self.resource_kind,
            "resourceName": self.resource_name,
            "attributes": list(self.attributes),
            "requestId": self.request_id,
        }


@dataclass(frozen=True)
class AuditPage:
    entries: list[AuditEntry] = field(default_factory=list)
    cursor: str | None = None
    """Pass it back for the next (older) page; None on the last page."""


class AuditLog:
    def __init__(self, table_name: str, client: DynamoDBClient, clock: Clock = system_clock) -> None:
        self._table = Table(table_name, client)
        self._clock = clock

    def append(
        self,
        tenant_id: str,
        *,
        subject: str,
        operation: str,
        resource_kind: str,
        resource_name: str,
        attributes: Sequence[str] = (),
        request_id: str | None = None,
    ) -> AuditEntry:
        now = self._clock()
        entry = AuditEntry(
            tenant_id=tenant_id,
            subject=subject,
            operation=operation,
            resource_kind=resource_kind,
            resource_name=resource_name,
            attributes=tuple(dict.fromkeys(attributes)),
            request_id=request_id,
            at=iso_utc(now),
        )
        item: Item = {
            "pk": _partition(tenant_id),
            "sk": f"{_PREFIX}{entry.at}#{uuid.uuid4().hex}",
            "subject": entry.subject,
            "operation": entry.operation,
            "resourceKind": entry.resource_kind,
            "resourceName": entry.resource_name,
            "attributes": list(entry.attributes),
            "at": entry.at,
            "expiresAt": int(now) + RETENTION_DAYS * 24 * 3600,
        }
        if request_id is not None:
            item["requestId"] = request_id
        self._table.put(item)
        return entry

    def list(self, tenant_id: str, *, limit: int = 50, cursor: str | None = None) -> AuditPage:
        """A page of the tenant's entries, newest first."""
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidAuditQuery(f"invalid audit query: limit: between 1 and {MAX_PAGE}")
        before = _decode(cursor) if cursor is not None else None
        e = Expression()
        # BETWEEN is inclusive: the cursor's own entry comes back and is skipped below.
        e.key(e.equals("pk", _partition(tenant_id)), e.between("sk", _PREFIX, before or _AFTER_EVERY_ENTRY))
        page: list[tuple[str, AuditEntry]] = []
        for item in self._table.query(e, newest_first=True):
            if item["sk"] == before:
                continue
            page.append((item["sk"], _entry(tenant_id, item)))
            if len(page) > limit:
                break
        if len(page) <= limit:
            return AuditPage([entry for _key, entry in page])
        return AuditPage([entry for _key, entry in page[:limit]], _encode(page[limit - 1][0]))


def _partition(tenant_id: str) -> str:
    return f"TENANT#{tenant_id}"


def _entry(tenant_id: str, item: Item) -> AuditEntry:
    return AuditEntry(
        tenant_id=tenant_id,
        subject=item["subject"],
        operation=item["operation"],
        resource_kind=item["resourceKind"],
        resource_name=item["resourceName"],
        attributes=tuple(item.get("attributes") or ()),
        request_id=item.get("requestId"),
        at=item["at"],
    )


def _encode(sort_key: str) -> str:
    return base64.urlsafe_b64encode(sort_key.encode()).decode().rstrip("=")


def _decode(cursor: str) -> str:
    try:
        sort_key = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError):
        sort_key = ""
    if not sort_key.startswith(_PREFIX):
        raise InvalidAuditQuery("invalid audit query: cursor: not one this audit log handed out")
    return sort_key
