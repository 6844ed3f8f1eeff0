"""`eventrelay tenant …`, `eventrelay secret rotate`, `eventrelay limits …`."""

from __future__ import annotations

import argparse
from typing import Any

from pydantic import ValidationError

from eventrelay.admin import EventsAdmin, TenantWithSecret
from eventrelay.clock import iso_utc
from eventrelay.tenants import (
    DEFAULT_ROTATION_OVERLAP_SECONDS,
    LimitOverrides,
    Tenant,
    TenantExists,
    TenantNotFound,
)
from eventrelay.validation import validation_problems
from eventrelay_cli.context import EXIT_CONFLICT, EXIT_NOT_FOUND, EXIT_USAGE, CliError


def _admin(args: argparse.Namespace) -> EventsAdmin:
    return EventsAdmin(args.context.settings)


def _tenant_view(tenant: Tenant) -> dict[str, Any]:
    return {
        "tenantId": tenant.tenant_id,
        "name": tenant.name,
        "createdAt": tenant.created_at,
        "limits": tenant.limits.model_dump(exclude_none=True),
    }


def _secret_view(created: TenantWithSecret) -> dict[str, Any]:
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


def tenant_create(args: argparse.Namespace) -> int:
    try:
        created = _admin(args).create_tenant(args.tenant_id, args.name or args.tenant_id, args.secret)
    except TenantExists:
        raise CliError(f"tenant {args.tenant_id!r} already exists", EXIT_CONFLICT) from None
    except ValidationError:
        raise CliError(
            "tenant id: letters, digits, _ . - (at most 64, starting with a letter or digit)", EXIT_USAGE
        ) from None
    args.context.emit(_secret_view(created), _show_secret_once)
    return 0


def tenant_list(args: argparse.Namespace) -> int:
    tenants = [_tenant_view(t) for t in _admin(args).tenants.list()]
    args.context.emit(
        tenants,
        lambda rows: (
            "\n".join(f"{r['tenantId']}\t{r['name']}\t{r['createdAt']}" for r in rows) or "(no tenants)"
        ),
    )
    return 0


def _require(admin: EventsAdmin, tenant_id: str) -> Tenant:
    try:
        return admin.require_tenant(tenant_id)
    except TenantNotFound:
        raise CliError(f"tenant {tenant_id!r} not found", EXIT_NOT_FOUND) from None


def tenant_show(args: argparse.Namespace) -> int:
    args.context.emit(_tenant_view(_require(_admin(args), args.tenant_id)))
    return 0


def secret_rotate(args: argparse.Namespace) -> int:
    admin = _admin(args)
    _require(admin, args.tenant_id)
    rotated = admin.rotate_secret(args.tenant_id, args.overlap)
    args.context.emit(_secret_view(rotated), _show_secret_once)
    return 0


def limits_set(args: argparse.Namespace) -> int:
    admin = _admin(args)
    _require(admin, args.tenant_id)
    try:
        overrides = LimitOverrides(
            sync_per_minute=args.sync_per_minute,
            sync_per_day=args.sync_per_day,
            async_per_hour=args.async_per_hour,
            async_per_day=args.async_per_day,
        )
    except ValidationError as exc:
        raise CliError("; ".join(validation_problems(exc, root="input")), EXIT_USAGE) from None
    tenant = admin.set_limits(args.tenant_id, overrides)
    args.context.emit(_tenant_view(tenant))
    return 0


def limits_show(args: argparse.Namespace) -> int:
    admin = _admin(args)
    _require(admin, args.tenant_id)
    usage = admin.window_usage(args.tenant_id)
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

    args.context.emit(view, human)
    return 0


def register(subparsers: Any) -> None:
    tenant = subparsers.add_parser("tenant", help="create, list and show tenants").add_subparsers(
        dest="action", metavar="ACTION", required=True
    )
    create = tenant.add_parser("create", help="create a tenant and show its shared secret once")
    create.add_argument("tenant_id")
    create.add_argument("--name", help="display name (default: the id)")
    create.add_argument("--secret", help="use this shared secret instead of generating one (for fixtures)")
    create.set_defaults(handler=tenant_create)
    tenant.add_parser("list", help="list tenants").set_defaults(handler=tenant_list)
    show = tenant.add_parser("show", help="show one tenant")
    show.add_argument("tenant_id")
    show.set_defaults(handler=tenant_show)

    secret = subparsers.add_parser("secret", help="rotate a tenant's shared secret").add_subparsers(
        dest="action", metavar="ACTION", required=True
    )
    rotate = secret.add_parser(
        "rotate", help="generate a new shared secret (shown once); the old one stays valid for the overlap"
    )
    rotate.add_argument("tenant_id")
    rotate.add_argument(
        "--overlap",
        type=int,
        default=DEFAULT_ROTATION_OVERLAP_SECONDS,
        help="seconds the previous secret stays valid (default 86400 = 24 h; 0 revokes it at once)",
    )
    rotate.set_defaults(handler=secret_rotate)

    limits = subparsers.add_parser("limits", help="per-tenant rate limits").add_subparsers(
        dest="action", metavar="ACTION", required=True
    )
    set_parser = limits.add_parser("set", help="override a tenant's limits (others keep their current value)")
    set_parser.add_argument("tenant_id")
    set_parser.add_argument("--sync-per-minute", type=int)
    set_parser.add_argument("--sync-per-day", type=int)
    set_parser.add_argument("--async-per-hour", type=int)
    set_parser.add_argument("--async-per-day", type=int)
    set_parser.set_defaults(handler=limits_set)
    show_limits = limits.add_parser("show", help="a tenant's limits and current window usage")
    show_limits.add_argument("tenant_id")
    show_limits.set_defaults(handler=limits_show)
