"""The Events API's operations: publish, bulk publish, a bulk job's status."""

from __future__ import annotations

from typing import Any

from eventrelay_cli.openapi.schemas import TENANT_ID, Schema, array, obj, ref, success


def _header(name: str, schema: Schema, description: str, *, required: bool = True) -> dict[str, Any]:
    return {"name": name, "in": "header", "required": required, "schema": schema, "description": description}


CREDENTIALS = [
    _header("tenantId", TENANT_ID, "the publishing tenant"),
    _header(
        "sharedSecret",
        {"type": "string", "minLength": 1, "maxLength": 512},
        "the tenant's shared secret (never logged)",
    ),
]
EVENT_HEADERS = [
    _header("eventName", {"type": "string", "pattern": r"^[A-Za-z0-9_.:-]{1,128}$"}, "a registered event"),
    _header("eventVersion", {"type": "string", "pattern": r"^v\d{2,4}$"}, "its version, like v01"),
]
IDEMPOTENCY = _header(
    "Idempotency-Key",
    {"type": "string", "minLength": 1, "maxLength": 255},
    "a retry with the same key and body within 24 h answers the first answer and enqueues nothing",
    required=False,
)
RATE_LIMIT_HEADERS = {
    "RateLimit-Limit": {"schema": {"type": "string"}},
    "RateLimit-Remaining": {"schema": {"type": "string"}},
    "RateLimit-Reset": {"schema": {"type": "string"}, "description": "seconds"},
}


def _error(description: str, codes: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": f"{description} (errorCode {codes})",
        "content": {"application/json": {"schema": ref("Error")}},
    }
    if headers:
        response["headers"] = headers
    return response


def _errors(*, credentials: bool = True, body: bool = True) -> dict[str, Any]:
    responses: dict[str, Any] = {
        "400": _error("bad request: not registered, header, body or payload", "1001, 1002, 1003, 1004"),
        "404": _error("not found", "1011"),
        "503": _error("temporarily unable to accept; the event was NOT accepted, retry", "1009"),
    }
    if credentials:
        responses["401"] = _error("invalid credentials (unknown tenant and wrong secret alike)", "1005")
        responses["429"] = _error(
            "rate limit exceeded",
            "1006",
            {"Retry-After": {"schema": {"type": "string"}}, **RATE_LIMIT_HEADERS},
        )
    if body:
        responses["409"] = _error("idempotency key reused with a different body", "1010")
        responses["413"] = _error("body larger than the cap", "1007")
        responses["415"] = _error("content type is not JSON", "1008")
    return responses


def components() -> dict[str, Schema]:
    return {
        "EventAccepted": obj({"eventId": {"type": "string", "format": "uuid"}}, ["eventId"]),
        "BulkRequest": obj(
            {
                "events": array(
                    obj(
                        {
                            "eventName": {"type": "string"},
                            "eventVersion": {"type": "string"},
                            "payload": {"type": "object"},
                        },
                        ["eventName", "eventVersion", "payload"],
                    )
                )
            },
            ["events"],
        ),
        "JobAccepted": obj(
            {"jobId": {"type": "string"}, "status": {"type": "string"}, "totalCount": {"type": "integer"}},
            ["jobId", "status", "totalCount"],
        ),
        "Job": obj(
            {
                "jobId": {"type": "string"},
                "status": {"enum": ["ACCEPTED", "PROCESSING", "SUCCESS", "PARTIAL_SUCCESS", "FAILED"]},
                "totalCount": {"type": "integer"},
                "successCount": {"type": "integer"},
                "failureCount": {"type": "integer"},
                "errors": array(
                    obj(
                        {
                            "index": {"type": "integer"},
                            "eventName": {"type": ["string", "null"]},
                            "eventVersion": {"type": ["string", "null"]},
                            "errorCode": {"type": "string"},
                            "message": {"type": "string"},
                        },
                        ["index", "errorCode", "message"],
                    )
                ),
                "accepted": array(
                    obj({"index": {"type": "integer"}, "eventId": {"type": "string"}}, ["index", "eventId"])
                ),
                "createdAt": {"type": "string"},
                "updatedAt": {"type": "string"},
            },
            ["jobId", "status", "totalCount", "successCount", "failureCount"],
        ),
    }


def paths() -> dict[str, dict[str, Any]]:
    def ok(description: str, data: Schema) -> dict[str, Any]:
        return {
            "description": description,
            "headers": {"X-Request-Id": {"schema": {"type": "string"}}, **RATE_LIMIT_HEADERS},
            "content": {"application/json": {"schema": success(data)}},
        }

    return {
        "/v1/eventManager/event": {
            "post": {
                "operationId": "publishEvent",
                "summary": "Publish one event",
                "tags": ["events"],
                "parameters": [*EVENT_HEADERS, *CREDENTIALS, IDEMPOTENCY],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {"type": "object", "maxProperties": 10000},
                            "example": {"opportunityId": "0061x00000AbCdE", "stage": "Closed Won"},
                        }
                    },
                },
                "responses": {"200": ok("accepted: keep the eventId", ref("EventAccepted")), **_errors()},
            }
        },
        "/v1/eventManager/events/bulk": {
            "post": {
                "operationId": "publishBulk",
                "summary": "Publish up to 100 events asynchronously",
                "tags": ["events"],
                "parameters": CREDENTIALS,
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": ref("BulkRequest"),
                            "example": {
                                "events": [
                                    {"eventName": "load", "eventVersion": "v01", "payload": {"rows": 3}}
                                ]
                            },
                        }
                    },
                },
                "responses": {"202": ok("accepted: keep the jobId", ref("JobAccepted")), **_errors()},
            }
        },
        "/v1/eventManager/jobs/{jobId}": {
            "get": {
                "operationId": "getJob",
                "summary": "A bulk job's status",
                "tags": ["events"],
                "parameters": [
                    {"name": "jobId", "in": "path", "required": True, "schema": {"type": "string"}},
                    *CREDENTIALS,
                ],
                "responses": {"200": ok("the job", ref("Job")), **_errors(body=False)},
            }
        },
    }
