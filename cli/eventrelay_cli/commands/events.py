"""`eventrelay event register|list|delete`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from eventrelay_cli.exit_codes import EXIT_OK, EXIT_USAGE, CliError
from eventrelay_cli.framework import Group, LazyChoice, enum_values, pass_cli_context

if TYPE_CHECKING:
    from eventrelay.registrations import Registration
    from eventrelay_cli.context import CliContext


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


@click.group(cls=Group)
def event() -> None:
    """Event registrations."""


@event.command("register")
@click.argument("tenant_id")
@click.argument("event_name")
@click.argument("event_version")
@click.option(
    "--kind",
    type=LazyChoice(enum_values("eventrelay.registrations:RegistrationKind")),
    default="open",
    show_default=True,
    help="open (any JSON object), json_schema (with --schema) or system_asset",
)
@click.option("--schema", help="a JSON Schema file payloads must satisfy")
@click.option("--description")
@pass_cli_context
def event_register(
    context: CliContext,
    tenant_id: str,
    event_name: str,
    event_version: str,
    kind: str,
    schema: str | None,
    description: str | None,
) -> int:
    """Register an event a tenant may publish (EVENT_VERSION like v01)."""
    from eventrelay.registrations import InvalidSchema, RegistrationKind, schema_from_text

    json_schema = None
    if schema:
        try:
            json_schema = schema_from_text(Path(schema).read_text(encoding="utf-8"))
        except OSError as exc:
            raise CliError(f"cannot read schema file: {exc.strerror}", EXIT_USAGE) from None
        except InvalidSchema as exc:
            raise CliError(str(exc), EXIT_USAGE) from None
    registration = context.admin().events.register(
        tenant_id, event_name, event_version, RegistrationKind(kind), json_schema, description or ""
    )
    context.emit(
        _view(registration),
        lambda v: f"registered {v['eventName']}/{v['eventVersion']} ({v['kind']}) for {v['tenantId']}",
    )
    return EXIT_OK


@event.command("list")
@click.argument("tenant_id")
@pass_cli_context
def event_list(context: CliContext, tenant_id: str) -> int:
    """A tenant's registrations."""
    rows = [_view(r) for r in context.admin().events.list(tenant_id)]
    context.emit(
        rows,
        lambda rs: "\n".join(f"{r['eventName']}\t{r['eventVersion']}\t{r['kind']}" for r in rs) or "(none)",
    )
    return EXIT_OK


@event.command("delete")
@click.argument("tenant_id")
@click.argument("event_name")
@click.argument("event_version")
@pass_cli_context
def event_delete(context: CliContext, tenant_id: str, event_name: str, event_version: str) -> int:
    """Delete a registration."""
    context.admin().events.delete(tenant_id, event_name, event_version)
    context.emit({"deleted": True}, lambda _: f"deleted {event_name}/{event_version}")
    return EXIT_OK
