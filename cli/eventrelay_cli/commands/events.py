"""`eventrelay event register|list|delete`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from eventrelay_cli.exit_codes import EXIT_OK, EXIT_USAGE, CliError
from eventrelay_cli.framework import Group, LazyChoice, enum_values, pass_cli_context

if TYPE_CHECKING:
    from eventrelay_cli.context import CliContext


def _path(*segments: str) -> str:
    from eventrelay.admin_api.routing import admin_path

    return admin_path(*segments)


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
    from eventrelay.registrations import InvalidSchema, schema_from_text

    json_schema = None
    if schema:
        try:
            json_schema = schema_from_text(Path(schema).read_text(encoding="utf-8"))
        except OSError as exc:
            raise CliError(f"cannot read schema file: {exc.strerror}", EXIT_USAGE) from None
        except InvalidSchema as exc:
            raise CliError(str(exc), EXIT_USAGE) from None
    body: dict[str, Any] = {"eventName": event_name, "eventVersion": event_version, "kind": kind}
    if json_schema is not None:
        body["schema"] = json_schema
    if description:
        body["description"] = description
    registration = context.call("POST", _path("tenants", tenant_id, "registrations"), body=body)
    context.emit(
        registration,
        lambda v: f"registered {v['eventName']}/{v['eventVersion']} ({v['kind']}) for {v['tenantId']}",
    )
    return EXIT_OK


@event.command("list")
@click.argument("tenant_id")
@pass_cli_context
def event_list(context: CliContext, tenant_id: str) -> int:
    """A tenant's registrations."""
    rows = context.call("GET", _path("tenants", tenant_id, "registrations"))
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
    path = _path("tenants", tenant_id, "registrations", event_name, event_version)
    context.emit(context.call("DELETE", path), lambda _: f"deleted {event_name}/{event_version}")
    return EXIT_OK
