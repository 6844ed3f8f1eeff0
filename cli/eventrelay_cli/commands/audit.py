"""`eventrelay audit list`: who changed what in a tenant, newest first (never a value)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from eventrelay_cli.exit_codes import EXIT_OK
from eventrelay_cli.framework import Group, pass_cli_context

if TYPE_CHECKING:
    from eventrelay_cli.context import CliContext


@click.group(cls=Group)
def audit() -> None:
    """The audit log: every change made through the admin service."""


def _line(view: dict[str, Any]) -> str:
    attributes = f" ({', '.join(view['attributes'])})" if view["attributes"] else ""
    request = f" request {view['requestId']}" if view["requestId"] else ""
    return (
        f"{view['at']} {view['subject']} {view['operation']} "
        f"{view['resourceKind']} {view['resourceName']}{attributes}{request}"
    )


@audit.command("list")
@click.argument("tenant_id")
@click.option("--limit", type=int, default=50, help="at most this many (default 50, up to 500)")
@click.option("--cursor", help="the cursor a previous page printed, for the next (older) entries")
@pass_cli_context
def audit_list(context: CliContext, tenant_id: str, limit: int, cursor: str | None) -> int:
    """A tenant's audit entries, newest first."""
    from eventrelay.admin_api.routing import admin_path

    query = {"limit": str(limit)}
    if cursor is not None:
        query["cursor"] = cursor
    page = context.call("GET", admin_path("tenants", tenant_id, "audit"), query=query)
    context.emit(page, lambda view: "\n".join(_line(v) for v in view["entries"]) or "(no entries)")
    if page["nextCursor"] is not None and not context.json_output:
        context.info(f"more: --cursor {page['nextCursor']}")
    return EXIT_OK
