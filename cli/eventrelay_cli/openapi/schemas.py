"""JSON Schemas (OpenAPI 3.1 = JSON Schema 2020-12) shared by the document's operations."""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]

TENANT_ID = {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"}
TIMESTAMP = {"type": "string", "description": "ISO 8601 UTC"}


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def obj(properties: dict[str, Schema], required: list[str] | None = None, *, closed: bool = False) -> Schema:
    schema: Schema = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    if closed:
        schema["additionalProperties"] = False
    return schema


def array(items: Schema) -> Schema:
    return {"type": "array", "items": items}


def nullable(schema: Schema) -> Schema:
    return {"anyOf": [schema, {"type": "null"}]}


def success(data: Schema) -> Schema:
    """The contract's success envelope around `data`."""
    return obj(
        {
            "result": {"const": True},
            "data": data,
            "message": {"type": "string"},
            "messages": array({"type": "string"}),
        },
        ["result", "data", "message", "messages"],
    )


LIMITS = obj(
    {
        name: {"type": "integer", "minimum": 1}
        for name in ("syncPerMinute", "syncPerDay", "asyncPerHour", "asyncPerDay")
    }
)

COMPONENTS: dict[str, Schema] = {
    "Error": obj(
        {
            "result": {"const": False},
            "errorCode": {
                "type": "string",
                "enum": [f"10{n:02d}" for n in range(1, 16)],
                "description": "see the error table in the README",
            },
            "errorDesc": {"type": "string"},
            "requestId": {"type": "string"},
            "message": {"type": "string"},
            "messages": array({"type": "string"}),
        },
        ["result", "errorCode", "errorDesc", "requestId", "message", "messages"],
    ),
    "Tenant": obj(
        {
            "tenantId": TENANT_ID,
            "name": {"type": "string"},
            "createdAt": {"type": "string"},
            "limits": {"type": "object", "additionalProperties": {"type": "integer"}},
        },
        ["tenantId", "name", "createdAt", "limits"],
    ),
    "TenantWithSecret": {
        "allOf": [
            ref("Tenant"),
            obj(
                {
                    "sharedSecret": {"type": "string", "description": "shown in this answer only"},
                    "previousSecretValidUntil": TIMESTAMP,
                },
                ["sharedSecret"],
            ),
        ]
    },
    "WindowUsage": obj(
        {
            "window": {"type": "string"},
            "limit": {"type": "integer"},
            "used": {"type": "integer"},
            "remaining": {"type": "integer"},
            "resetsAt": TIMESTAMP,
        },
        ["window", "limit", "used", "remaining", "resetsAt"],
    ),
    "Registration": obj(
        {
            "tenantId": TENANT_ID,
            "eventName": {"type": "string"},
            "eventVersion": {"type": "string"},
            "kind": {"enum": ["open", "json_schema", "system_asset"]},
            "createdAt": {"type": "string"},
            "schema": {"type": "object"},
            "description": {"type": "string"},
        },
        ["tenantId", "eventName", "eventVersion", "kind", "createdAt"],
    ),
    "Deleted": obj({"deleted": {"const": True}}, ["deleted"]),
}
