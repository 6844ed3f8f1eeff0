"""The admin API's edge: authenticate, route, check the tenant, call, and the one error mapping.

Order of checks: origin (1015) → token (1013) → route (1011) → operator-only (1014) → tenant (1011) → body
(1007, 1008, 1003) → the service (1004, 1011, 1012, 1009). A tenant admin asking for another
tenant gets exactly what an unknown tenant gets (`tenant 'x' not found`, 1011): never a 403 that
would confirm the tenant exists. A state change (POST, PUT, PATCH, DELETE) whose `Origin` header
is present and is not the API's own origin is refused first (1015): a page of another site cannot
make the browser send the console's token (it lives in the page, sent only in `Authorization`),
and this refuses its attempt even so. The API answers no CORS allowance. Unknown admin routes
answer 1011 only after the token checks, so an unauthenticated caller learns nothing about which routes exist.

`AdminApi.handle` turns every outcome into the contract's document; `AdminApi.call` is the same
path for a caller that has already authenticated (the CLI in its own process, as an operator) and
lets the domain errors through, so the CLI keeps its own exit-code table.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from eventrelay.admin import AdminService
from eventrelay.admin_api.routing import ADMIN_PREFIX, AdminCall, AdminRequest, Reply, Route
from eventrelay.admin_auth import Principal
from eventrelay.errors import (
    AdminError,
    ApiError,
    BodyTooLarge,
    CrossOriginRefused,
    DependencyFailure,
    ErrorCode,
    NotFound,
    ResourceConflict,
    ResourceExists,
    ResourceInUse,
    ResourceNotFound,
    UnsupportedMediaType,
)
from eventrelay.json_body import parse_json_object
from eventrelay.observability import logger
from eventrelay.tenants import TenantNotFound

MAX_ADMIN_BODY_BYTES = 256 * 1024
JSON_CONTENT_TYPES = ("application/json",)
STATE_CHANGING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

Authenticate = Callable[[str | None], Principal]


@dataclass(frozen=True)
class AdminResponse:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)

    def json(self) -> str:
        return json.dumps(self.body, ensure_ascii=False, default=str)


def success_document(reply: Reply) -> dict[str, Any]:
    return {"result": True, "data": reply.data, "message": reply.message, "messages": [reply.message]}


def error_document(code: ErrorCode, messages: list[str], request_id: str) -> dict[str, Any]:
    return {
        "result": False,
        "errorCode": code.value,
        "errorDesc": code.description,
        "requestId": request_id,
        "message": "; ".join(messages),
        "messages": messages,
    }


def _problems(error: BaseException) -> list[str]:
    """An invalid resource's problems, one per line (`credentials: basic auth needs a password`)."""
    problems = getattr(error, "problems", None)
    if problems:
        return [str(problem) for problem in problems]
    cause = error.__cause__
    # InvalidAction wraps the template's own error, which says where (`payload: unclosed '{{'…`).
    from eventrelay.actions.errors import RenderError, TemplateError

    if isinstance(cause, TemplateError | RenderError):
        return [str(cause)]
    return [str(error)]


def _not_found(error: BaseException) -> list[str]:
    if isinstance(error, TenantNotFound):
        return [f"tenant '{error.args[0] if error.args else '?'}' not found"]
    return [str(error)]


def _in_use(error: BaseException) -> list[str]:
    # The service says "force the delete"; over the API that is `?force=true`.
    return [str(error).replace("force the delete", "delete with ?force=true")]


@dataclass(frozen=True)
class ErrorEntry:
    error: type[BaseException]
    code: ErrorCode
    messages: Callable[[BaseException], list[str]]


def _error_table() -> tuple[ErrorEntry, ...]:
    """Most specific first: the first entry whose type matches wins (ApiError is handled before)."""
    from eventrelay.actions.errors import InvalidAction, RenderError, TemplateError
    from eventrelay.connectors.errors import InvalidConnectorCredentials, NotAuthorizationCode
    from eventrelay.delivery.replay import NotReplayable
    from eventrelay.errors import InvalidResource
    from eventrelay.rules.conditions import ConditionError

    invalid = (
        InvalidResource,
        InvalidAction,
        TemplateError,
        RenderError,
        ConditionError,
        InvalidConnectorCredentials,
        NotAuthorizationCode,
    )
    return (
        *(ErrorEntry(kind, ErrorCode.INVALID_PAYLOAD, _problems) for kind in invalid),
        ErrorEntry(ResourceNotFound, ErrorCode.NOT_FOUND, _not_found),
        ErrorEntry(ResourceInUse, ErrorCode.ADMIN_CONFLICT, _in_use),
        ErrorEntry(ResourceExists, ErrorCode.ADMIN_CONFLICT, lambda e: [str(e)]),
        ErrorEntry(ResourceConflict, ErrorCode.ADMIN_CONFLICT, lambda e: [str(e)]),
        ErrorEntry(NotReplayable, ErrorCode.ADMIN_CONFLICT, lambda e: [str(e)]),
    )


class AdminApi:
    """The admin routes over one AdminService; `authenticate` reads the Authorization header."""

    def __init__(self, service: AdminService, authenticate: Authenticate, routes: Iterable[Route]) -> None:
        self._service = service
        self._authenticate = authenticate
        self._routes = tuple(routes)
        self._errors = _error_table()

    @property
    def routes(self) -> tuple[Route, ...]:
        return self._routes

    def handle(self, request: AdminRequest) -> AdminResponse:
        headers = {"X-Request-Id": request.request_id, "Cache-Control": "no-store"}
        try:
            refuse_cross_origin(request)
            principal = self._authenticate(request.headers.get("authorization"))
            reply = self.call(request, principal)
        except Exception as error:
            code, messages = self._classify(error)
            extra = error.headers if isinstance(error, ApiError) and error.headers else {}
            return AdminResponse(
                code.http_status, error_document(code, messages, request.request_id), {**headers, **extra}
            )
        return AdminResponse(reply.status, success_document(reply), headers)

    def call(self, request: AdminRequest, principal: Principal) -> Reply:
        """Route and perform `request` for an authenticated `principal`; domain errors propagate."""
        route, parameters = self._route(request.method, request.path)
        if route.operator_only:
            principal.require_operator(f"{route.method} {route.template}")
        service = self._service.acting_as(principal.subject, request.request_id)
        if route.tenant_scoped:
            tenant_id = parameters["tenantId"]
            if not principal.can_administer(tenant_id):
                raise TenantNotFound(tenant_id)
            service.tenants.show(tenant_id)  # an unknown tenant: the same TenantNotFound
        call = AdminCall(
            service=service,
            principal=principal,
            path_parameters=parameters,
            query=request.query,
            body_reader=lambda: _json_object(request),
            request_id=request.request_id,
        )
        return route.handler(call)

    def _route(self, method: str, path: str) -> tuple[Route, dict[str, str]]:
        if path.startswith(ADMIN_PREFIX):
            for route in self._routes:
                if route.method == method.upper():
                    parameters = route.match(path)
                    if parameters is not None:
                        return route, parameters
        raise NotFound("Route")

    def _classify(self, error: BaseException) -> tuple[ErrorCode, list[str]]:
        if isinstance(error, ApiError):
            problems = getattr(error, "problems", None)
            return error.code, [str(p) for p in problems] if problems else [error.message]
        for entry in self._errors:
            if isinstance(error, entry.error):
                return entry.code, entry.messages(error)
        if isinstance(error, DependencyFailure):
            logger.warning("admin dependency failed", extra={"error_type": type(error).__name__})
            return ErrorCode.UNAVAILABLE, [
                "Temporarily unable to complete the request (a dependency failed); retry"
            ]
        if isinstance(error, AdminError):
            return ErrorCode.INVALID_PAYLOAD, [str(error)]
        # A bug: logged by class (its text might hold a secret); the caller may retry.
        logger.exception("unexpected admin error", extra={"error_type": type(error).__name__})
        return ErrorCode.UNAVAILABLE, ["Temporarily unable to complete the request; retry"]


def own_origin(headers: Mapping[str, str]) -> str:
    """The origin the request was sent to: `x-forwarded-proto` (API Gateway sets it) and `host`."""
    scheme = headers.get("x-forwarded-proto", "https").split(",", 1)[0].strip().lower() or "https"
    return f"{scheme}://{headers.get('host', '').strip().lower()}"


def refuse_cross_origin(request: AdminRequest) -> None:
    """CrossOriginRefused (1015) for a state change sent by a page of another origin.

    No `Origin` header (the CLI, curl, a server) is not a browser page: allowed. `Origin: null`
    (a sandboxed or file page) is another origin."""
    if request.method.upper() not in STATE_CHANGING_METHODS:
        return
    origin = request.headers.get("origin")
    if origin is None:
        return
    if origin.strip().lower().rstrip("/") != own_origin(request.headers):
        raise CrossOriginRefused


def _json_object(request: AdminRequest) -> dict[str, Any]:
    if len(request.body) > MAX_ADMIN_BODY_BYTES:
        raise BodyTooLarge(MAX_ADMIN_BODY_BYTES)
    if not request.body:
        return {}
    content_type = request.headers.get("content-type")
    if content_type is not None and content_type.split(";", 1)[0].strip().lower() not in JSON_CONTENT_TYPES:
        raise UnsupportedMediaType
    return parse_json_object(request.body)


__all__ = [
    "AdminApi",
    "AdminResponse",
    "Authenticate",
    "error_document",
    "own_origin",
    "refuse_cross_origin",
    "success_document",
]
