"""Actions: create, list, show, update, delete, their fields (types and defaults), and test.

Paths are relative to `/v1/admin`. Bodies and views use the action's camelCase names:

- **Action view** (`GET`/`POST`/`PATCH …/actions[/{name}]`, both `…/fields` routes):
  `{"tenantId", "name", "connector", "method", "url", "headers": {name: template},
  "payload": null | {"type": "plain", "text"} | {"type": "form", "pairs": [{"key", "value"}]},
  "maxRetries", "description", "fields": [{"name", "type", "default"}], "version", "createdAt",
  "updatedAt"}`. `fields` are parsed from the `{{tokens}}` of the URL, header values and payload,
  in order of first appearance (the URL's, then the headers', then the payload's); `type` is one
  of String, Number, Boolean, Date, DateTime (any letter case accepted in bodies); `default` is
  null (none), a string, a number or a boolean, fitting the type.
- **Definition body** (`POST …/actions`, `PATCH …/actions/{name}`): the view's `name`,
  `connector`, `method`, `url`, `headers`, `payload`, `maxRetries`, `description`, and `fields`
  (a list of `{"name", "type"?, "default"?}`: type/default choices for some template fields). `POST`
  needs `name`, `connector` and `method`. `PATCH` changes only the attributes it names (an action
  cannot be renamed); `headers` replaces the whole map, and an attribute given as null goes back
  to its default (`"payload": null` sends no body).
- **Field changes** (`PATCH …/actions/{name}/fields`): `{"fields": [{"name", "type"?,
  "default"?}]}`; a `type` sets the field's type, a `default` sets its default, `"default": null`
  removes it, an absent `default` keeps it. Answers the action view.
- **Test** (`POST …/actions/{name}/test`): `{"values": {field: string | number | boolean | null}?,
  "bodyLimit": integer ≥ 0?}` (a field without a value uses its default; `bodyLimit`, default 4096,
  is how many characters of the response body the answer shows). Answers the report: `{"tenantId",
  "action", "connector", "ok", "values": {field: {"type", "value", "source": "given"|"default"}},
  "request": {"method", "url", "headers", "body"}, "idempotencyKey", "response": {"outcome",
  "status", "headers", "body", "bodyTruncated", "durationMs", "error", "retryAfterSeconds"},
  "curl"}`, every credential of the connector shown as `[REDACTED]`. A call that was made is a
  200 answer whatever its outcome (`ok` says whether it succeeded).
- **Delete** (`DELETE …/actions/{name}`, `?force=true` even while rules use it):
  `{"deleted": true, "name"}`.

Unknown body fields and wrong types are refused by name (1004); the service checks the rest
(connector exists 1011, templates, methods, retries 1004, in use by rules 1012).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from eventrelay.actions import Action, ActionField, FieldType, FormPayload, PlainPayload
from eventrelay.admin import ActionTestReport, FieldChange
from eventrelay.admin_api.inputs import Fields, InvalidRequest
from eventrelay.admin_api.routing import AdminCall, Reply, RouteTable
from eventrelay.outbound.outcome import DEFAULT_BODY_PREVIEW_CHARS

routes = RouteTable()

DEFINITION_FIELDS = (
    "name",
    "connector",
    "method",
    "url",
    "headers",
    "payload",
    "maxRetries",
    "description",
    "fields",
)
FIELD_CHOICE_FIELDS = ("name", "type", "default")
TEST_FIELDS = ("values", "bodyLimit")
Scalar = str | int | float | bool


# ---- views


def field_view(field: ActionField) -> dict[str, Any]:
    return {"name": field.name, "type": field.type.value, "default": field.default}


def payload_view(payload: PlainPayload | FormPayload | None) -> dict[str, Any] | None:
    if isinstance(payload, PlainPayload):
        return {"type": "plain", "text": payload.text}
    if isinstance(payload, FormPayload):
        return {"type": "form", "pairs": [{"key": pair.key, "value": pair.value} for pair in payload.pairs]}
    return None


def action_view(action: Action) -> dict[str, Any]:
    return {
        "tenantId": action.tenant_id,
        "name": action.name,
        "connector": action.connector,
        "method": action.method.value,
        "url": action.url,
        "headers": dict(action.headers),
        "payload": payload_view(action.payload),
        "maxRetries": action.max_retries,
        "description": action.description,
        "fields": [field_view(field) for field in action.fields],
        "version": action.version,
        "createdAt": action.created_at,
        "updatedAt": action.updated_at,
    }


def report_view(report: ActionTestReport, body_limit: int) -> dict[str, Any]:
    return report.to_dict(body_limit)


# ---- bodies


def _scalar(value: object, where: str) -> Scalar | None:
    if value is None or isinstance(value, str | bool | int | float):
        return value
    raise InvalidRequest([f"{where}: must be a string, a number, a boolean or null"])


def _payload(value: object) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidRequest(["payload: must be an object or null"])
    payload = Fields(value, "payload")
    kind = payload.required_text("type")
    if kind == "plain":
        payload.refuse_unknown({"type", "text"})
        return {"type": "plain", "text": payload.required_text("text")}
    if kind == "form":
        payload.refuse_unknown({"type", "pairs"})
        return {"type": "form", "pairs": _form_pairs(payload.raw("pairs"))}
    raise InvalidRequest(["payload.type: must be plain or form"])


def _form_pairs(value: object) -> list[dict[str, str]]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidRequest(["payload.pairs: must be a list of {key, value} objects"])
    pairs = []
    for index, item in enumerate(value):
        if not isinstance(item, dict):
            raise InvalidRequest([f"payload.pairs[{index}]: must be an object"])
        pair = Fields(item, f"payload.pairs[{index}]")
        pair.refuse_unknown({"key", "value"})
        pairs.append({"key": pair.required_text("key"), "value": pair.text("value") or ""})
    return pairs


def _field_entries(value: object) -> list[tuple[Fields, dict[str, Any]]]:
    """`fields`: a list of objects naming a field, each with only type and default besides."""
    if not isinstance(value, list):
        raise InvalidRequest(["fields: must be a list of {name, type, default} objects"])
    entries = []
    for index, item in enumerate(value):
        if not isinstance(item, dict):
            raise InvalidRequest([f"fields[{index}]: must be an object"])
        entry = Fields(item, f"fields[{index}]")
        entry.refuse_unknown(FIELD_CHOICE_FIELDS)
        entries.append((entry, item))
    return entries


def _field_choices(value: object) -> list[dict[str, Any]]:
    """The draft's `fields`: type/default choices, checked by the service like the rest."""
    choices = []
    for index, (entry, item) in enumerate(_field_entries(value)):
        choice: dict[str, Any] = {"name": entry.required_text("name")}
        if entry.has("type"):
            choice["type"] = entry.required_text("type")
        if "default" in item:
            choice["default"] = _scalar(item["default"], f"fields[{index}].default")
        choices.append(choice)
    return choices


def _definition(body: dict[str, Any]) -> dict[str, Any]:
    """The attributes a definition body names, typed as the draft takes them (null kept: reset)."""
    fields = Fields(body)
    fields.refuse_unknown(DEFINITION_FIELDS)
    readers: dict[str, Callable[[str], object]] = {
        "name": fields.text,
        "connector": fields.text,
        "method": fields.text,
        "url": fields.text,
        "description": fields.text,
        "maxRetries": fields.integer,
        "headers": fields.string_map,
    }
    attributes: dict[str, Any] = {name: read(name) for name, read in readers.items() if name in body}
    if "payload" in body:
        attributes["payload"] = _payload(body["payload"])
    if body.get("fields") is not None:
        attributes["fields"] = _field_choices(body["fields"])
    return attributes


def _field_type(text: str, where: str) -> FieldType:
    for member in FieldType:
        if member.value.lower() == text.strip().lower():
            return member
    raise InvalidRequest([f"{where}: must be one of " + ", ".join(member.value for member in FieldType)])


def _field_changes(body: dict[str, Any]) -> list[FieldChange]:
    fields = Fields(body)
    fields.refuse_unknown({"fields"})
    changes: list[FieldChange] = []
    seen: set[str] = set()
    for index, (entry, item) in enumerate(_field_entries(fields.raw("fields") or [])):
        name = entry.required_text("name")
        if name in seen:
            raise InvalidRequest([f"fields[{index}].name: field '{name}' is listed more than once"])
        seen.add(name)
        type_text = entry.text("type")
        changes.append(
            FieldChange(
                name,
                type=None if type_text is None else _field_type(type_text, f"fields[{index}].type"),
                default=_scalar(item.get("default"), f"fields[{index}].default"),
                clear_default="default" in item and item["default"] is None,
            )
        )
    return changes


def _sample_values(body: Fields) -> dict[str, object]:
    values = body.object("values") or {}
    return {name: _scalar(value, f"values.{name}") for name, value in values.items()}


# ---- routes


@routes.get("/tenants/{tenantId}/actions")
def list_actions(call: AdminCall) -> Reply:
    """A tenant's actions (`?connector=` only that connector's)."""
    connector = call.query.get("connector") or None
    return Reply([action_view(a) for a in call.service.actions.list(call.tenant_id, connector=connector)])


@routes.post("/tenants/{tenantId}/actions")
def create_action(call: AdminCall) -> Reply:
    """Create an action; its fields are parsed from the {{tokens}}."""
    body = call.body()
    definition = _definition(body)
    required = Fields(body)
    for name in ("name", "connector", "method"):
        required.required_text(name)
    given = {name: value for name, value in definition.items() if value is not None}
    created = call.service.actions.create(call.tenant_id, given)
    return Reply(action_view(created), 201, "Action created")


@routes.get("/tenants/{tenantId}/actions/{name}")
def show_action(call: AdminCall) -> Reply:
    """One action with its fields."""
    return Reply(action_view(call.service.actions.show(call.tenant_id, call.parameter("name"))))


@routes.patch("/tenants/{tenantId}/actions/{name}")
def update_action(call: AdminCall) -> Reply:
    """Change the attributes the body names; the others keep their value."""
    changes = _definition(call.body())
    actions = call.service.actions
    current = actions.show(call.tenant_id, call.parameter("name"))
    # The service replaces a whole definition: the changes are laid over the current one. Field
    # choices are not repeated: the service keeps them for the fields the templates still use.
    definition = current.to_draft().model_dump(mode="json", by_alias=True, exclude={"fields"})
    for name, value in changes.items():
        if value is None:
            definition.pop(name, None)
        else:
            definition[name] = value
    updated = actions.update(call.tenant_id, current.name, definition)
    return Reply(action_view(updated), 200, "Action updated")


@routes.delete("/tenants/{tenantId}/actions/{name}")
def delete_action(call: AdminCall) -> Reply:
    """Delete an action (`?force=true` even while rules use it)."""
    name = call.parameter("name")
    call.service.actions.delete(call.tenant_id, name, force=call.query_flag("force"))
    return Reply({"deleted": True, "name": name}, 200, "Action deleted")


@routes.get("/tenants/{tenantId}/actions/{name}/fields")
def show_fields(call: AdminCall) -> Reply:
    """An action with its fields: each field's type and default."""
    return Reply(action_view(call.service.actions.show(call.tenant_id, call.parameter("name"))))


@routes.patch("/tenants/{tenantId}/actions/{name}/fields")
def set_fields(call: AdminCall) -> Reply:
    """Set some fields' types and defaults."""
    changes = _field_changes(call.body())
    updated = call.service.actions.set_fields(call.tenant_id, call.parameter("name"), changes)
    return Reply(action_view(updated), 200, "Action fields updated")


@routes.post("/tenants/{tenantId}/actions/{name}/test")
def perform_test(call: AdminCall) -> Reply:
    """Perform the action with sample values: the redacted request, the response, a curl line."""
    body = Fields(call.body())
    body.refuse_unknown(TEST_FIELDS)
    values = _sample_values(body)
    body_limit = body.integer("bodyLimit")
    if body_limit is not None and body_limit < 0:
        raise InvalidRequest(["bodyLimit: must be 0 or more"])
    report = call.service.actions.test(call.tenant_id, call.parameter("name"), values)
    return Reply(report_view(report, DEFAULT_BODY_PREVIEW_CHARS if body_limit is None else body_limit))
