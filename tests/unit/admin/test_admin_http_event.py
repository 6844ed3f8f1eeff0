"""API Gateway HTTP API events into admin requests: the path as the routes match it."""

from __future__ import annotations

from typing import Any

from eventrelay.admin_api.http_event import request_from_event
from eventrelay.admin_api.routing import ADMIN_PREFIX, AdminCall, Reply, Route, admin_path


def _never_called(call: AdminCall) -> Reply:
    raise AssertionError("only the route's matching is under test")


def _event(raw_path: str, query: dict[str, str] | None = None) -> dict[str, Any]:
    # What an HTTP API (payload 2.0) sends: rawPath percent-decoded, query parameters decoded.
    event: dict[str, Any] = {
        "version": "2.0",
        "rawPath": raw_path,
        "rawQueryString": "",
        "headers": {"Authorization": "Bearer t"},
        "requestContext": {"requestId": "r-1", "http": {"method": "get", "path": raw_path}},
        "isBase64Encoded": False,
    }
    if query is not None:
        event["queryStringParameters"] = query
    return event


def test_a_decoded_raw_path_gives_each_segment_back_as_sent() -> None:
    # Given a name holding what looks like an escape: the client sent it encoded (%2541)
    sent = admin_path("tenants", "acme", "connectors", "crm%41 x")
    assert sent.endswith("/crm%2541%20x")
    route = Route("GET", ADMIN_PREFIX + "/tenants/{tenantId}/connectors/{name}", _never_called)
    # When API Gateway hands the function the decoded path
    request = request_from_event(_event(ADMIN_PREFIX + "/tenants/acme/connectors/crm%41 x", {"a": "b c"}))
    # Then the route reads the name as the client meant it, once decoded
    assert route.match(request.path) == {"tenantId": "acme", "name": "crm%41 x"}
    assert request.method == "GET"
    assert request.query == {"a": "b c"}
    assert request.headers["authorization"] == "Bearer t"
