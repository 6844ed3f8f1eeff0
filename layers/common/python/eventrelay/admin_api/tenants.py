"""Tenants (operator only), their limits and window usage, and event registrations."""

from __future__ import annotations

from typing import Any

from eventrelay.admin import TenantWithSecret, parse_limits
from eventrelay.admin_api.inputs import Fields, InvalidRequest
from eventrelay.admin_api.routing import AdminCall, Reply, RouteTable
from eventrelay.clock import iso_utc
from eventrelay.registrations import Registration, RegistrationKind
from eventrelay.tenants import DEFAULT_ROTATION_OVERLAP_SECONDS, Tenant

routes = RouteTable()

LIMIT_FIELDS = {
    "syncPerMinute": "sync_per_minute",
    "syncPerDay": "sync_per_day",
    "asyncPerHour": "async_per_hour",
    "asyncPerDay": "async_per_day",
}


def tenant_view(tenant: Tenant) -> dict[str, Any]:
    return {
        "tenantId": tenant.tenant_id,
        "name": tenant.name,
        "createdAt": tenant.created_at,
        "limits": tenant.limits.overridden(),
    }


def secret_view(created: TenantWithSecret) -> dict[str, Any]:
    """The tenant with its new shared secret: the one answer that ever carries it."""
    view = {**tenant_view(created.tenant), "sharedSecret": created.shared_secret}
    if created.previous_valid_until is not None:
        view["previousSecretValidUntil"] = iso_utc(created.previous_valid_until)
    return view


@routes.get("/me")
def who_am_i(call: AdminCall) -> Reply:
    """Who the token is: subject, operator or not, the tenants it administers."""
    principal = call.principal
    return Reply(
        {
            "subject": principal.subject,
            "operator": principal.is_operator,
            "tenants": sorted(principal.tenants),
        }
    )


@routes.get("/tenants", operator_only=True)
def list_tenants(call: AdminCall) -> Reply:
    """List tenants."""
    return Reply([tenant_view(tenant) for tenant in call.service.tenants.list()])


@routes.post("/tenants", operator_only=True)
def create_tenant(call: AdminCall) -> Reply:
    """Create a tenant; the answer carries its shared secret, once."""
    body = Fields(call.body())
    body.refuse_unknown({"tenantId", "name", "sharedSecret"})
    created = call.service.tenants.create(
        body.required_text("tenantId"), body.text("name"), body.text("sharedSecret")
    )
    return Reply(secret_view(created), 201, "Tenant created; store its shared secret now")


@routes.get("/tenants/{tenantId}", operator_only=True)
def show_tenant(call: AdminCall) -> Reply:
    """Show one tenant."""
    return Reply(tenant_view(call.service.tenants.show(call.tenant_id)))


@routes.post("/tenants/{tenantId}/secret/rotate", operator_only=True)
def rotate_secret(call: AdminCall) -> Reply:
    """Rotate a tenant's shared secret; the new one is in the answer, once."""
    body = Fields(call.body())
    body.refuse_unknown({"overlapSeconds"})
    overlap = body.integer("overlapSeconds")
    rotated = call.service.tenants.rotate_secret(
        call.tenant_id, DEFAULT_ROTATION_OVERLAP_SECONDS if overlap is None else overlap
    )
    return Reply(secret_view(rotated), 200, "Secret rotated; store the new shared secret now")


@routes.put("/tenants/{tenantId}/limits", operator_only=True)
def set_limits(call: AdminCall) -> Reply:
    """Override some of a tenant's limits (the others keep their value)."""
    body = Fields(call.body())
    body.refuse_unknown(LIMIT_FIELDS)
    overrides = parse_limits({snake: body.integer(camel) for camel, snake in LIMIT_FIELDS.items()})
    return Reply(tenant_view(call.service.tenants.set_limits(call.tenant_id, overrides)))


@routes.get("/tenants/{tenantId}/limits")
def window_usage(call: AdminCall) -> Reply:
    """A tenant's limits and the use of its current windows."""
    usage = call.service.tenants.window_usage(call.tenant_id)
    return Reply(
        {
            kind: [
                {
                    "window": stats.limit_item.describe(),
                    "limit": stats.limit_item.amount,
                    "used": stats.count,
                    "remaining": stats.remaining,
                    "resetsAt": iso_utc(stats.reset_at),
                }
                for stats in windows
            ]
            for kind, windows in usage.items()
        }
    )


def registration_view(registration: Registration) -> dict[str, Any]:
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


def _register(call: AdminCall, body: Fields, event_name: str, event_version: str) -> Registration:
    kind_name = body.text("kind") or RegistrationKind.OPEN.value
    try:
        kind = RegistrationKind(kind_name)
    except ValueError:
        choices = ", ".join(k.value for k in RegistrationKind)
        raise InvalidRequest([f"kind: must be one of {choices}"]) from None
    return call.service.events.register(
        call.tenant_id, event_name, event_version, kind, body.object("schema"), body.text("description") or ""
    )


@routes.get("/tenants/{tenantId}/registrations")
def list_registrations(call: AdminCall) -> Reply:
    """The events a tenant may publish."""
    return Reply([registration_view(r) for r in call.service.events.list(call.tenant_id)])


@routes.post("/tenants/{tenantId}/registrations")
def create_registration(call: AdminCall) -> Reply:
    """Register an event (or replace its registration)."""
    body = Fields(call.body())
    body.refuse_unknown({"eventName", "eventVersion", "kind", "schema", "description"})
    registration = _register(call, body, body.required_text("eventName"), body.required_text("eventVersion"))
    return Reply(registration_view(registration), 201, "Event registered")


@routes.get("/tenants/{tenantId}/registrations/{eventName}/{eventVersion}")
def show_registration(call: AdminCall) -> Reply:
    """One registration."""
    found = call.service.events.show(
        call.tenant_id, call.parameter("eventName"), call.parameter("eventVersion")
    )
    return Reply(registration_view(found))


@routes.put("/tenants/{tenantId}/registrations/{eventName}/{eventVersion}")
def put_registration(call: AdminCall) -> Reply:
    """Create or replace one registration."""
    body = Fields(call.body())
    body.refuse_unknown({"kind", "schema", "description"})
    registration = _register(call, body, call.parameter("eventName"), call.parameter("eventVersion"))
    return Reply(registration_view(registration), 200, "Event registered")


@routes.delete("/tenants/{tenantId}/registrations/{eventName}/{eventVersion}")
def delete_registration(call: AdminCall) -> Reply:
    """Delete one registration."""
    call.service.events.delete(call.tenant_id, call.parameter("eventName"), call.parameter("eventVersion"))
    return Reply({"deleted": True}, 200, "Event registration deleted")
