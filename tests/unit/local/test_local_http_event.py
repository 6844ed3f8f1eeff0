"""Request → payload format 2.0 event and Lambda result → HTTP response, as API Gateway HTTP APIs do."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from eventrelay_cli.local.http_gateway import (
    GatewayResponse,
    IncomingRequest,
    MalformedResponseError,
    Route,
    build_event,
    encode_body,
    map_result,
)

SAMPLE = json.loads((Path(__file__).parent / "http_api_v2_event_sample.json").read_text(encoding="utf-8"))


def request(
    target: str = "/my/path",
    *,
    method: str = "POST",
    headers: tuple[tuple[str, str], ...] = (),
    body: bytes = b"",
) -> IncomingRequest:
    return IncomingRequest(method, target, headers, body, source_ip="127.0.0.1", server_port=8080)


def test_event_has_the_keys_of_the_documented_2_0_payload() -> None:
    # Given a request with cookies, a query string, a body and a path parameter
    event = build_event(
        request(
            "/my/path?parameter1=value1&parameter1=value2&parameter2=value",
            headers=(
                ("Host", "localhost:8080"),
                ("Cookie", "cookie1; cookie2"),
                ("Content-Type", "text/plain"),
            ),
            body=b"Hello from Lambda",
        ),
        "POST /my/{parameter1}",
        {"parameter1": "value1"},
        request_id="JKJaXmPLvHcESHA=",
    )
    # Then its keys are AWS's (minus stage variables and authorizer/mTLS data, which this API has none of)
    assert list(event) == [key for key in SAMPLE if key != "stageVariables"]
    assert set(event["requestContext"]) == set(SAMPLE["requestContext"]) - {"authentication", "authorizer"}
    assert set(event["requestContext"]["http"]) == set(SAMPLE["requestContext"]["http"])
    assert event["version"] == "2.0"
    assert event["cookies"] == ["cookie1", "cookie2"]
    assert event["queryStringParameters"] == SAMPLE["queryStringParameters"]
    assert event["rawQueryString"] == SAMPLE["rawQueryString"]
    assert event["body"] == "Hello from Lambda"
    assert event["isBase64Encoded"] is False
    assert event["requestContext"]["stage"] == "$default"
    assert event["requestContext"]["routeKey"] == event["routeKey"] == "POST /my/{parameter1}"
    assert event["requestContext"]["domainName"] == "localhost"


def test_headers_are_lowercased_joined_and_cookies_moved_out() -> None:
    event = build_event(
        request(
            headers=(
                ("X-Tenant-Id", "acme"),
                ("Accept", "text/html"),
                ("accept", "application/json"),
                ("Cookie", "a=1; b=2"),
                ("Cookie", "c=3"),
                ("Connection", "keep-alive"),
                ("User-Agent", "agent/1"),
            ),
            method="GET",
        ),
        "GET /my/path",
        {},
        request_id="r",
    )
    headers = event["headers"]
    assert headers["x-tenant-id"] == "acme"
    assert headers["accept"] == "text/html,application/json"
    assert "cookie" not in headers
    assert "connection" not in headers
    assert event["cookies"] == ["a=1", "b=2", "c=3"]
    assert headers["x-forwarded-for"] == "127.0.0.1"
    assert headers["x-forwarded-proto"] == "http"
    assert headers["x-amzn-trace-id"].startswith("Root=1-")
    assert event["requestContext"]["http"]["userAgent"] == "agent/1"


def test_optional_fields_are_absent_when_empty() -> None:
    event = build_event(request(method="GET"), "GET /my/path", {}, request_id="r")
    for key in ("cookies", "queryStringParameters", "pathParameters", "body"):
        assert key not in event
    assert event["rawQueryString"] == ""
    assert event["isBase64Encoded"] is False


def test_path_is_decoded_and_the_raw_query_kept_as_sent() -> None:
    event = build_event(
        request("/files/a%20b?q=x%2By+z&flag", method="GET"),
        "GET /files/{name}",
        {"name": "a b"},
        request_id="r",
    )
    assert event["rawPath"] == event["requestContext"]["http"]["path"] == "/files/a b"
    assert event["rawQueryString"] == "q=x%2By+z&flag"
    assert event["queryStringParameters"] == {"q": "x+y z", "flag": ""}


@pytest.mark.parametrize(
    ("content_type", "body", "expected_base64"),
    [
        ("application/json", b'{"a": 1}', False),
        ("application/json; charset=utf-8", '{"é": 1}'.encode(), False),
        ("text/plain", b"hello", False),
        ("application/xml", b"<a/>", False),
        ("application/javascript", b"x()", False),
        ("application/json", b"\xff\xfe not utf-8", True),
        ("application/octet-stream", b"hello", True),
        ("application/x-www-form-urlencoded", b"a=1", True),
        (None, b"hello", True),
    ],
)
def test_body_encoding_rule(content_type: str | None, body: bytes, expected_base64: bool) -> None:
    encoded, is_base64 = encode_body(body, content_type)
    assert is_base64 is expected_base64
    assert encoded is not None
    assert (base64.b64decode(encoded) if is_base64 else encoded.encode()) == body


@given(
    body=st.binary(max_size=256),
    content_type=st.sampled_from([None, "text/plain", "application/json", "image/png"]),
)
def test_the_handler_can_always_recover_the_exact_bytes(body: bytes, content_type: str | None) -> None:
    headers = (("Content-Type", content_type),) if content_type else ()
    event = build_event(request(headers=headers, body=body), "$default", {}, request_id="r")
    recovered = (
        b""
        if "body" not in event
        else base64.b64decode(event["body"])
        if event["isBase64Encoded"]
        else event["body"].encode("utf-8")
    )
    assert recovered == body


# ---- routes


def test_route_selection_prefers_exact_then_variables_then_greedy_then_default() -> None:
    routes = sorted(
        (
            Route.parse(key)
            for key in (
                "$default",
                "ANY /items/{proxy+}",
                "GET /items/{id}",
                "GET /items/special",
                "ANY /items/{id}",
            )
        ),
        key=Route.priority,
    )

    def pick(method: str, path: str) -> tuple[str, dict[str, str]]:
        for route in routes:
            found = route.match(method, path)
            if found is not None:
                return route.route_key, found
        raise AssertionError("no route")

    assert pick("GET", "/items/special") == ("GET /items/special", {})
    assert pick("GET", "/items/42") == ("GET /items/{id}", {"id": "42"})
    assert pick("DELETE", "/items/42") == ("ANY /items/{id}", {"id": "42"})
    assert pick("GET", "/items/a/b") == ("ANY /items/{proxy+}", {"proxy": "a/b"})
    assert pick("GET", "/other") == ("$default", {})


def test_route_keys_are_validated() -> None:
    with pytest.raises(ValueError, match="route key"):
        Route.parse("/no/method")
    with pytest.raises(ValueError, match="greedy"):
        Route.parse("GET /{proxy+}/tail")


# ---- results


def test_a_result_without_status_code_is_inferred_as_json_200() -> None:
    assert map_result({"message": "hi"}) == GatewayResponse(
        200, (("content-type", "application/json"),), b'{"message": "hi"}'
    )
    assert map_result("Hello from Lambda!").body == b"Hello from Lambda!"
    assert map_result([1, 2]).body == b"[1, 2]"
    assert map_result(None).body == b"null"


def test_a_structured_result_maps_status_headers_cookies_and_body() -> None:
    response = map_result(
        {
            "statusCode": 201,
            "headers": {"Content-Type": "text/plain", "X-Count": 3, "Content-Length": "999"},
            "multiValueHeaders": {"X-Ignored": ["a", "b"]},
            "cookies": ["s=1; HttpOnly", "t=2"],
            "body": base64.b64encode(b"\x00\x01binary").decode(),
            "isBase64Encoded": True,
        }
    )
    assert response.status == 201
    assert response.headers == (
        ("Content-Type", "text/plain"),
        ("X-Count", "3"),
        ("set-cookie", "s=1; HttpOnly"),
        ("set-cookie", "t=2"),
    )
    assert response.body == b"\x00\x01binary"


@pytest.mark.parametrize(
    "result",
    [
        {"statusCode": "200"},
        {"statusCode": 200, "body": {"not": "a string"}},
        {"statusCode": 200, "body": "not base64!", "isBase64Encoded": True},
        {"statusCode": 200, "headers": {"X-Bad": "a\r\nInjected: 1"}},
        {"statusCode": 200, "cookies": "not-a-list"},
    ],
)
def test_malformed_results_are_refused(result: object) -> None:
    with pytest.raises(MalformedResponseError):
        map_result(result)
