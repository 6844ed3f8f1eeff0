"""`eventrelay tenant …`, `eventrelay secret rotate`, `eventrelay limits …`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from eventrelay_cli.exit_codes import EXIT_OK
from eventrelay_cli.framework import Group, pass_cli_context

if TYPE_CHECKING:
    from eventrelay_cli.context import CliContext


def _path(*segments: str) -> str:
    from eventrelay.admin_api.routing import admin_path

    return admin_path(*segments)


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
    body = {"tenantId": tenant_id, "name": name, "sharedSecret": secret}
    created = context.call("POST", _path("tenants"), body={k: v for k, v in body.items() if v is not None})
    context.emit(created, _show_secret_once)
    return EXIT_OK


@tenant.command("list")
@pass_cli_context
def tenant_list(context: CliContext) -> int:
    """List tenants."""
    tenants = context.call("GET", _path("tenants"))
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
    context.emit(context.call("GET", _path("tenants", tenant_id)))
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
    body = {} if overlap is None else {"overlapSeconds": overlap}
    rotated = context.call("POST", _path("tenants", tenant_id, "secret", "rotate"), body=body)
    context.emit(rotated, _show_secret_once)
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
    given = {
        "syncPerMinute": sync_per_minute,
        "syncPerDay": sync_per_day,
        "asyncPerHour": async_per_hour,
        "asyncPerDay": async_per_day,
    }
    body = {name: value for name, value in given.items() if value is not None}
    context.emit(context.call("PUT", _path("tenants", tenant_id, "limits"), body=body))
    return EXIT_OK


@limits.command("show")
@click.argument("tenant_id")
@pass_cli_context
def limits_show(context: CliContext, tenant_id: str) -> int:
    """A tenant's limits and current window usage."""
    view = context.call("GET", _path("tenants", tenant_id, "limits"))

    def human(data: dict[str, list[dict[str, Any]]]) -> str:
        return "\n".join(
            f"{kind}\t{w['window']}\tused {w['used']}\tremaining {w['remaining']}\tresets {w['resetsAt']}"
            for kind, windows in data.items()
            for w in windows
        )

    context.emit(view, human)
    return EXIT_OK
