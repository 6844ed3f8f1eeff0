"""API Gateway HTTP API (payload 2.0) events in and out of the admin API, and the OpenAPI document.

The admin function serves `/v1/admin/…`, `GET /v1/openapi.json` (public: it describes the
routes, never data) and the admin console (`/console…`, static files and its sign-in config).
"""

from __future__ import annotations

import base64
import binascii
import json
from functools import cache
from importlib import resources
from typing import Any
from urllib.parse import quote

from eventrelay import console
from eventrelay.admin_api.edge import AdminApi, AdminResponse, error_document
from eventrelay.admin_api.routing import AdminRequest
from eventrelay.errors import BadBody, ErrorCode

OPENAPI_PATH = "/v1/openapi.json"


@cache
def openapi_document() -> str:
    """The OpenAPI 3.1 document shipped with the package (`eventrelay/admin_api/openapi.json`)."""
    return resources.files("eventrelay.admin_api").joinpath("openapi.json").read_text(encoding="utf-8")


def _encoded_path(decoded: str) -> str:
    """The path with its segments percent-encoded again, as the routes match it.

    HTTP APIs hand the function `rawPath` already percent-DECODED (unlike REST APIs and function
    URLs), so a name holding `%41` arrives as `%41` and would be decoded a second time into `A`.
    Encoding every segment again gives back each segment as sent; a `/` inside a segment cannot
    be told apart (API Gateway decoded it), so names never hold one."""
    return quote(decoded, safe="/")


def request_from_event(event: dict[str, Any]) -> AdminRequest:
    context = event.get("requestContext") or {}
    http = context.get("http") or {}
    raw = event.get("body") or ""
    if event.get("isBase64Encoded"):
        try:
            body = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            raise BadBody("Body could not be decoded") from None
    else:
        body = raw.encode("utf-8", "surrogatepass")
    return AdminRequest(
        method=str(http.get("method") or "GET").upper(),
        path=_encoded_path(str(event.get("rawPath") or http.get("path") or "/")),
        request_id=str(context.get("requestId") or "unknown"),
        headers={str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()},
        query={str(k): str(v) for k, v in (event.get("queryStringParameters") or {}).items()},
        body=body,
    )


def _event_response(status: int, body: str, headers: dict[str, str], content_type: str) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"Content-Type": content_type, **headers},
        "body": body,
        "isBase64Encoded": False,
    }


def handle_event(
    api: AdminApi, event: dict[str, Any], console_settings: console.ConsoleSettings | None = None
) -> dict[str, Any]:
    """One API Gateway event: the console, the OpenAPI document, or an admin route."""
    path = str(event.get("rawPath") or "/")
    if console.is_console_path(path):
        method = str(((event.get("requestContext") or {}).get("http") or {}).get("method") or "GET").upper()
        headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
        page = console.answer(console_settings or console.ConsoleSettings(), method, path, headers)
        return {
            "statusCode": page.status,
            "headers": page.headers,
            "body": page.body,
            "isBase64Encoded": False,
        }
    request_id = str((event.get("requestContext") or {}).get("requestId") or "unknown")
    try:
        request = request_from_event(event)
    except BadBody as error:
        document = error_document(error.code, [error.message], request_id)
        return _event_response(error.code.http_status, json.dumps(document), {}, "application/json")
    if request.method == "GET" and request.path == OPENAPI_PATH:
        return _event_response(200, openapi_document(), {"Cache-Control": "max-age=300"}, "application/json")
    answer: AdminResponse = api.handle(request)
    return _event_response(answer.status, answer.json(), answer.headers, "application/json")


__all__ = ["OPENAPI_PATH", "ErrorCode", "handle_event", "openapi_document", "request_from_event"]
