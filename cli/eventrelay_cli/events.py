"""`eventrelay event register|list|delete`."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from eventrelay.admin import EventsAdmin
from eventrelay.registrations import InvalidSchema, Registration, RegistrationKind, schema_from_text
from eventrelay.tenants import TenantNotFound
from eventrelay.validation import validation_problems
from eventrelay_cli.context import EXIT_NOT_FOUND, EXIT_USAGE, CliError


def _view(registration: Registration) -> dict[str, Any]:
    view: dict[str, Any] = {
        "tenantId": registration.tenant_id,
        "eventName": registration.event_name,
        "eventVersion": registration.event_version,
        "kind": registration.kind.value,
        "createdAt": registration.created_at,
    }
    if registration.json_schema is not None:
        view["schema"] = registration.json_schema
    if registration.description:
        view["description"] = registration.description
    return view


def event_register(args: argparse.Namespace) -> int:
    schema = None
    if args.schema:
        try:
            schema = schema_from_text(Path(args.schema).read_text(encoding="utf-8"))
        except OSError as exc:
            raise CliError(f"cannot read schema file: {exc.strerror}", EXIT_USAGE) from None
        except InvalidSchema as exc:
            raise CliError(str(exc), EXIT_USAGE) from None
    kind = RegistrationKind(args.kind)
    if schema is not None and kind is RegistrationKind.SYSTEM_ASSET:
        raise CliError("--schema and --kind system_asset exclude each other", EXIT_USAGE)
    try:
        registration = EventsAdmin(args.context.settings).register_event(
            args.tenant_id, args.event_name, args.event_version, kind, schema, args.description or ""
        )
    except TenantNotFound:
        raise CliError(f"tenant {args.tenant_id!r} not found", EXIT_NOT_FOUND) from None
    except ValidationError as exc:
        raise CliError("; ".join(validation_problems(exc, root="input")), EXIT_USAGE) from None
    args.context.emit(
        _view(registration),
        lambda v: f"registered {v['eventName']}/{v['eventVersion']} ({v['kind']}) for {v['tenantId']}",
    )
    return 0


def event_list(args: argparse.Namespace) -> int:
    rows = [_view(r) for r in EventsAdmin(args.context.settings).registrations.list(args.tenant_id)]
    args.context.emit(
        rows,
        lambda rs: "\n".join(f"{r['eventName']}\t{r['eventVersion']}\t{r['kind']}" for r in rs) or "(none)",
    )
    return 0


def event_delete(args: argparse.Namespace) -> int:
    deleted = EventsAdmin(args.context.settings).registrations.delete(
        args.tenant_id, args.event_name, args.event_version
    )
    if not deleted:
        raise CliError(
            f"{args.event_name}/{args.event_version} is not registered for {args.tenant_id}", EXIT_NOT_FOUND
        )
    args.context.emit({"deleted": True}, lambda _: f"deleted {args.event_name}/{args.event_version}")
    return 0


def register(subparsers: Any) -> None:
    event = subparsers.add_parser("event", help="event registrations").add_subparsers(
        dest="action", metavar="ACTION", required=True
    )
    reg = event.add_parser("register", help="register an event a tenant may publish")
    reg.add_argument("tenant_id")
    reg.add_argument("event_name")
    reg.add_argument("event_version", help="like v01")
    reg.add_argument(
        "--kind",
        choices=[k.value for k in RegistrationKind],
        default="open",
        help="open (any JSON object), json_schema (with --schema) or system_asset",
    )
    reg.add_argument("--schema", help="a JSON Schema file payloads must satisfy")
    reg.add_argument("--description")
    reg.set_defaults(handler=event_register)
    lst = event.add_parser("list", help="a tenant's registrations")
    lst.add_argument("tenant_id")
    lst.set_defaults(handler=event_list)
    delete = event.add_parser("delete", help="delete a registration")
    delete.add_argument("tenant_id")
    delete.add_argument("event_name")
    delete.add_argument("event_version")
    delete.set_defaults(handler=event_delete)
