"""The Events API's resolver answers as Powertools' APIGatewayHttpResolver did, on the same routes and
events (the reference it replaced on the publish path to keep the event handler off cold starts)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response

from eventrelay.http_resolver import HttpApiResolver, HttpResponse


class Refused(Exception):
    pass


class RefusedHard(Refused):
    pass


def event(
    method: str, path: str, stage: str = "$default", headers: dict[str, str] | None = None
) -> dict[str, Any]:
    return {
        "version": "2.0",
        "routeKey": f"{method} {path}",
        "rawPath": path,
        "headers": headers or {},
        "requestContext": {"http": {"method": method, "path": path}, "requestId": "req-1", "stage": stage},
        "body": None,
        "isBase64Encoded": False,
    }


def answer(status: int, what: str) -> dict[str, Any]:
    return {"status": status, "body": json.dumps({"what": what}), "headers": {"X-Request-Id": "req-1"}}


def ours() -> HttpApiResolver:
    app = HttpApiResolver()

    def respond(result: dict[str, Any]) -> HttpResponse:
        return HttpResponse(status_code=result["status"], body=result["body"], headers=result["headers"])

    @app.post("/v1/items")
    def create() -> HttpResponse:
        return respond(answer(200, "created"))

    @app.get("/v1/items/<item_id>")
    def show(item_id: str) -> HttpResponse:
        if item_id == "refused":
            raise RefusedHard
        if item_id == "broken":
            raise ValueError(item_id)
        return respond(answer(200, f"item {item_id}"))

    @app.not_found
    def missing(_: Exception) -> HttpResponse:
        return respond(answer(404, "no route"))

    @app.exception_handler(Refused)
    def refused(_: Refused) -> HttpResponse:
        return respond(answer(403, "refused"))

    @app.exception_handler(Exception)
    def unexpected(_: Exception) -> HttpResponse:
        return respond(answer(503, "unexpected"))

    return app


def powertools() -> APIGatewayHttpResolver:
    app = APIGatewayHttpResolver()

    def respond(result: dict[str, Any]) -> Response[str]:
        return Response(
            status_code=result["status"],
            content_type="application/json",
            body=result["body"],
            headers=result["headers"],
        )

    @app.post("/v1/items")
    def create() -> Response[str]:
        return respond(answer(200, "created"))

    @app.get("/v1/items/<item_id>")
    def show(item_id: str) -> Response[str]:
        if item_id == "refused":
            raise RefusedHard
        if item_id == "broken":
            raise ValueError(item_id)
        return respond(answer(200, f"item {item_id}"))

    @app.not_found
    def missing(_: Exception) -> Response[str]:
        return respond(answer(404, "no route"))

    @app.exception_handler(Refused)
    def refused(_: Refused) -> Response[str]:
        return respond(answer(403, "refused"))

    @app.exception_handler(Exception)
    def unexpected(_: Exception) -> Response[str]:
        return respond(answer(503, "unexpected"))

    return app


@pytest.mark.parametrize(
    "request_event",
    [
        event("POST", "/v1/items"),
        event("GET", "/v1/items/a-1_b.c~d"),
        event("GET", "/v1/items/a:b@c"),
        event("GET", "/v1/items/x/y"),  # one segment only
        event("GET", "/v1/items/"),
        event("GET", "/v1/items"),  # wrong method
        event("PUT", "/v1/items"),
        event("DELETE", "/nowhere"),
        event("GET", "/v1/items/refused"),  # a subclass goes to its base's handler
        event("GET", "/v1/items/broken"),  # anything else to Exception's
        event("POST", "/prod/v1/items", stage="prod"),  # a named stage is stripped from the path
        event("POST", "/v1/items", stage="prod"),
    ],
    ids=lambda e: f"{e['requestContext']['http']['method']} {e['rawPath']} ({e['requestContext']['stage']})",
)
def test_answers_as_powertools_does(request_event: dict[str, Any]) -> None:
    expected = powertools().resolve(json.loads(json.dumps(request_event)), None)  # type: ignore[arg-type]
    assert ours().resolve(request_event, None) == expected


def test_the_current_request_holds_header_names_lower_cased() -> None:
    app = HttpApiResolver()
    seen: list[str | None] = []

    @app.get("/h")
    def header() -> HttpResponse:
        seen.append(app.current_request.headers.get("tenantid"))
        return HttpResponse(status_code=200, body="{}")

    app.resolve(event("GET", "/h", headers={"TenantId": "t-1"}))
    assert seen == ["t-1"]
