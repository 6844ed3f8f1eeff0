"""A tenant's audit log: who changed what (attribute names, never values), newest first."""

from __future__ import annotations

from typing import Any

from eventrelay.admin_api.inputs import Fields, query_integer
from eventrelay.admin_api.routing import AdminCall, Reply, RouteTable
from eventrelay.audit import MAX_PAGE, AuditPage

routes = RouteTable()

DEFAULT_PAGE = 50


def audit_page_view(page: AuditPage) -> dict[str, Any]:
    """`entries`, newest first, and `nextCursor`: pass it back as `cursor` for older ones (null: none)."""
    return {"entries": [entry.to_view() for entry in page.entries], "nextCursor": page.cursor}


@routes.get("/tenants/{tenantId}/audit")
def list_audit(call: AdminCall) -> Reply:
    """A page of a tenant's audit entries, newest first."""
    query = Fields(call.query)
    query.refuse_unknown({"limit", "cursor"})
    limit = query_integer(call.query, "limit", minimum=1, maximum=MAX_PAGE) or DEFAULT_PAGE
    page = call.service.audit.list(call.tenant_id, limit=limit, cursor=query.text("cursor") or None)
    return Reply(audit_page_view(page))
