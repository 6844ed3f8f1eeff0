"""The admin API's operations, keyed by (method, route template): what each takes and answers.

Every admin route (`eventrelay.admin_api.routes.all_routes()`) must have one entry here; the
document builder refuses a route without one and an entry without a route.
"""

from __future__ import annotations

from eventrelay_cli.openapi import (
    action_operations,
    connector_operations,
    dataset_operations,
    rule_operations,
)
from eventrelay_cli.openapi.operation import Operation
from eventrelay_cli.openapi.schemas import LIMITS, TENANT_ID, Schema, array, obj, ref

A = "/v1/admin"


def components() -> dict[str, Schema]:
    return {
        **connector_operations.components(),
        **action_operations.components(),
        **rule_operations.components(),
        **dataset_operations.components(),
    }


def operations() -> dict[tuple[str, str], Operation]:
    registration_body = obj(
        {
            "kind": {"enum": ["open", "json_schema", "system_asset"]},
            "schema": {"type": "object", "description": "a JSON Schema (2020-12) payloads must satisfy"},
            "description": {"type": "string", "maxLength": 1024},
        },
        closed=True,
    )
    return {
        **connector_operations.operations(),
        **action_operations.operations(),
        **rule_operations.operations(),
        **dataset_operations.operations(),
        ("GET", f"{A}/me"): Operation(
            "Who the token is",
            obj(
                {"subject": {"type": "string"}, "operator": {"type": "boolean"}, "tenants": array(TENANT_ID)},
                ["subject", "operator", "tenants"],
            ),
            tags=("identity",),
        ),
        ("GET", f"{A}/tenants"): Operation("List tenants", array(ref("Tenant"))),
        ("POST", f"{A}/tenants"): Operation(
            "Create a tenant (its shared secret is in this answer only)",
            ref("TenantWithSecret"),
            status=201,
            body=obj(
                {"tenantId": TENANT_ID, "name": {"type": "string"}, "sharedSecret": {"type": "string"}},
                ["tenantId"],
                closed=True,
            ),
            conflicts=True,
            example_body={"tenantId": "acme", "name": "Acme Corp"},
        ),
        ("GET", f"{A}/tenants/{{tenantId}}"): Operation("Show a tenant", ref("Tenant")),
        ("POST", f"{A}/tenants/{{tenantId}}/secret/rotate"): Operation(
            "Rotate a tenant's shared secret (the new one is in this answer only)",
            ref("TenantWithSecret"),
            body=obj({"overlapSeconds": {"type": "integer", "minimum": 0}}, closed=True),
            example_body={"overlapSeconds": 86400},
        ),
        ("PUT", f"{A}/tenants/{{tenantId}}/limits"): Operation(
            "Override some of a tenant's limits",
            ref("Tenant"),
            body={**LIMITS, "additionalProperties": False},
            example_body={"syncPerMinute": 200},
        ),
        ("GET", f"{A}/tenants/{{tenantId}}/limits"): Operation(
            "A tenant's limits and the use of its current windows",
            obj({"sync": array(ref("WindowUsage")), "async": array(ref("WindowUsage"))}),
        ),
        ("GET", f"{A}/tenants/{{tenantId}}/registrations"): Operation(
            "The events a tenant may publish", array(ref("Registration")), tags=("registrations",)
        ),
        ("POST", f"{A}/tenants/{{tenantId}}/registrations"): Operation(
            "Register an event (or replace its registration)",
            ref("Registration"),
            status=201,
            body={
                **registration_body,
                "properties": {
                    "eventName": {"type": "string"},
                    "eventVersion": {"type": "string"},
                    **registration_body["properties"],
                },
                "required": ["eventName", "eventVersion"],
            },
            example_body={"eventName": "opportunity.won", "eventVersion": "v01", "kind": "open"},
            tags=("registrations",),
        ),
        ("GET", f"{A}/tenants/{{tenantId}}/registrations/{{eventName}}/{{eventVersion}}"): Operation(
            "Show a registration", ref("Registration"), tags=("registrations",)
        ),
        ("PUT", f"{A}/tenants/{{tenantId}}/registrations/{{eventName}}/{{eventVersion}}"): Operation(
            "Create or replace a registration",
            ref("Registration"),
            body=registration_body,
            example_body={"kind": "open"},
            tags=("registrations",),
        ),
        ("DELETE", f"{A}/tenants/{{tenantId}}/registrations/{{eventName}}/{{eventVersion}}"): Operation(
            "Delete a registration", ref("Deleted"), tags=("registrations",)
        ),
    }
