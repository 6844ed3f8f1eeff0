"""The connector routes' operations (see `eventrelay.admin_api.connectors`)."""

from __future__ import annotations

from eventrelay_cli.openapi.operation import Operation
from eventrelay_cli.openapi.schemas import Schema, array, nullable, obj, ref

A = "/v1/admin/tenants/{tenantId}/connectors"
TEXT = {"type": "string"}
STRING_MAP = {"type": "object", "additionalProperties": {"type": "string"}}
OAUTH2_FIELDS = (
    "grant",
    "tokenUrl",
    "scope",
    "clientAuth",
    "tokenContentType",
    "authorizationUrl",
    "redirectUrl",
)


def _rate_limit() -> Schema:
    """`rateLimit`: calls per second and/or per minute across all runners; null means none (in a
    PATCH, a null value removes that one)."""
    per_second = nullable({"type": "integer", "minimum": 1, "maximum": 1000})
    per_minute = nullable({"type": "integer", "minimum": 1, "maximum": 60_000})
    limit = obj({"perSecond": per_second, "perMinute": per_minute}, closed=True)
    return {
        **nullable(limit),
        "description": "outbound rate limit, enforced across all runners; over it a delivery waits "
        "on the queue (not failed, no attempt used); null: calls are not paced",
    }


def components() -> dict[str, Schema]:
    health = obj(
        {
            "state": TEXT,
            "reason": nullable(TEXT),
            "changedAt": nullable(TEXT),
            "authFailures": {"type": "integer"},
        },
        ["state"],
    )
    credentials_view = obj(
        {
            "username": TEXT,
            "password": {"const": "set"},
            "tokenHeaders": {"type": "object", "additionalProperties": {"const": "set"}},
            "clientId": TEXT,
            "clientSecret": {"const": "set"},
            "accessTokenExpiresAt": TEXT,
            "refreshToken": {"const": "stored"},
            "baseUrl": {"const": "set"},
            "testUrl": {"const": "set"},
        },
        closed=True,
    )
    return {
        "Connector": obj(
            {
                "tenantId": TEXT,
                "name": TEXT,
                "baseUrl": TEXT,
                "authType": {"enum": ["none", "basic", "token", "oauth2"]},
                "headers": STRING_MAP,
                "description": TEXT,
                "testUrl": TEXT,
                "health": health,
                "revision": {"type": "integer"},
                "createdAt": TEXT,
                "updatedAt": TEXT,
                "oauth2": obj({name: nullable(TEXT) for name in OAUTH2_FIELDS}),
                "rateLimit": _rate_limit(),
                "credentials": {
                    **credentials_view,
                    "description": "which credentials are set; never a value",
                },
                "changed": {"type": "boolean"},
            },
            ["tenantId", "name", "baseUrl", "authType", "headers", "health", "revision"],
        ),
        "ConnectionTest": obj(
            {
                "url": TEXT,
                "ok": {"type": "boolean"},
                "health": TEXT,
                "outcome": {"enum": ["SUCCESS", "RETRYABLE", "PERMANENT"]},
                "status": nullable({"type": "integer"}),
                "headers": STRING_MAP,
                "body": nullable(TEXT),
                "bodyTruncated": {"type": "boolean"},
                "durationMs": {"type": "number"},
                "error": nullable(TEXT),
                "retryAfterSeconds": nullable({"type": "number"}),
            },
            ["ok", "outcome"],
        ),
    }


def _connector_body(*, update: bool) -> Schema:
    properties: dict[str, Schema] = {
        "baseUrl": TEXT,
        "authType": {"enum": ["none", "basic", "token", "oauth2"]},
        "headers": STRING_MAP,
        "description": TEXT,
        "testUrl": TEXT,
        "oauth2": obj(dict.fromkeys(OAUTH2_FIELDS, TEXT), closed=True),
        "rateLimit": _rate_limit(),
        "credentials": obj(
            {
                "username": TEXT,
                "password": TEXT,
                "tokenHeaders": STRING_MAP,
                "clientId": TEXT,
                "clientSecret": TEXT,
                "baseUrl": TEXT,
                "testUrl": TEXT,
            },
            closed=True,
        ),
    }
    if update:
        properties["removeHeaders"] = array(TEXT)
        return obj(properties, closed=True)
    return obj({"name": TEXT, **properties}, ["name"], closed=True)


def operations() -> dict[tuple[str, str], Operation]:
    tags = ("connectors",)
    return {
        ("GET", A): Operation("List connectors", array(ref("Connector")), tags=tags),
        ("POST", A): Operation(
            "Create a connector (credentials are write-only)",
            ref("Connector"),
            status=201,
            body=_connector_body(update=False),
            conflicts=True,
            example_body={
                "name": "jira",
                "baseUrl": "https://acme.atlassian.net/rest/api/3",
                "authType": "basic",
                "testUrl": "myself",
                "credentials": {"username": "bot@acme.example", "password": "<secret>"},
            },
            tags=tags,
        ),
        ("GET", f"{A}/{{name}}"): Operation("Show a connector", ref("Connector"), tags=tags),
        ("PATCH", f"{A}/{{name}}"): Operation(
            "Change a connector (attributes not given keep their value)",
            ref("Connector"),
            body=_connector_body(update=True),
            conflicts=True,
            example_body={
                "description": "Jira Cloud",
                "removeHeaders": ["X-Old"],
                "rateLimit": {"perSecond": 5, "perMinute": 100},
            },
            tags=tags,
        ),
        ("DELETE", f"{A}/{{name}}"): Operation(
            "Delete a connector and its secret (refused while actions use it unless force=true)",
            obj({"deleted": {"const": True}, "name": TEXT}, ["deleted"]),
            query=(
                {"name": "force", "in": "query", "required": False, "schema": {"enum": ["true", "false"]}},
            ),
            conflicts=True,
            tags=tags,
        ),
        ("POST", f"{A}/{{name}}/test"): Operation(
            "Test connection: GET the test URL with the connector's auth",
            ref("ConnectionTest"),
            body=obj({"bodyLimit": {"type": "integer", "minimum": 0}}, closed=True),
            example_body={"bodyLimit": 2048},
            tags=tags,
        ),
        ("POST", f"{A}/{{name}}/authorize"): Operation(
            "Start the authorization-code grant: the provider URL to open",
            obj({"url": TEXT, "expiresAt": TEXT}, ["url"]),
            body=obj({}, closed=True),
            example_body={},
            tags=tags,
        ),
    }
