"""The local HTTP API over real HTTP: Powertools handlers behind it behave as behind API Gateway."""

from __future__ import annotations

import base64
import http.client
import json
import socket
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.shared.cookies import Cookie

from eventrelay_cli.local.environment import LocalAws
from eventrelay_cli.local.http_gateway import MAX_PAYLOAD_BYTES, HttpGateway
from eventrelay_cli.local.lambda_runtime import LocalFunction, read_function_specs

REPO_ROOT = Path(__file__).resolve().parents[3]

received_events: list[dict[str, Any]] = []


def powertools_handler() -> Any:
    """A tiny Powertools HTTP API app, like functions/<name>/app.py would be."""
    app = APIGatewayHttpResolver()

    @app.get("/v1/eventManager/jobs/<jobId>")
    def job_status(jobId: str) -> Response[str]:
        event = app.current_event
        return Response(
            status_code=203,
            content_type="application/json",
            body=json.dumps(
                {
                    "jobId": jobId,
                    "verbose": event.get_query_string_value("verbose"),
                    "tags": event.query_string_parameters.get("tag"),
                    "tenant": event.headers.get("tenantid"),
                    "headerNames": sorted(event.raw_event["headers"]),
                    "routeKey": event.raw_event["routeKey"],
                }
            ),
            headers={"X-Job-Version": "7"},
            cookies=[Cookie(name="session", value="abc", secure=False)],
        )

    @app.post("/v1/upload")
    def upload() -> dict[str, Any]:
        event = app.current_event
        raw = base64.b64decode(event.body or "") if event.is_base64_encoded else (event.body or "").encode()
        return {"isBase64Encoded": event.is_base64_encoded, "hex": raw.hex(), "length": len(raw)}

    @app.get("/v1/boom")
    def boom() -> dict[str, Any]:
        raise RuntimeError("handler bug")

    def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        received_events.append(event)
        return app.resolve(event, context)

    return lambda_handler


@pytest.fixture
def gateway() -> Iterator[HttpGateway]:
    function = LocalFunction("PowertoolsApp", powertools_handler, max_instances=4)
    gateway = HttpGateway(port=0)
    gateway.add_routes(["GET /v1/eventManager/jobs/{jobId}", "POST /v1/upload", "GET /v1/boom"], function)
    gateway.start()
    received_events.clear()
    try:
        yield gateway
    finally:
        gateway.stop()


def test_powertools_routes_the_event_and_the_response_maps_back_exactly(gateway: HttpGateway) -> None:
    # When a client calls the job status route with a query string and mixed-case headers
    response = requests.get(
        f"{gateway.url}/v1/eventManager/jobs/job-123?verbose=yes&tag=a&tag=b",
        headers={"TenantId": "acme", "X-Mixed-CASE": "1"},
        timeout=5,
    )
    # Then Powertools matched the route and saw the path parameter, query and lower-cased headers
    assert response.status_code == 203
    body = response.json()
    assert body["jobId"] == "job-123"
    assert body["verbose"] == "yes"
    assert body["tags"] == "a,b"
    assert body["tenant"] == "acme"
    assert "x-mixed-case" in body["headerNames"]
    assert "TenantId" not in body["headerNames"]
    assert body["routeKey"] == "GET /v1/eventManager/jobs/{jobId}"
    assert received_events[-1]["pathParameters"] == {"jobId": "job-123"}
    # And the handler's status, headers and cookies came back as HTTP
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["X-Job-Version"] == "7"
    assert response.raw.headers.getlist("Set-Cookie") == ["session=abc"]
    assert response.headers["apigw-requestid"] == received_events[-1]["requestContext"]["requestId"]


def test_a_non_utf8_body_arrives_base64_encoded(gateway: HttpGateway) -> None:
    payload = b"\xff\xfe\x00binary\x80"
    response = requests.post(
        f"{gateway.url}/v1/upload", data=payload, headers={"Content-Type": "application/json"}, timeout=5
    )
    assert response.status_code == 200
    assert response.json() == {"isBase64Encoded": True, "hex": payload.hex(), "length": len(payload)}
    assert received_events[-1]["body"] == base64.b64encode(payload).decode()


def test_a_utf8_json_body_arrives_as_text(gateway: HttpGateway) -> None:
    payload = json.dumps({"name": "café"}).encode()
    response = requests.post(
        f"{gateway.url}/v1/upload", data=payload, headers={"Content-Type": "application/json"}, timeout=5
    )
    assert response.json()["isBase64Encoded"] is False
    assert received_events[-1]["body"] == payload.decode()


def test_an_unknown_route_is_404_like_api_gateway(gateway: HttpGateway) -> None:
    for method, path in (("GET", "/v1/nowhere"), ("DELETE", "/v1/upload"), ("GET", "/v1/eventManager/jobs/")):
        response = requests.request(method, f"{gateway.url}{path}", timeout=5)
        assert response.status_code == 404, path
        assert response.json() == {"message": "Not Found"}
    assert received_events == []


def test_a_handler_exception_is_500_like_api_gateway(gateway: HttpGateway) -> None:
    response = requests.get(f"{gateway.url}/v1/boom", timeout=5)
    assert response.status_code == 500
    assert response.json() == {"message": "Internal Server Error"}
    assert response.headers["Content-Type"] == "application/json"


def test_a_huge_declared_body_is_refused_with_413_without_reading_it(gateway: HttpGateway) -> None:
    # Given a request declaring 100 MB (far over API Gateway's 10 MB) and sending only its start
    connection = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=5)
    connection.putrequest("POST", "/v1/upload")
    connection.putheader("Content-Type", "application/octet-stream")
    connection.putheader("Content-Length", str(100 * 1024 * 1024))
    connection.endheaders()
    connection.send(b"x" * 65536)
    # Then the gateway answers 413 at once, without invoking the handler
    response = connection.getresponse()
    assert response.status == 413
    assert json.loads(response.read()) == {"message": "Request Entity Too Large"}
    connection.close()
    assert received_events == []


def test_a_client_sending_an_oversized_body_reads_the_413(gateway: HttpGateway) -> None:
    # When a client streams a whole body one byte over the limit
    response = requests.post(
        f"{gateway.url}/v1/upload",
        data=b"x" * (MAX_PAYLOAD_BYTES + 1),
        headers={"Content-Type": "application/octet-stream"},
        timeout=30,
    )
    # Then it reads API Gateway's 413 rather than a connection reset
    assert response.status_code == 413
    assert response.json() == {"message": "Request Entity Too Large"}
    assert received_events == []


def test_a_body_of_exactly_10_mb_is_accepted(gateway: HttpGateway) -> None:
    response = requests.post(
        f"{gateway.url}/v1/upload",
        data=b"a" * MAX_PAYLOAD_BYTES,
        headers={"Content-Type": "text/plain"},
        timeout=30,
    )
    assert response.status_code == 200
    assert response.json()["length"] == MAX_PAYLOAD_BYTES


def test_keep_alive_connections_serve_several_requests(gateway: HttpGateway) -> None:
    with requests.Session() as session:
        statuses = [
            session.get(f"{gateway.url}/v1/eventManager/jobs/{n}", timeout=5).status_code for n in range(3)
        ]
    assert statuses == [203, 203, 203]
    assert len({event["requestContext"]["requestId"] for event in received_events}) == 3


def test_a_chunked_body_arrives_whole(gateway: HttpGateway) -> None:
    # When a client streams its body with Transfer-Encoding: chunked (no Content-Length)
    parts = [b'{"name": ', b'"caf\xc3\xa9", ', b'"n": 1}']
    response = requests.post(
        f"{gateway.url}/v1/upload", data=iter(parts), headers={"Content-Type": "application/json"}, timeout=5
    )
    # Then the function gets the whole body, decoded, as text
    assert response.status_code == 200
    whole = b"".join(parts)
    assert response.json() == {"isBase64Encoded": False, "hex": whole.hex(), "length": len(whole)}
    assert received_events[-1]["body"] == whole.decode("utf-8")
    assert "content-length" not in received_events[-1]["headers"]


def test_headers_with_underscores_and_repeats_reach_the_function_as_sent(gateway: HttpGateway) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=5)
    connection.putrequest("GET", "/v1/eventManager/jobs/j-1")
    connection.putheader("X_Under_Score", "1")
    connection.putheader("X-Repeat", "a")
    connection.putheader("X-Repeat", "b")
    connection.putheader("Cookie", "a=1; b=2")
    connection.endheaders()
    assert connection.getresponse().status == 203
    connection.close()
    headers = received_events[-1]["headers"]
    assert headers["x_under_score"] == "1"
    assert headers["x-repeat"] == "a,b"
    assert received_events[-1]["cookies"] == ["a=1", "b=2"]


def test_stop_releases_the_port() -> None:
    # Given a started gateway on a free port
    gateway = HttpGateway(port=0)
    gateway.add_route("$default", lambda event, context: {"ok": True})
    gateway.start()
    port = gateway.port
    assert port > 0
    assert requests.get(f"{gateway.url}/anything", timeout=5).json() == {"ok": True}
    # When it is stopped
    gateway.stop()
    # Then nothing listens there any more
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port), timeout=1):
        pass


def test_routes_and_handlers_come_from_a_template(tmp_path: Path) -> None:
    # Given a template whose function declares a route with a path parameter
    folder = tmp_path / "functions" / "status"
    folder.mkdir(parents=True)
    (folder / "app.py").write_text(
        textwrap.dedent(
            """
            def lambda_handler(event, context):
                job_id = event["pathParameters"]["jobId"]
                return {"statusCode": 200, "body": job_id + "@" + context.function_name}
            """
        ),
        encoding="utf-8",
    )
    (tmp_path / "template.yaml").write_text(
        textwrap.dedent(
            """
            Resources:
              StatusFunction:
                Type: AWS::Serverless::Function
                Properties:
                  CodeUri: functions/status
                  Handler: app.lambda_handler
                  Events:
                    Status:
                      Type: HttpApi
                      Properties: {Method: GET, Path: "/v1/eventManager/jobs/{jobId}"}
            """
        ),
        encoding="utf-8",
    )
    spec = read_function_specs(tmp_path / "template.yaml")["StatusFunction"]
    # When the gateway serves it
    with HttpGateway() as gateway:
        gateway.add_routes([route.route_key for route in spec.http_routes], LocalFunction.from_spec(spec))
        response = requests.get(f"{gateway.url}/v1/eventManager/jobs/j-9", timeout=5)
    # Then the function file answered with the path parameter
    assert response.status_code == 200
    assert response.text == "j-9@StatusFunction"


def test_the_real_publish_function_answers_through_the_gateway(local_aws: LocalAws) -> None:
    # Given the project's publish function wired from template.yaml
    spec = read_function_specs(REPO_ROOT / "template.yaml")["PublishFunction"]
    function = LocalFunction.from_spec(spec, environment=local_aws.function_environment(spec))
    with HttpGateway() as gateway:
        gateway.add_routes([route.route_key for route in spec.http_routes], function)
        # When a publisher calls without credentials
        response = requests.get(
            f"{gateway.url}/v1/eventManager/jobs/0b9f8a52-4c1e-4d7a-9a0e-5b7f3c2d1e00", timeout=10
        )
    # Then the answer is the contract's error shape, not a gateway error
    body = response.json()
    assert 400 <= response.status_code < 500
    assert body["result"] is False
    assert {"errorCode", "errorDesc", "requestId", "message", "messages"} <= set(body)
