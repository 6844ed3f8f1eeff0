"""The action routes' operations (see `eventrelay.admin_api.actions`)."""

from __future__ import annotations

from eventrelay_cli.openapi.operation import Operation
from eventrelay_cli.openapi.schemas import Schema, array, nullable, obj, ref

A = "/v1/admin/tenants/{tenantId}/actions"
TEXT = {"type": "string"}
STRING_MAP = {"type": "object", "additionalProperties": {"type": "string"}}
FIELD_TYPE = {"type": "string", "description": "String, Number, Boolean, Date or DateTime (any case)"}
SCALAR = {"type": ["string", "number", "boolean", "null"]}
PAYLOAD = nullable(
    {
        "oneOf": [
            obj({"type": {"const": "plain"}, "text": TEXT}, ["type", "text"]),
            obj(
                {
                    "type": {"const": "form"},
                    "pairs": array(obj({"key": TEXT, "value": TEXT}, ["key", "value"])),
                },
                ["type", "pairs"],
            ),
        ]
    }
)
FIELD_CHOICE = obj({"name": TEXT, "type": FIELD_TYPE, "default": SCALAR}, ["name"], closed=True)


def components() -> dict[str, Schema]:
    return {
        "Action": obj(
            {
                "tenantId": TEXT,
                "name": TEXT,
                "connector": TEXT,
                "method": {"enum": ["GET", "POST", "PUT", "PATCH", "DELETE"]},
                "url": TEXT,
                "headers": STRING_MAP,
                "payload": PAYLOAD,
                "maxRetries": {"type": "integer", "minimum": 0, "maximum": 5},
                "description": TEXT,
                "fields": array(obj({"name": TEXT, "type": TEXT, "default": SCALAR}, ["name", "type"])),
                "version": {"type": "integer"},
                "createdAt": TEXT,
                "updatedAt": TEXT,
            },
            ["tenantId", "name", "connector", "method", "url", "fields"],
        ),
        "ActionTest": obj(
            {
                "tenantId": TEXT,
                "action": TEXT,
                "connector": TEXT,
                "ok": {"type": "boolean"},
                "values": {"type": "object", "additionalProperties": {"type": "object"}},
                "request": obj(
                    {"method": TEXT, "url": TEXT, "headers": STRING_MAP, "body": nullable(TEXT)},
                    ["method", "url"],
                ),
                "idempotencyKey": TEXT,
                "response": {"type": "object"},
                "curl": TEXT,
            },
            ["ok", "request", "curl"],
        ),
    }


def _definition(*, update: bool) -> Schema:
    properties: dict[str, Schema] = {
        "connector": TEXT,
        "method": TEXT,
        "url": TEXT,
        "headers": STRING_MAP,
        "payload": PAYLOAD,
        "maxRetries": {"type": ["integer", "null"]},
        "description": {"type": ["string", "null"]},
        "fields": array(FIELD_CHOICE),
    }
    if update:
        return obj(properties, closed=True)
    return obj({"name": TEXT, **properties}, ["name", "connector", "method"], closed=True)


def operations() -> dict[tuple[str, str], Operation]:
    tags = ("actions",)
    return {
        ("GET", A): Operation(
            "List actions",
            array(ref("Action")),
            query=({"name": "connector", "in": "query", "required": False, "schema": TEXT},),
            tags=tags,
        ),
        ("POST", A): Operation(
            "Create an action: one templated request; its {{fields}} are parsed from the templates",
            ref("Action"),
            status=201,
            body=_definition(update=False),
            conflicts=True,
            example_body={
                "name": "create-issue",
                "connector": "jira",
                "method": "POST",
                "url": "issue",
                "payload": {
                    "type": "plain",
                    "text": '{"fields": {"summary": "{{title}}", "duedate": "{{due}}"}}',
                },
                "fields": [{"name": "due", "type": "Date"}],
            },
            tags=tags,
        ),
        ("GET", f"{A}/{{name}}"): Operation("Show an action", ref("Action"), tags=tags),
        ("PATCH", f"{A}/{{name}}"): Operation(
            "Change an action (attributes not given keep their value)",
            ref("Action"),
            body=_definition(update=True),
            conflicts=True,
            example_body={"maxRetries": 5},
            tags=tags,
        ),
        ("DELETE", f"{A}/{{name}}"): Operation(
            "Delete an action (refused while rules use it unless force=true)",
            obj({"deleted": {"const": True}, "name": TEXT}, ["deleted"]),
            query=(
                {"name": "force", "in": "query", "required": False, "schema": {"enum": ["true", "false"]}},
            ),
            conflicts=True,
            tags=tags,
        ),
        ("GET", f"{A}/{{name}}/fields"): Operation(
            "An action with its fields, their types and defaults", ref("Action"), tags=tags
        ),
        ("PATCH", f"{A}/{{name}}/fields"): Operation(
            "Set fields' types and defaults (default null removes one)",
            ref("Action"),
            body=obj({"fields": array(FIELD_CHOICE)}, ["fields"], closed=True),
            conflicts=True,
            example_body={"fields": [{"name": "due", "type": "Date", "default": "2026-12-31"}]},
            tags=tags,
        ),
        ("POST", f"{A}/{{name}}/test"): Operation(
            "Test an action: render with sample values, call, show the redacted request and the response",
            ref("ActionTest"),
            body=obj(
                {
                    "values": {"type": "object", "additionalProperties": SCALAR},
                    "bodyLimit": {"type": "integer", "minimum": 0},
                },
                closed=True,
            ),
            example_body={"values": {"title": "Printer on fire", "due": "2026-12-31"}},
            tags=tags,
        ),
    }
