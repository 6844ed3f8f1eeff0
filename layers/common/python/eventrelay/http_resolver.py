"""A minimal resolver for API Gateway HTTP API (payload 2.0) events: the few routes of the Events API.

Why not Powertools' `APIGatewayHttpResolver`: importing `aws_lambda_powertools.event_handler`
imports every resolver it has (AppSync, Bedrock agents, VPC Lattice, Function URLs, OpenAPI
support), about 115 ms of each publish cold start, for three routes. This module keeps its
behaviour where the Events API relies on it: a stage other than `$default` is cut from the front
of the path, `<name>` in a route matches one path segment (Powertools' character set) and is passed
to the route by name, a path or method without a route goes to the not-found handler, an
exception goes to the handler registered for the nearest class in its MRO, and the answer has
Powertools' shape for payload 2.0 (`statusCode`, `body`, `isBase64Encoded`, `headers`, `cookies`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

# Powertools' characters of a dynamic path segment (event_handler.api_gateway: _SAFE_URI, _UNSAFE_URI).
_SEGMENT = r"[-._~()'!*:@,;=+&$%<> \[\]{}|^\w]+"
_DYNAMIC = re.compile(r"<(\w+)>")

RouteFunction = Callable[..., "HttpResponse"]
ErrorHandler = Callable[[Any], "HttpResponse"]


@dataclass(frozen=True)
class HttpResponse:
    status_code: int
    body: str
    content_type: str = "application/json"
    headers: Mapping[str, str] = field(default_factory=dict)

    def to_payload(self) -> dict[str, Any]:
        """The Lambda answer API Gateway HTTP API (payload 2.0) expects."""
        return {
            "statusCode": self.status_code,
            "body": self.body,
            "isBase64Encoded": False,
            "headers": {**self.headers, "Content-Type": self.content_type},
            "cookies": [],
        }


class HttpRequest:
    """The parts of one payload 2.0 event a route reads."""

    def __init__(self, event: Mapping[str, Any]) -> None:
        self._event = event
        context = event.get("requestContext") or {}
        self.request_id: str | None = context.get("requestId")
        self.method = str((context.get("http") or {}).get("method", "")).upper()
        path = str(event.get("rawPath") or "/")
        stage = context.get("stage")
        if stage and stage != "$default":
            path = path[len(stage) + 1 :]  # as Powertools: a named stage always prefixes rawPath
        self.path = path
        # API Gateway lower-cases header names; a hand-made event may not.
        self.headers = {str(name).lower(): value for name, value in (event.get("headers") or {}).items()}

    @property
    def body(self) -> str | None:
        body = self._event.get("body")
        return None if body is None else str(body)

    @property
    def is_base64_encoded(self) -> bool:
        return bool(self._event.get("isBase64Encoded"))


@dataclass(frozen=True)
class _Route:
    method: str
    pattern: re.Pattern[str]
    function: RouteFunction


class HttpApiResolver:
    """Routes payload 2.0 events to functions; one instance per process, one event at a time."""

    def __init__(self) -> None:
        self._routes: list[_Route] = []
        self._error_handlers: dict[type[BaseException], ErrorHandler] = {}
        self._not_found: ErrorHandler | None = None
        self._current: HttpRequest | None = None

    @property
    def current_request(self) -> HttpRequest:
        if self._current is None:
            raise RuntimeError("no request is being resolved")
        return self._current

    def route(self, method: str, path: str) -> Callable[[RouteFunction], RouteFunction]:
        segments = _DYNAMIC.sub(lambda name: f"(?P<{name.group(1)}>{_SEGMENT})", path)
        pattern = re.compile(f"^{segments}$")

        def register(function: RouteFunction) -> RouteFunction:
            self._routes.append(_Route(method.upper(), pattern, function))
            return function

        return register

    def get(self, path: str) -> Callable[[RouteFunction], RouteFunction]:
        return self.route("GET", path)

    def post(self, path: str) -> Callable[[RouteFunction], RouteFunction]:
        return self.route("POST", path)

    def not_found(self, handler: ErrorHandler) -> ErrorHandler:
        self._not_found = handler
        return handler

    def exception_handler(self, error_type: type[BaseException]) -> Callable[[ErrorHandler], ErrorHandler]:
        def register(handler: ErrorHandler) -> ErrorHandler:
            self._error_handlers[error_type] = handler
            return handler

        return register

    def resolve(self, event: Mapping[str, Any], context: Any = None) -> dict[str, Any]:
        self._current = HttpRequest(event)
        try:
            return self._answer(self._current).to_payload()
        finally:
            self._current = None

    def _answer(self, request: HttpRequest) -> HttpResponse:
        for route in self._routes:
            match = route.pattern.match(request.path)
            if match and route.method == request.method:
                try:
                    return route.function(**match.groupdict())
                except Exception as error:
                    handler = self._handler_for(error)
                    if handler is None:
                        raise
                    return handler(error)
        if self._not_found is None:
            raise LookupError(f"no route for {request.method} {request.path}")
        return self._not_found(LookupError(request.path))

    def _handler_for(self, error: BaseException) -> ErrorHandler | None:
        for cls in type(error).__mro__:
            if cls in self._error_handlers:
                return self._error_handlers[cls]
        return None
