"""Who acts (`Actor`), the record of each change (`Auditor`) and its reading (`AuditAdmin`).

Areas call `Auditor.record` after a change succeeds, with attribute NAMES only (credentials as
`credentials.<name>`): an entry never holds a value. The entry is a second write, not in the
change's transaction (changes span Secrets Manager and several items): when DynamoDB fails right
between the two, the change stands unrecorded and the caller gets DependencyFailure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from eventrelay.audit import AuditLog, AuditPage

if TYPE_CHECKING:
    from eventrelay.admin.tenants import TenantAdmin


@dataclass(frozen=True)
class Actor:
    """Who makes the changes: the token's subject (admin API), `cli:<os user>` (CLI)."""

    subject: str
    request_id: str | None = None


UNATTRIBUTED = Actor("unattributed")


def written_attributes(written: Iterable[str]) -> list[str]:
    """The names of a created resource's attributes (its name aside: the entry names it)."""
    return [name for name in written if name != "name"]


def changed_attributes(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    """The names of the attributes whose values differ (either side may lack one)."""
    return [name for name in {**before, **after} if before.get(name) != after.get(name)]


class Auditor:
    def __init__(self, log: AuditLog, actor: Actor) -> None:
        self._log = log
        self._actor = actor

    def record(
        self,
        tenant_id: str,
        operation: str,
        resource_kind: str,
        resource_name: str,
        attributes: Iterable[str] = (),
    ) -> None:
        self._log.append(
            tenant_id,
            subject=self._actor.subject,
            operation=operation,
            resource_kind=resource_kind,
            resource_name=resource_name,
            attributes=tuple(attributes),
            request_id=self._actor.request_id,
        )


class AuditAdmin:
    """`eventrelay audit list`, and next the admin API's audit route."""

    def __init__(self, tenants: TenantAdmin, log: AuditLog) -> None:
        self._tenants = tenants
        self._log = log

    def list(self, tenant_id: str, *, limit: int = 50, cursor: str | None = None) -> AuditPage:
        """A page of the tenant's changes, newest first; TenantNotFound for an unknown tenant."""
        self._tenants.show(tenant_id)
        return self._log.list(tenant_id, limit=limit, cursor=cursor)
