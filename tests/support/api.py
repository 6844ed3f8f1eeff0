"""Build API Gateway HTTP API (payload 2.0) events and call the Events API handler with them."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

from eventrelay_cli.local.http_gateway import IncomingRequest, build_event

PUBLISH_PATH = "/v1/eventManager/event"
BULK_PATH = "/v1/eventManager/events/bulk"


def http_event(
    method: str,
    path: str,
    headers: dict[str, str | None],
    body: bytes | str | None = None,
    route: str | None = None,
    path_parameters: dict[str, str] | None = None,
    query: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The API Gateway HTTP API 2.0 event for this request, built by the local gateway's own code.

    route: the route key's path when it has parameters ("/v1/eventManager/jobs/{jobId}").
    """
    target = f"{quote(path)}?{urlencode(query)}" if query else quote(path)
    request = IncomingRequest(
        method=method,
        target=target,
        # A header given as None is left out (as a client that never sends it)
        headers=tuple((name, value) for name, value in headers.items() if value is not None),
        body=body.encode() if isinstance(body, str) else (body or b""),
        source_ip="127.0.0.1",
        server_port=443,
    )
    return build_event(
        request, f"{method} {route or path}", path_parameters or {}, request_id=f"req-{uuid.uuid4().hex[:12]}"
    )


@dataclass
class ApiAnswer:
    status: int
    headers: dict[str, str]
    body: dict[str, Any]

    @property
    def error_code(self) -> str | None:
        code = self.body.get("errorCode")
        return str(code) if code is not None else None


def answer_of(response: dict[str, Any]) -> ApiAnswer:
    headers = {k.lower(): v for k, v in (response.get("headers") or {}).items()}
    for name, values in (response.get("multiValueHeaders") or {}).items():
        headers[name.lower()] = ",".join(values)
    return ApiAnswer(response["statusCode"], headers, json.loads(response.get("body") or "null"))


class ApiCaller:
    """Calls a resolver like API Gateway would; one resolver per thread, like one Lambda instance each."""

    def __init__(self, app_factory: Any) -> None:
        self._factory = app_factory
        self._local = threading.local()

    def _app(self) -> APIGatewayHttpResolver:
        app = getattr(self._local, "app", None)
        if app is None:
            app = self._local.app = self._factory()
        return app  # type: ignore[no-any-return]

    def call(self, event: dict[str, Any]) -> ApiAnswer:
        return answer_of(self._app().resolve(event, None))  # type: ignore[arg-type]

    def publish(
        self,
        tenant_id: str,
        secret: str,
        payload: Any,
        event_name: str = "OrderPlaced",
        event_version: str = "v01",
        extra_headers: dict[str, str | None] | None = None,
        raw_body: bytes | None = None,
    ) -> ApiAnswer:
        headers: dict[str, str | None] = {
            "Content-Type": "application/json",
            "tenantId": tenant_id,
            "sharedSecret": secret,
            "eventName": event_name,
            "eventVersion": event_version,
        }
        # An extra header replaces a default of the same name in any case (a client sends it once).
        for name, value in (extra_headers or {}).items():
            headers = {k: v for k, v in headers.items() if k.lower() != name.lower()}
            headers[name] = value
        body = raw_body if raw_body is not None else json.dumps(payload).encode()
        return self.call(http_event("POST", PUBLISH_PATH, headers, body))

    def bulk(self, tenant_id: str, secret: str, events: Any, raw_body: bytes | None = None) -> ApiAnswer:
        headers = {"Content-Type": "application/json", "tenantId": tenant_id, "sharedSecret": secret}
        body = raw_body if raw_body is not None else json.dumps({"events": events}).encode()
        return self.call(http_event("POST", BULK_PATH, headers, body))

    def job(self, tenant_id: str, secret: str, job_id: str) -> ApiAnswer:
        path = f"/v1/eventManager/jobs/{job_id}"
        headers = {"tenantId": tenant_id, "sharedSecret": secret}
        return self.call(
            http_event("GET", path, headers, None, "/v1/eventManager/jobs/{jobId}", {"jobId": job_id})
        )


class ControlledClock:
    """A clock tests set and move; thread-safe reads."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
