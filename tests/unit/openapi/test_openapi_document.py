"""The OpenAPI document: checked in as built, valid OpenAPI 3.1, one operation per route."""

from __future__ import annotations

import json

from openapi_spec_validator import validate

from eventrelay.admin_api.http_event import openapi_document
from eventrelay.admin_api.routes import all_routes
from eventrelay_cli.openapi.__main__ import document_path, render


def test_the_checked_in_document_is_the_one_the_routes_build() -> None:
    # Regenerate with `make openapi` (python -m eventrelay_cli.openapi) after changing a route.
    assert document_path().read_text(encoding="utf-8") == render()


def test_the_document_is_valid_openapi_3_1() -> None:
    document = json.loads(openapi_document())
    assert document["openapi"] == "3.1.0"
    validate(document)


def test_every_admin_route_and_every_events_route_is_documented() -> None:
    paths = json.loads(openapi_document())["paths"]
    documented = {(method.upper(), path) for path, item in paths.items() for method in item}
    routes = {(route.method, route.template) for route in all_routes()}
    assert routes <= documented
    assert {
        ("POST", "/v1/eventManager/event"),
        ("POST", "/v1/eventManager/events/bulk"),
        ("GET", "/v1/eventManager/jobs/{jobId}"),
    } <= documented


def test_every_admin_operation_documents_the_token_failures_and_its_error_shape() -> None:
    paths = json.loads(openapi_document())["paths"]
    for route in all_routes():
        operation = paths[route.template][route.method.lower()]
        assert operation["security"] == [{"adminToken": []}]
        assert "401" in operation["responses"]
        state_change = route.method in ("POST", "PUT", "PATCH", "DELETE")
        assert ("403" in operation["responses"]) == (route.operator_only or state_change)
        if route.operator_only:
            assert "1014" in operation["responses"]["403"]["description"]
        if state_change:  # another origin's page (CSRF) is refused
            assert "1015" in operation["responses"]["403"]["description"]
        error = operation["responses"]["404"]["content"]["application/json"]["schema"]
        assert error == {"$ref": "#/components/schemas/Error"}
