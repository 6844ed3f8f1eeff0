"""The rule, delivery and audit routes' operations (see `eventrelay.admin_api.rules`,
`deliveries`, `audit`)."""

from __future__ import annotations

from typing import Any

from eventrelay_cli.openapi.operation import Operation
from eventrelay_cli.openapi.schemas import Schema, array, nullable, obj, ref

T = "/v1/admin/tenants/{tenantId}"
TEXT = {"type": "string"}
MAPPING_VALUE = {
    "anyOf": [
        obj({"path": TEXT}, ["path"], closed=True),
        obj({"constant": {}}, ["constant"], closed=True),
        {"type": "string", "description": "shorthand for {path}"},
    ]
}
STATES = ["PENDING", "RETRYING", "SUCCEEDED", "FAILED"]
SOURCE = obj(
    {"type": {"enum": ["events", "dataset"], "description": "events (the default) or the rows of a dataset"}},
    closed=True,
)


def _query(name: str, schema: Schema, description: str = "") -> dict[str, Any]:
    parameter: dict[str, Any] = {"name": name, "in": "query", "required": False, "schema": schema}
    if description:
        parameter["description"] = description
    return parameter


FILTERS: dict[str, Schema] = {
    "state": {"type": "string", "description": "PENDING, RETRYING, SUCCEEDED or FAILED (any case)"},
    "action": TEXT,
    "rule": TEXT,
    "eventId": TEXT,
    "since": {"type": "string", "description": "ISO 8601 (UTC when no zone)"},
    "until": {"type": "string", "description": "ISO 8601 (UTC when no zone)"},
}


def components() -> dict[str, Schema]:
    delivery = obj(
        {
            "deliveryId": TEXT,
            "tenantId": TEXT,
            "eventId": TEXT,
            "eventName": TEXT,
            "eventVersion": TEXT,
            "rule": TEXT,
            "action": TEXT,
            "state": {"enum": STATES},
            "attempts": {"type": "integer"},
            "attemptLimit": {"type": "integer"},
            "replays": {"type": "integer"},
            "inFlight": {"type": "boolean"},
            "createdAt": TEXT,
            "updatedAt": TEXT,
            "lastOutcome": nullable(TEXT),
            "lastStatus": nullable({"type": "integer"}),
            "lastError": nullable(TEXT),
            "nextAttemptAt": nullable(TEXT),
        },
        ["deliveryId", "tenantId", "state", "attempts"],
    )
    attempt = obj(
        {
            "attempt": {"type": "integer"},
            "deliveryId": TEXT,
            "round": {"type": "integer"},
            "replay": {"type": ["boolean", "integer", "null"]},
            "startedAt": nullable(TEXT),
            "finishedAt": nullable(TEXT),
            "outcome": nullable(TEXT),
            "statusCode": nullable({"type": "integer"}),
            "durationMs": nullable({"type": "number"}),
            "responseBody": nullable(TEXT),
            "responseTruncated": nullable({"type": "boolean"}),
            "error": nullable(TEXT),
            "retryAfterSeconds": nullable({"type": "number"}),
        },
        ["attempt"],
    )
    return {
        "Rule": obj(
            {
                "tenantId": TEXT,
                "name": TEXT,
                "source": SOURCE,
                "eventName": nullable(TEXT),
                "eventVersion": nullable(TEXT),
                "action": TEXT,
                "condition": nullable({"type": "object"}),
                "conditionText": nullable(TEXT),
                "mapping": {"type": "object", "additionalProperties": {"type": "object"}},
                "enabled": {"type": "boolean"},
                "description": TEXT,
                "version": {"type": "integer"},
                "createdAt": TEXT,
                "updatedAt": TEXT,
            },
            ["name", "source", "eventName", "eventVersion", "action", "mapping", "enabled"],
        ),
        "Delivery": delivery,
        "DeliveryDetail": {
            "allOf": [
                ref("Delivery"),
                obj({"attemptCount": {"type": "integer"}, "attempts": array(attempt)}, ["attempts"]),
            ]
        },
        "AuditEntry": obj(
            {
                "at": TEXT,
                "subject": TEXT,
                "operation": TEXT,
                "resourceKind": TEXT,
                "resourceName": TEXT,
                "attributes": array(TEXT),
                "requestId": nullable(TEXT),
            },
            ["at", "subject", "operation", "resourceKind", "resourceName", "attributes"],
        ),
    }


def _rule_body(*, update: bool) -> Schema:
    properties: dict[str, Schema] = {
        "source": SOURCE,
        "eventName": {
            **nullable(TEXT),
            "description": "required for an event rule; a dataset rule names none or its System Asset Event",
        },
        "eventVersion": nullable(TEXT),
        "action": TEXT,
        "description": TEXT,
        "condition": nullable({"type": "object", "description": "see the README's condition language"}),
        "mapping": {"type": "object", "additionalProperties": MAPPING_VALUE},
        "enabled": {"type": "boolean"},
    }
    if update:
        return obj(properties, closed=True)
    return obj({"name": TEXT, **properties}, ["name", "action"], closed=True)


def operations() -> dict[tuple[str, str], Operation]:
    rules, deliveries = ("rules",), ("deliveries",)
    replay_one = obj(
        {
            "dryRun": {"type": "boolean"},
            "wouldReplay": {"type": "integer"},
            "reason": nullable(TEXT),
            "replayed": {"type": "integer"},
            "deliveryId": TEXT,
            "round": {"type": "integer"},
        }
    )
    replay_many = obj(
        {
            "dryRun": {"type": "boolean"},
            "wouldReplay": {"type": "integer"},
            "matched": {"type": "integer"},
            "replayed": {"type": "integer"},
            "skipped": array(obj({"deliveryId": TEXT, "reason": TEXT})),
        }
    )
    return {
        ("GET", f"{T}/rules"): Operation(
            "List rules",
            array(ref("Rule")),
            query=(_query("eventName", TEXT), _query("eventVersion", TEXT), _query("action", TEXT)),
            tags=rules,
        ),
        ("POST", f"{T}/rules"): Operation(
            "Create a rule: which event triggers which action, and each field's value",
            ref("Rule"),
            status=201,
            body=_rule_body(update=False),
            conflicts=True,
            example_body={
                "name": "won-deals",
                "eventName": "opportunity.won",
                "eventVersion": "v01",
                "action": "create-issue",
                "condition": {"path": "$.amount", "op": "gte", "value": 10000},
                "mapping": {"title": {"path": "$.name"}, "due": {"constant": "2026-12-31"}},
            },
            tags=rules,
        ),
        ("GET", f"{T}/rules/{{name}}"): Operation("Show a rule", ref("Rule"), tags=rules),
        ("PATCH", f"{T}/rules/{{name}}"): Operation(
            "Change a rule (attributes not given keep their value; condition null removes it)",
            ref("Rule"),
            body=_rule_body(update=True),
            conflicts=True,
            example_body={"enabled": False},
            tags=rules,
        ),
        ("DELETE", f"{T}/rules/{{name}}"): Operation(
            "Delete a rule", obj({"deleted": {"const": True}, "name": TEXT}, ["deleted"]), tags=rules
        ),
        ("POST", f"{T}/rules/{{name}}/enable"): Operation("Enable a rule", ref("Rule"), tags=rules),
        ("POST", f"{T}/rules/{{name}}/disable"): Operation("Disable a rule", ref("Rule"), tags=rules),
        ("GET", f"{T}/deliveries"): Operation(
            "List deliveries, newest first (pass nextCursor back as cursor for more)",
            obj({"deliveries": array(ref("Delivery")), "nextCursor": nullable(TEXT)}, ["deliveries"]),
            query=(
                *(_query(name, schema) for name, schema in FILTERS.items()),
                _query("limit", {"type": "integer", "minimum": 1, "maximum": 1000}),
                _query("cursor", TEXT),
            ),
            tags=deliveries,
        ),
        ("GET", f"{T}/deliveries/{{deliveryId}}"): Operation(
            "A delivery and every attempt", ref("DeliveryDetail"), tags=deliveries
        ),
        ("POST", f"{T}/deliveries/{{deliveryId}}/replay"): Operation(
            "Replay one delivery (dryRun: say whether it would be)",
            replay_one,
            body=obj({"dryRun": {"type": "boolean"}}, closed=True),
            conflicts=True,
            example_body={"dryRun": True},
            tags=deliveries,
        ),
        ("POST", f"{T}/deliveries/replay"): Operation(
            "Replay every delivery matching the filters (FAILED by default); dryRun counts first",
            replay_many,
            body=obj({**FILTERS, "dryRun": {"type": "boolean"}}, closed=True),
            example_body={"state": "FAILED", "action": "create-issue", "dryRun": True},
            tags=deliveries,
        ),
        ("GET", f"{T}/audit"): Operation(
            "A tenant's audit log, newest first (who changed what; never a value)",
            obj({"entries": array(ref("AuditEntry")), "nextCursor": nullable(TEXT)}, ["entries"]),
            query=(
                _query("limit", {"type": "integer", "minimum": 1, "maximum": 500}),
                _query("cursor", TEXT),
            ),
            tags=("audit",),
        ),
    }
