"""The OpenAPI 3.1 document of the Events API and the admin API, built from the route table.

`build_document()` answers the document; `python -m eventrelay_cli.openapi` writes it to
`layers/common/python/eventrelay/admin_api/openapi.json`, which the stack serves at
`GET /v1/openapi.json`. A test checks the checked-in file is what this builds, that every admin
route has an operation here (and nothing here lacks a route), and schemathesis checks the running
local stack against it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from eventrelay_cli.openapi import admin_operations, events_operations
from eventrelay_cli.openapi.operation import Operation
from eventrelay_cli.openapi.schemas import COMPONENTS, ref, success

ADMIN_SECURITY: list[dict[str, list[str]]] = [{"adminToken": []}]


def error_response(description: str, codes: Iterable[str]) -> dict[str, Any]:
    listed = ", ".join(codes)
    return {
        "description": f"{description} (errorCode {listed})",
        "headers": {"X-Request-Id": {"schema": {"type": "string"}}},
        "content": {"application/json": {"schema": ref("Error")}},
    }


def _admin_operation(method: str, template: str, operation: Operation, operator_only: bool) -> dict[str, Any]:
    parameters: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}
        for name in _path_parameters(template)
    ]
    parameters.extend(operation.query)
    responses: dict[str, Any] = {
        str(operation.status): {
            "description": operation.summary,
            "headers": {"X-Request-Id": {"schema": {"type": "string"}}},
            "content": {"application/json": {"schema": success(operation.answer)}},
        },
        "400": error_response("invalid request", ["1003", "1004"]),
        "401": error_response("missing, expired or invalid token", ["1013"]),
        "404": error_response("not found, or another tenant's", ["1011"]),
        "413": error_response("body too large", ["1007"]),
        "415": error_response("body is not JSON", ["1008"]),
        "503": error_response("a dependency failed; retry", ["1009"]),
    }
    # A state change sent with another site's Origin (a cross-site page) is refused: 1015.
    state_change = method.upper() in ("POST", "PUT", "PATCH", "DELETE")
    if operator_only and state_change:
        responses["403"] = error_response("operators only, or another origin's page", ["1014", "1015"])
    elif operator_only:
        responses["403"] = error_response("operators only", ["1014"])
    elif state_change:
        responses["403"] = error_response("sent by another origin's page", ["1015"])
    if operation.conflicts:
        responses["409"] = error_response("exists, in use, or changed concurrently", ["1012"])
    document: dict[str, Any] = {
        "operationId": _operation_id(method, template),
        "summary": operation.summary,
        "tags": list(operation.tags) or [_tag(template)],
        "security": ADMIN_SECURITY,
        "parameters": parameters,
        "responses": responses,
    }
    if operation.description or operator_only:
        document["description"] = (
            operation.description + ("\n\nOperators only." if operator_only else "")
        ).strip()
    if operation.body is not None:
        content: dict[str, Any] = {"schema": operation.body}
        if operation.example_body is not None:
            content["example"] = operation.example_body
        document["requestBody"] = {"required": True, "content": {"application/json": content}}
    return document


def _path_parameters(template: str) -> list[str]:
    import re

    return re.findall(r"\{([A-Za-z]+)\}", template)


def _operation_id(method: str, template: str) -> str:
    words = [part.strip("{}") for part in template.split("/") if part and part not in ("v1", "admin")]
    return method.lower() + "".join(word[:1].upper() + word[1:] for word in words)


def _tag(template: str) -> str:
    parts = [part for part in template.split("/") if part and not part.startswith("{")]
    # /v1/admin/tenants/{tenantId}/connectors/... -> connectors; /v1/admin/tenants -> tenants
    return parts[3] if len(parts) > 3 else parts[2] if len(parts) > 2 else "admin"


def build_document() -> dict[str, Any]:
    from eventrelay.admin_api.routes import all_routes

    paths: dict[str, dict[str, Any]] = dict(events_operations.paths())
    operations = admin_operations.operations()
    for route in all_routes():
        key = (route.method, route.template)
        if key not in operations:
            raise KeyError(f"no OpenAPI operation for {route.method} {route.template}")
        paths.setdefault(route.template, {})[route.method.lower()] = _admin_operation(
            route.method, route.template, operations[key], route.operator_only
        )
    documented = {(route.method, route.template) for route in all_routes()}
    extra = sorted(set(operations) - documented)
    if extra:
        raise KeyError(f"OpenAPI operations without a route: {extra}")
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "eventrelay",
            "version": "1",
            "description": (
                "The Events API (publishers: tenantId + sharedSecret headers) and the admin API "
                "(a bearer JWT; roles from the `cognito:groups` claim: `operator`, `tenant:<id>`). "
                "Every failure has one shape (Error); see the error table in the README."
            ),
        },
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": {**COMPONENTS, **admin_operations.components(), **events_operations.components()},
            "securitySchemes": {
                "adminToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "an ID or access token of the stack's Cognito user pool (or the "
                    "deployer's issuer; the local stack's own issuer locally)",
                }
            },
        },
    }
