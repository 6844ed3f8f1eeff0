"""The Events API over API Gateway HTTP API (payload 2.0): request edge checks and the one error mapping.

Order of checks (contract): size/type → headers → credentials → rate limit → registration → payload.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable
from typing import Any

from eventrelay.errors import (
    ApiError,
    BadBody,
    BadHeader,
    BodyTooLarge,
    NotFound,
    Unavailable,
    UnsupportedMediaType,
)
from eventrelay.http_resolver import HttpApiResolver, HttpRequest, HttpResponse
from eventrelay.observability import count_error, logger, metrics
from eventrelay.publishing import MAX_BULK_BODY_BYTES, MAX_EVENT_BODY_BYTES, CallerIdentity, PublishRequest
from eventrelay.registrations import EVENT_NAME_PATTERN, EVENT_VERSION_PATTERN
from eventrelay.roots.events import EventServices
from eventrelay.tenants import TENANT_ID_PATTERN

ACCEPTED_MESSAGE = "Successfully received event, please keep the event Id for further reference"
BULK_ACCEPTED_MESSAGE = "Successfully received bulk request, please keep the job Id to check its status"
JOB_STATUS_MESSAGE = "Job status"
SECRET_PATTERN = re.compile(r"^[\x21-\x7e]{1,512}$")
IDEMPOTENCY_KEY_PATTERN = re.compile(r"^[\x21-\x7e]{1,255}$")
JOB_ID_PATTERN = re.compile(r"^[0-9a-f-]{36}$")
JSON_MEDIA_TYPE = re.compile(r"^application/(?:[a-z0-9.+-]+\+)?json$")


def _json_response(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> HttpResponse:
    return HttpResponse(
        status_code=status,
        content_type="application/json",
        body=json.dumps(body, ensure_ascii=False),
        headers=headers or {},
    )


def error_response(error: ApiError, request_id: str) -> HttpResponse:
    body = {
        "result": False,
        "errorCode": error.code.value,
        "errorDesc": error.code.description,
        "requestId": request_id,
        "message": error.message,
        "messages": [error.message],
    }
    return _json_response(error.code.http_status, body, {"X-Request-Id": request_id, **(error.headers or {})})


def success_response(
    status: int, data: dict[str, Any], message: str, headers: dict[str, str], request_id: str
) -> HttpResponse:
    body = {"result": True, "data": data, "message": message, "messages": [message]}
    return _json_response(status, body, {"X-Request-Id": request_id, **headers})


class RequestReader:
    """The edge checks of one API Gateway HTTP API request: body size and type, then headers."""

    def __init__(self, request: HttpRequest) -> None:
        self._request = request

    @property
    def request_id(self) -> str:
        return self._request.request_id or "unknown"

    def header(self, name: str) -> str | None:
        # Header names are case-insensitive per the contract: the request holds them lower-cased.
        value = self._request.headers.get(name.lower())
        return None if value is None else str(value)

    def required_header(self, name: str, pattern: re.Pattern[str], shape: str) -> str:
        value = self.header(name)
        if value is None or value == "":
            raise BadHeader(f"Missing required header: {name}")
        if not pattern.match(value):
            raise BadHeader(f"Malformed header {name}: {shape}")
        return value

    def json_body(self, cap: int) -> bytes:
        raw = self._request.body or ""
        if self._request.is_base64_encoded:
            try:
                data = base64.b64decode(raw, validate=True)
            except (binascii.Error, ValueError):
                raise BadBody("Body could not be decoded") from None
        else:
            data = raw.encode("utf-8", "surrogatepass")
        if len(data) > cap:
            raise BodyTooLarge(cap)
        if not self._declares_json():
            raise UnsupportedMediaType
        return data

    def _declares_json(self) -> bool:
        content_type = self.header("content-type")
        if content_type is None:
            # The original product's documents list a header `ContentType: JSON`; a publisher that
            # sends exactly that (and no Content-Type) declares a JSON body.
            legacy = (self.header("contenttype") or "").strip().lower()
            return legacy == "json" or bool(JSON_MEDIA_TYPE.match(legacy))
        return bool(JSON_MEDIA_TYPE.match(content_type.split(";", 1)[0].strip().lower()))

    def caller(self) -> CallerIdentity:
        tenant_id = self.required_header("tenantId", TENANT_ID_PATTERN, "letters, digits, _ . - (at most 64)")
        secret = self.required_header(
            "sharedSecret", SECRET_PATTERN, "printable ASCII, at most 512 characters"
        )
        return CallerIdentity(tenant_id=tenant_id, shared_secret=secret, request_id=self.request_id)

    def idempotency_key(self) -> str | None:
        key = self.header("idempotency-key")
        if key is not None and not IDEMPOTENCY_KEY_PATTERN.match(key):
            raise BadHeader("Malformed header Idempotency-Key: 1 to 255 printable ASCII characters")
        return key


def build_app(services: Callable[[], EventServices]) -> HttpApiResolver:
    """The resolver with the Events API routes; `services` is called per request (cached by the caller)."""
    app = HttpApiResolver()

    def reader() -> RequestReader:
        return RequestReader(app.current_request)

    @app.post("/v1/eventManager/event")
    def publish_event() -> HttpResponse:
        request = reader()
        body = request.json_body(MAX_EVENT_BODY_BYTES)
        event_name = request.required_header(
            "eventName", EVENT_NAME_PATTERN, "letters, digits, _ . : - (at most 128)"
        )
        event_version = request.required_header("eventVersion", EVENT_VERSION_PATTERN, "like v01")
        publish = PublishRequest(request.caller(), event_name, event_version, body, request.idempotency_key())
        accepted = services().publish.publish(publish)
        data = {"eventId": accepted.event_id}
        return success_response(200, data, ACCEPTED_MESSAGE, accepted.rate_limit_headers, request.request_id)

    @app.post("/v1/eventManager/events/bulk")
    def publish_bulk() -> HttpResponse:
        request = reader()
        body = request.json_body(MAX_BULK_BODY_BYTES)
        accepted = services().bulk.submit(request.caller(), body)
        job = accepted.job
        metrics.add_metric(name="BulkJobsAccepted", unit="Count", value=1)
        data = {"jobId": job.jobId, "status": job.status.value, "totalCount": job.totalCount}
        return success_response(
            202, data, BULK_ACCEPTED_MESSAGE, accepted.rate_limit_headers, request.request_id
        )

    @app.get("/v1/eventManager/jobs/<job_id>")
    def job_status(job_id: str) -> HttpResponse:
        request = reader()
        who = request.caller()
        if not JOB_ID_PATTERN.match(job_id):
            raise NotFound("Job")
        job, headers = services().bulk.status(who, job_id)
        metrics.add_metric(name="JobStatusRequests", unit="Count", value=1)
        return success_response(200, job.public_view(), JOB_STATUS_MESSAGE, headers, request.request_id)

    @app.not_found
    def route_not_found(_: Exception) -> HttpResponse:
        return error_response(NotFound("Route"), reader().request_id)

    @app.exception_handler(ApiError)
    def api_error(error: ApiError) -> HttpResponse:
        count_error(error.code.value)
        if error.code.value == "1006":
            metrics.add_metric(name="Throttled", unit="Count", value=1)
        return error_response(error, reader().request_id)

    @app.exception_handler(Exception)
    def unexpected_error(error: Exception) -> HttpResponse:
        # Nothing was accepted (acceptance is the last step): tell the publisher to retry.
        logger.exception("unexpected error", extra={"error_type": type(error).__name__})
        return error_response(Unavailable(), reader().request_id)

    return app
