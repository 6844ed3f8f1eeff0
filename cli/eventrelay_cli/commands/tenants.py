"""`eventrelay tenant …`, `eventrelay secret rotate`, `eventrelay limits …`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from eventrelay_cli.exit_codes import EXIT_OK
from eventrelay_cli.framework import Group, pass_cli_context

if TYPE_CHECKING:
    from eventrelay.admin import TenantWithSecret
    from eventrelay.tenants import Tenant
    from eventrelay_cli.context import CliContext


def _tenant_view(tenant: Tenant) -> dict[str, Any]:
    return {
        "tenantId": tenant.tenant_id,
        "name": tenant.name,
        "createdAt": tenant.created_at,
        "limits": tenant.limits.model_dump(exclude_none=True),
    }


def _secret_view(created: TenantWithSecret) -> dict[str, Any]:
    from eventrelay.clock import iso_utc

    view = {**_tenant_view(created.tenant), "sharedSecret": created.shared_secret}
    if created.previous_valid_until is not None:
        view["previousSecretValidUntil"] = iso_utc(created.previous_valid_until)
    return view


def _show_secret_once(data: dict[str, Any]) -> str:
    lines = [f"tenant {data['tenantId']} ({data['name']})", f"shared secret: {data['sharedSecret']}"]
    if "previousSecretValidUntil" in data:
        lines.append(f"the previous secret stays valid until {data['previousSecretValidUntil']}")
    lines.append("This secret is shown once: store it now (e.g. in your publisher's secret store).")
    return "\n".join(lines)


@click.group(cls=Group)
def tenant() -> None:
    """Create, list and show tenants."""


@click.group(cls=Group)
def secret() -> None:
    """Rotate a tenant's shared secret."""


@click.group(cls=Group)
def limits() -> None:
    """Per-tenant rate limits."""


@tenant.command("create")
@click.argument("tenant_id")
@click.option("--name", help="display name (default: the id)")
@click.option(
    "--secret",
    help="use this shared secret instead of generating one (for fixtures; may start with '-')",
)
@pass_cli_context
def tenant_create(context: CliContext, tenant_id: str, name: str | None, secret: str | None) -> int:
    """Create a tenant and show its shared secret once."""
    created = context.admin().tenants.create(tenant_id, name, secret)
    context.emit(_secret_view(created), _show_secret_once)
    return EXIT_OK


@tenant.command("list")
@pass_cli_context
def tenant_list(context: CliContext) -> int:
    """List tenants."""
    tenants = [_tenant_view(t) for t in context.admin().tenants.list()]
    context.emit(
        tenants,
        lambda rows: (
            "\n".join(f"{r['tenantId']}\t{r['name']}\t{r['createdAt']}" for r in rows) or "(no tenants)"
        ),
    )
    return EXIT_OK


@tenant.command("show")
@click.argument("tenant_id")
@pass_cli_context
def tenant_show(context: CliContext, tenant_id: str) -> int:
    """Show one tenant."""
    context.emit(_tenant_view(context.admin().tenants.show(tenant_id)))
    return EXIT_OK


@secret.command("rotate")
@click.argument("tenant_id")
@click.option(
    "--overlap",
    type=int,
    help="seconds the previous secret stays valid (default 86400 = 24 h; 0 revokes it at once)",
)
@pass_cli_context
def secret_rotate(context: CliContext, tenant_id: str, overlap: int | None) -> int:
    """Generate a new shared secret (shown once); the old one stays valid for the overlap."""
    from eventrelay.tenants import DEFAULT_ROTATION_OVERLAP_SECONDS

    overlap_seconds = DEFAULT_ROTATION_OVERLAP_SECONDS if overlap is None else overlap
    rotated = context.admin().tenants.rotate_secret(tenant_id, overlap_seconds)
    context.emit(_secret_view(rotated), _show_secret_once)
    return EXIT_OK


@limits.command("set")
@click.argument("tenant_id")
@click.option("--sync-per-minute", type=int)
@click.option("--sync-per-day", type=int)
@click.option("--async-per-hour", type=int)
@click.option("--async-per-day", type=int)
@pass_cli_context
def limits_set(
    context: CliContext,
    tenant_id: str,
    sync_per_minute: int | None,
    sync_per_day: int | None,
    async_per_hour: int | None,
    async_per_day: int | None,
) -> int:
    """Override a tenant's limits (others keep their current value)."""
    from eventrelay.admin import parse_limits

    overrides = parse_limits(
        {
            "sync_per_minute": sync_per_minute,
            "sync_per_day": sync_per_day,
            "async_per_hour": async_per_hour,
            "async_per_day": async_per_day,
        }
    )
    context.emit(_tenant_view(context.admin().tenants.set_limits(tenant_id, overrides)))
    return EXIT_OK


@limits.command("show")
@click.argument("tenant_id")
@pass_cli_context
def limits_show(context: CliContext, tenant_id: str) -> int:
    """A tenant's limits and current window usage."""
    from eventrelay.clock import iso_utc

    usage = context.admin().tenants.window_usage(tenant_id)
    view = {
        kind: [
            {
                "window": w.limit_item.describe(),
                "limit": w.limit_item.amount,
                "used": w.count,
                "remaining": w.remaining,
                "resetsAt": iso_utc(w.reset_at),
            }
            for w in windows
        ]
        for kind, windows in usage.items()
    }

    def human(data: dict[str, list[dict[str, Any]]]) -> str:
        return "\n".join(
            f"{kind}\t{w['window']}\tused {w['used']}\tremaining {w['remaining']}\tresets {w['resetsAt']}"
            for kind, windows in data.items()
            for w in windows
        )

    context.emit(view, human)
    return EXIT_OK
