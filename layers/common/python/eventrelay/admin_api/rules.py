"""A tenant's rules: which event triggers which action, under which condition, with which values.

Bodies carry the rule's attributes as its view names them (`eventName`, `mapping`, `condition`
as JSON: `{"path": "$.total", "op": "gte", "value": 100}` or `all`/`any`/`not` of those). A dataset
rule has `source: {"type": "dataset"}` and may leave `eventName`/`eventVersion` null (or name the
System Asset Event that starts its runs). The admin service checks the rule against its action
(exists, required fields mapped).
"""

from __future__ import annotations

from typing import Any

from eventrelay.admin_api.inputs import Fields, InvalidRequest
from eventrelay.admin_api.routing import AdminCall, Reply, RouteTable
from eventrelay.rules import Rule, describe

routes = RouteTable()

# The attributes an admin writes, by the JSON type each must have.
TEXT_ATTRIBUTES = ("name", "eventName", "eventVersion", "action", "description")
OBJECT_ATTRIBUTES = ("condition", "mapping", "source")
# null removes these (a dataset rule needs no event; a rule without a condition takes every input)
NULLABLE_ATTRIBUTES = ("condition", "eventName", "eventVersion")
RULE_ATTRIBUTES = (*TEXT_ATTRIBUTES, *OBJECT_ATTRIBUTES, "enabled")


def rule_view(rule: Rule) -> dict[str, Any]:
    """The rule (camelCase) and `conditionText`, its condition in the one-line form (or null)."""
    view = rule.to_view()
    view["conditionText"] = describe(rule.condition) if rule.condition is not None else None
    return view


def _rule_attributes(document: dict[str, Any]) -> dict[str, Any]:
    """The attributes the body gives, each of its JSON type; null removes a nullable one."""
    body = Fields(document)
    body.refuse_unknown(RULE_ATTRIBUTES)
    given: dict[str, Any] = {}
    for name, value in document.items():
        if value is None:
            if name not in NULLABLE_ATTRIBUTES:
                raise InvalidRequest([f"{name}: may not be null"])
            given[name] = None
        elif name in TEXT_ATTRIBUTES:
            given[name] = body.text(name)
        elif name in OBJECT_ATTRIBUTES:
            given[name] = body.object(name)
        else:
            given[name] = body.boolean(name)
    return given


@routes.get("/tenants/{tenantId}/rules")
def list_rules(call: AdminCall) -> Reply:
    """A tenant's rules, by name; `eventName`, `eventVersion`, `action` filter them."""
    query = Fields(call.query)
    query.refuse_unknown({"eventName", "eventVersion", "action"})
    rules = call.service.rules.list(
        call.tenant_id,
        event_name=query.text("eventName") or None,
        event_version=query.text("eventVersion") or None,
        action=query.text("action") or None,
    )
    return Reply([rule_view(rule) for rule in rules])


@routes.post("/tenants/{tenantId}/rules")
def create_rule(call: AdminCall) -> Reply:
    """Create a rule (refused when its action is missing or a required field is not mapped)."""
    created = call.service.rules.create(call.tenant_id, _rule_attributes(call.body()))
    return Reply(rule_view(created), 201, "Rule created")


@routes.get("/tenants/{tenantId}/rules/{name}")
def show_rule(call: AdminCall) -> Reply:
    """One rule."""
    return Reply(rule_view(call.service.rules.show(call.tenant_id, call.parameter("name"))))


@routes.patch("/tenants/{tenantId}/rules/{name}")
def update_rule(call: AdminCall) -> Reply:
    """Change some of a rule's attributes (the others stay as saved); `condition: null` removes it."""
    changes = _rule_attributes(call.body())
    updated = call.service.rules.update(call.tenant_id, call.parameter("name"), changes)
    return Reply(rule_view(updated), 200, "Rule updated")


@routes.delete("/tenants/{tenantId}/rules/{name}")
def delete_rule(call: AdminCall) -> Reply:
    """Delete a rule."""
    name = call.parameter("name")
    call.service.rules.delete(call.tenant_id, name)
    return Reply({"deleted": True, "name": name}, 200, "Rule deleted")


@routes.post("/tenants/{tenantId}/rules/{name}/enable")
def enable_rule(call: AdminCall) -> Reply:
    """Enable a rule (checked against its action again)."""
    Fields(call.body()).refuse_unknown(())
    return Reply(rule_view(call.service.rules.enable(call.tenant_id, call.parameter("name"))))


@routes.post("/tenants/{tenantId}/rules/{name}/disable")
def disable_rule(call: AdminCall) -> Reply:
    """Disable a rule (events no longer trigger it)."""
    Fields(call.body()).refuse_unknown(())
    return Reply(rule_view(call.service.rules.disable(call.tenant_id, call.parameter("name"))))
