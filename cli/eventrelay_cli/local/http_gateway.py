"""An API Gateway HTTP API in front of local Lambda functions (payload format 2.0).

Each HTTP request becomes the event AWS sends with payload format version 2.0, the handler of the
matching route is invoked like Lambda invokes it (`LocalFunction`), and its result is mapped back
the way HTTP APIs do. What this emulates, and the rules chosen where AWS documents none:

Request → event
- `rawPath` and `requestContext.http.path` are the percent-DECODED path (HTTP APIs decode the path;
  REST APIs and function URLs do not). `rawQueryString` is the query exactly as sent.
- Header names are lower-cased; repeated headers are joined with "," (no space). `cookie` headers
  are removed from `headers` and split on ";" into `cookies`. Hop-by-hop headers are dropped and
  `x-forwarded-for` (client address appended), `x-forwarded-port`, `x-forwarded-proto` and
  `x-amzn-trace-id` are added, as API Gateway does.
- `queryStringParameters`: values percent-decoded ("+" as space), repeated keys joined with ",".
  `cookies`, `queryStringParameters`, `pathParameters` and `body` are omitted when empty.
- Body encoding: the body is passed as text (`isBase64Encoded: false`) only when the media type is
  `text/*`, `application/json`, `application/xml` or `application/javascript` (parameters such as
  charset ignored) AND the bytes are valid UTF-8; otherwise — including a missing Content-Type and
  `application/x-www-form-urlencoded`, as observed on real HTTP APIs — it is base64-encoded with
  `isBase64Encoded: true`. Handlers must honour `isBase64Encoded` (Powertools' `decoded_body` and
  `json_body` do).
- Route selection: exact routes first, then routes with `{param}` segments (fewest variables
  first), then greedy `{proxy+}` routes, then `$default`; a route for the method beats `ANY`.

Result → HTTP response
- A dict with `statusCode`: `statusCode`, `headers`, `cookies` (one `set-cookie` each), `body`
  (base64-decoded when `isBase64Encoded`). `multiValueHeaders` is a format 1.0 field that HTTP APIs
  ignore under 2.0, so it is ignored here too. A malformed response (statusCode not an integer,
  body not a string, bad base64) is a 500, as API Gateway answers.
- Anything else (a dict without `statusCode`, a list, a number, a string, null) is inferred as
  HTTP APIs do: 200, `content-type: application/json`, body = the string itself or the JSON text.
- API Gateway's own answers: no route → 404 `{"message":"Not Found"}`; handler error, timeout or
  malformed result → 500 `{"message":"Internal Server Error"}`; body over 10 MB → 413
  `{"message":"Request Entity Too Large"}`. Every response carries `apigw-requestid`.
- A timed-out invocation (the function's process is killed at its Timeout) is a failed
  integration like any other: 500 `{"message":"Internal Server Error"}`, as API Gateway answers
  when Lambda reports `Sandbox.Timedout`. For the publish route this is deliberately NOT mapped to
  the contract's 1009: a publish killed after its SendMessage did enqueue its event, so "the event
  was NOT accepted" would be false; a timed-out publish is a bug to see, as it would be in AWS.

The server is werkzeug's threaded WSGI server (`werkzeug.serving.ThreadedWSGIServer`, what
`make_server(..., threaded=True)` builds) with a listen backlog of `LISTEN_BACKLOG`: it parses
requests, decodes chunked bodies, answers `Expect: 100-continue`, drains unread bodies and
closes each connection after its response (werkzeug does not keep connections alive; clients
reconnect transparently). A thread per connection: hundreds of simultaneous publishers are
accepted and answered, and each waits for a function instance in `LocalFunction`'s pool.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import logging
import re
import secrets
import socket
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote, urlsplit

from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler
from werkzeug.wsgi import get_input_stream

from eventrelay_cli.local.lambda_runtime import (
    DEFAULT_ACCOUNT_ID,
    DEFAULT_REGION,
    Handler,
    InvocationError,
    LocalFunction,
)

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

MAX_PAYLOAD_BYTES = 10 * 1024 * 1024  # API Gateway HTTP API payload quota (10 MB)
# Oversized bodies up to this size are read and discarded before answering 413; larger ones are cut off.
_DRAIN_LIMIT_BYTES = 64 * 1024 * 1024

_TEXT_MEDIA_TYPES = frozenset({"application/json", "application/xml", "application/javascript"})
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "expect",
    }
)
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_log = logging.getLogger("eventrelay_cli.local.http")


# --------------------------------------------------------------------------------------------------
# Routes


@dataclass(frozen=True)
class Route:
    """A parsed route key: "$default" or "METHOD /path/{param}/{proxy+}"."""

    route_key: str
    method: str
    segments: tuple[str, ...]

    @classmethod
    def parse(cls, route_key: str) -> Route:
        if route_key == "$default":
            return cls(route_key, "ANY", ())
        method, _, path = route_key.partition(" ")
        if not method or not path.startswith("/"):
            raise ValueError(f"route key must be '$default' or 'METHOD /path', got {route_key!r}")
        segments = tuple(path.strip("/").split("/")) if path.strip("/") else ()
        for index, segment in enumerate(segments):
            if segment.endswith("+}") and index != len(segments) - 1:
                raise ValueError(f"a greedy path variable must be last: {route_key!r}")
        return cls(f"{method.upper()} {path}", method.upper(), segments)

    @property
    def is_default(self) -> bool:
        return self.route_key == "$default"

    def _variables(self) -> int:
        return sum(1 for s in self.segments if s.startswith("{") and s.endswith("}"))

    def _greedy(self) -> bool:
        return bool(self.segments) and self.segments[-1].endswith("+}")

    def priority(self) -> tuple[int, int, int, int]:
        """Lower sorts first: exact, then fewer variables, then greedy, then $default; ANY last."""
        return (int(self.is_default), int(self._greedy()), self._variables(), int(self.method == "ANY"))

    def match(self, method: str, path: str) -> dict[str, str] | None:
        """Path parameters when this route serves (method, decoded path), else None."""
        if self.is_default:
            return {}
        if self.method not in ("ANY", method):
            return None
        parts = path.strip("/").split("/") if path.strip("/") else []
        if self._greedy():
            fixed = len(self.segments) - 1
            if len(parts) <= fixed:
                return None
            parameters = _match_segments(self.segments[:fixed], parts[:fixed])
            if parameters is not None:
                parameters[self.segments[-1][1:-2]] = "/".join(parts[fixed:])
            return parameters
        return _match_segments(self.segments, parts) if len(parts) == len(self.segments) else None


def _match_segments(segments: tuple[str, ...], parts: list[str]) -> dict[str, str] | None:
    parameters: dict[str, str] = {}
    for segment, part in zip(segments, parts, strict=True):
        if segment.startswith("{") and segment.endswith("}"):
            if not part:
                return None
            parameters[segment[1:-1]] = part
        elif segment != part:
            return None
    return parameters


# --------------------------------------------------------------------------------------------------
# Request → event, result → response (pure functions)


@dataclass(frozen=True)
class IncomingRequest:
    method: str
    target: str  # request-target as sent: path and query, percent-encoded
    headers: tuple[tuple[str, str], ...]
    body: bytes
    source_ip: str
    server_port: int


@dataclass(frozen=True)
class GatewayResponse:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


def _is_text(content_type: str | None) -> bool:
    if not content_type:
        return False
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type.startswith("text/") or media_type in _TEXT_MEDIA_TYPES


def encode_body(body: bytes, content_type: str | None) -> tuple[str | None, bool]:
    """(event body, isBase64Encoded) following the rule in the module docstring."""
    if not body:
        return None, False
    if _is_text(content_type):
        try:
            return body.decode("utf-8"), False
        except UnicodeDecodeError:
            pass
    return base64.b64encode(body).decode("ascii"), True


def new_request_id() -> str:
    # HTTP API request ids look like "JKJaXmPLvHcESHA=": base64 of 10 random bytes.
    return base64.b64encode(secrets.token_bytes(10)).decode("ascii")


def _trace_id(now: float) -> str:
    return f"Root=1-{int(now):08x}-{secrets.token_hex(12)}"


def _hostname(host_header: str) -> str:
    if host_header.startswith("["):  # [IPv6]:port
        return host_header.split("]", 1)[0] + "]"
    return host_header.rsplit(":", 1)[0]


def _clf_time(moment: datetime) -> str:
    return f"{moment:%d}/{_MONTHS[moment.month - 1]}/{moment:%Y:%H:%M:%S} +0000"


def build_event(
    request: IncomingRequest,
    route_key: str,
    path_parameters: Mapping[str, str],
    *,
    request_id: str,
    api_id: str = "local",
    account_id: str = DEFAULT_ACCOUNT_ID,
    now: float | None = None,
) -> dict[str, Any]:
    """The payload format 2.0 event API Gateway would send for this request."""
    moment = time.time() if now is None else now
    split = urlsplit(request.target)
    raw_path = unquote(split.path) or "/"
    raw_query = split.query

    headers: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in request.headers:
        key = name.lower()
        if key == "cookie":
            cookies.extend(c.strip() for c in value.split(";") if c.strip())
        elif key not in _HOP_BY_HOP:
            headers[key] = f"{headers[key]},{value}" if key in headers else value
    forwarded = headers.get("x-forwarded-for")
    headers["x-forwarded-for"] = f"{forwarded}, {request.source_ip}" if forwarded else request.source_ip
    headers["x-forwarded-port"] = str(request.server_port)
    headers["x-forwarded-proto"] = "http"
    headers.setdefault("x-amzn-trace-id", _trace_id(moment))

    query: dict[str, str] = {}
    for key, value in parse_qsl(raw_query, keep_blank_values=True):
        query[key] = f"{query[key]},{value}" if key in query else value

    host = _hostname(headers.get("host", "localhost"))
    body, is_base64 = encode_body(request.body, headers.get("content-type"))

    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": raw_path,
        "rawQueryString": raw_query,
    }
    if cookies:
        event["cookies"] = cookies
    event["headers"] = headers
    if query:
        event["queryStringParameters"] = query
    event["requestContext"] = {
        "accountId": account_id,
        "apiId": api_id,
        "domainName": host,
        "domainPrefix": host.split(".", 1)[0],
        "http": {
            "method": request.method,
            "path": raw_path,
            "protocol": "HTTP/1.1",
            "sourceIp": request.source_ip,
            "userAgent": headers.get("user-agent", ""),
        },
        "requestId": request_id,
        "routeKey": route_key,
        "stage": "$default",
        "time": _clf_time(datetime.fromtimestamp(moment, UTC)),
        "timeEpoch": int(moment * 1000),
    }
    if body is not None:
        event["body"] = body
    if path_parameters:
        event["pathParameters"] = dict(path_parameters)
    event["isBase64Encoded"] = is_base64
    return event


class MalformedResponseError(ValueError):
    """The function's result is not a valid format 2.0 response (API Gateway answers 500)."""


def _message(status: int, message: str, request_id: str) -> GatewayResponse:
    return GatewayResponse(
        status,
        (("content-type", "application/json"), ("apigw-requestid", request_id)),
        json.dumps({"message": message}, separators=(",", ":")).encode(),
    )


def _response_headers(result: Mapping[str, Any]) -> list[tuple[str, str]]:
    raw_headers = result.get("headers") or {}
    if not isinstance(raw_headers, dict):
        raise MalformedResponseError("headers must be an object")
    headers: list[tuple[str, str]] = []
    for name, value in raw_headers.items():
        if isinstance(value, dict | list) or value is None:
            raise MalformedResponseError("header values must be scalars")
        text_value = str(value).lower() if isinstance(value, bool) else str(value)
        if any(ch in text_value for ch in "\r\n") or any(ch in str(name) for ch in "\r\n: "):
            raise MalformedResponseError("header names and values must not contain line breaks")
        if str(name).lower() not in ("content-length", *_HOP_BY_HOP):
            headers.append((str(name), text_value))
    cookies = result.get("cookies") or []
    if not isinstance(cookies, list) or not all(isinstance(c, str) and "\n" not in c for c in cookies):
        raise MalformedResponseError("cookies must be a list of strings")
    headers.extend(("set-cookie", cookie) for cookie in cookies)
    return headers


def _response_body(result: Mapping[str, Any]) -> bytes:
    body = result.get("body")
    if body is None:
        return b""
    if not isinstance(body, str):
        raise MalformedResponseError("body must be a string")
    if result.get("isBase64Encoded") is True:
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise MalformedResponseError("body is not valid base64") from exc
    return body.encode("utf-8")


def map_result(result: Any) -> GatewayResponse:
    """The HTTP response an HTTP API (payload format 2.0) returns for a Lambda result."""
    if not (isinstance(result, dict) and "statusCode" in result):
        text = result if isinstance(result, str) else json.dumps(result)
        return GatewayResponse(200, (("content-type", "application/json"),), text.encode("utf-8"))
    status = result["statusCode"]
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        raise MalformedResponseError("statusCode must be an integer HTTP status")
    return GatewayResponse(status, tuple(_response_headers(result)), _response_body(result))


# --------------------------------------------------------------------------------------------------
# The server: werkzeug's threaded WSGI server


# Connections the kernel queues before the server accepts them. werkzeug's default (128) and
# http.server's (5) reset bursts of publishers; the kernel caps it at net.core.somaxconn.
LISTEN_BACKLOG = 1024
_RAW_HEADERS = "eventrelay.raw_headers"
_REQUEST_TARGET = "eventrelay.request_target"


class _RequestHandler(WSGIRequestHandler):
    """werkzeug's handler; keeps the request's header lines as sent (WSGI's environ drops names
    with "_" and merges repeats), since API Gateway forwards every header and the event needs them."""

    server: _Server
    # A connection that sends nothing for this long is closed (its thread ends).
    timeout = 30

    def make_environ(self) -> WSGIEnvironment:
        environ = super().make_environ()
        environ[_RAW_HEADERS] = tuple(self.headers.items())
        environ[_REQUEST_TARGET] = self.path
        return environ

    def setup(self) -> None:
        super().setup()
        self.server.gateway._track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.gateway._track(self.connection, add=False)

    def version_string(self) -> str:
        return "eventrelay-local"

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass  # the gateway logs each request itself, with its route and duration

    def log_error(self, format: str, *args: Any) -> None:
        _log.debug(format, *args)


class _Server(ThreadedWSGIServer):
    """A thread per connection (werkzeug's ThreadedWSGIServer) with a listen backlog for bursts."""

    request_queue_size = LISTEN_BACKLOG
    gateway: HttpGateway


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def request_from_environ(environ: WSGIEnvironment, body: bytes, server_port: int) -> IncomingRequest:
    """The request as the gateway sees it: the header lines and the request-target as sent."""
    return IncomingRequest(
        method=str(environ["REQUEST_METHOD"]),
        target=str(environ[_REQUEST_TARGET]),
        headers=tuple(environ[_RAW_HEADERS]),
        body=body,
        source_ip=str(environ.get("REMOTE_ADDR") or "127.0.0.1"),
        server_port=server_port,
    )


def read_body(environ: WSGIEnvironment, limit: int) -> bytes:
    """The request body (werkzeug decodes chunked bodies); PayloadTooLargeError beyond `limit` bytes."""
    declared = environ.get("CONTENT_LENGTH")
    if declared and not environ.get("wsgi.input_terminated"):
        try:
            length = int(declared)
        except ValueError:
            raise BadRequestError from None
        if length < 0:
            raise BadRequestError
        if length > limit:
            if length <= _DRAIN_LIMIT_BYTES:
                # Read and discard, so a client still sending its body gets the 413 instead of a reset.
                stream = environ["wsgi.input"]
                while length > 0:
                    chunk = stream.read(min(length, 1 << 20))
                    if not chunk:
                        break
                    length -= len(chunk)
            raise PayloadTooLargeError
    try:
        stream = get_input_stream(environ, max_content_length=limit)
        body = stream.read(limit + 1)
    except RequestEntityTooLarge:
        raise PayloadTooLargeError from None
    except (ValueError, OSError):
        raise BadRequestError from None
    if len(body) > limit:
        raise PayloadTooLargeError
    return bytes(body)


class PayloadTooLargeError(Exception):
    pass


class BadRequestError(Exception):
    pass


@dataclass
class HttpGateway:
    """`add_route(...)`, then `start()` (serves in a thread) until `stop()`.

    port=0 picks a free port; the bound port is `port` after start, and `url` the base URL.
    """

    host: str = "127.0.0.1"
    port: int = 0
    api_id: str = "local"
    account_id: str = DEFAULT_ACCOUNT_ID
    region: str = DEFAULT_REGION
    max_payload_bytes: int = MAX_PAYLOAD_BYTES
    _routes: list[tuple[Route, LocalFunction]] = field(default_factory=list, init=False)
    _server: _Server | None = field(default=None, init=False)
    _thread: threading.Thread | None = field(default=None, init=False)
    _connections: set[socket.socket] = field(default_factory=set, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def add_route(self, route_key: str, function: LocalFunction | Handler) -> None:
        """Serve `route_key` ("GET /v1/eventManager/jobs/{jobId}" or "$default") with `function`."""
        route = Route.parse(route_key)
        if not isinstance(function, LocalFunction):
            name = re.sub(r"\W+", "-", route.route_key).strip("-") or "default"
            function = LocalFunction.from_handler(
                name, function, region=self.region, account_id=self.account_id
            )
        with self._lock:
            if any(existing.route_key == route.route_key for existing, _ in self._routes):
                raise ValueError(f"route {route.route_key!r} is already registered")
            self._routes.append((route, function))
            self._routes.sort(key=lambda item: item[0].priority())

    def add_routes(self, route_keys: Iterable[str], function: LocalFunction) -> None:
        for route_key in route_keys:
            self.add_route(route_key, function)

    @property
    def route_keys(self) -> list[str]:
        with self._lock:
            return [route.route_key for route, _ in self._routes]

    @property
    def functions(self) -> list[LocalFunction]:
        """Each function behind a route, once."""
        with self._lock:
            unique: dict[int, LocalFunction] = {id(function): function for _, function in self._routes}
        return list(unique.values())

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def find_route(self, method: str, path: str) -> tuple[Route, LocalFunction, dict[str, str]] | None:
        with self._lock:
            routes = list(self._routes)
        for route, function in routes:
            parameters = route.match(method, path)
            if parameters is not None:
                return route, function, parameters
        return None

    def dispatch(self, request: IncomingRequest, request_id: str | None = None) -> GatewayResponse:
        """Route, invoke and map one request (what the server does for each HTTP request).

        A failed invocation (the handler raised, its process died, or it ran past its timeout and
        was killed) is answered as API Gateway answers a failed Lambda integration: 500
        {"message":"Internal Server Error"}. The gateway cannot know whether a killed publish had
        already enqueued its event, so it does not claim 1009 ("NOT accepted") on its behalf.
        """
        request_id = request_id or new_request_id()
        path = unquote(urlsplit(request.target).path) or "/"
        found = self.find_route(request.method, path)
        if found is None:
            return _message(404, "Not Found", request_id)
        route, function, parameters = found
        event = build_event(
            request,
            route.route_key,
            parameters,
            request_id=request_id,
            api_id=self.api_id,
            account_id=self.account_id,
        )
        try:
            response = map_result(function.invoke(event))
        except InvocationError as exc:
            _log.error(
                "integration error on %s: %s",
                route.route_key,
                exc.error_type,
                extra={"route": route.route_key, "error_type": exc.error_type},
            )
            return _message(500, "Internal Server Error", request_id)
        except MalformedResponseError as exc:
            _log.error("malformed Lambda response", extra={"route": route.route_key, "reason": str(exc)})
            return _message(500, "Internal Server Error", request_id)
        return GatewayResponse(
            response.status, (*response.headers, ("apigw-requestid", request_id)), response.body
        )

    def wsgi_app(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """The gateway as a WSGI application (what werkzeug's server calls for each request)."""
        request_id = new_request_id()
        started = time.monotonic()
        try:
            body = read_body(environ, self.max_payload_bytes)
        except PayloadTooLargeError:
            response = _message(413, "Request Entity Too Large", request_id)
        except BadRequestError:
            response = _message(400, "Bad Request", request_id)
        else:
            response = self.dispatch(request_from_environ(environ, body, self.port), request_id)
        headers = [*response.headers, ("Content-Length", str(len(response.body)))]
        start_response(f"{response.status} {_reason(response.status)}", headers)
        _log.info(
            "%s %s %s %.0fms",
            environ["REQUEST_METHOD"],
            environ.get("PATH_INFO", "/"),
            response.status,
            (time.monotonic() - started) * 1000,
        )
        return [] if environ["REQUEST_METHOD"] == "HEAD" else [response.body]

    def _track(self, connection: socket.socket, *, add: bool) -> None:
        with self._lock:
            if add:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def start(self) -> str:
        """Bind and serve in a background thread; returns the base URL."""
        if self._server is not None:
            raise RuntimeError("gateway already started")
        # What werkzeug.serving.make_server(threaded=True) builds, with our backlog and handler.
        server = _Server(self.host, self.port, self.wsgi_app, _RequestHandler)
        server.gateway = self
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.1}, name="http-gateway", daemon=True
        )
        self._thread.start()
        return self.url

    @property
    def open_connections(self) -> int:
        with self._lock:
            return len(self._connections)

    def stop(self, drain_seconds: float = 10.0) -> None:
        """Stop accepting (the port is released first), let the requests under way finish for up to
        `drain_seconds`, close what is still open, then shut the functions down.

        Requests already being answered get their answer: a publish answered 200 has enqueued its
        event before the stack goes on to stop its queues' consumers.
        """
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.socket.close()  # new connections are refused from here on
            deadline = time.monotonic() + drain_seconds
            while self.open_connections and time.monotonic() < deadline:
                time.sleep(0.02)
            with self._lock:
                connections = list(self._connections)
            for connection in connections:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
            server.server_close()
            if self._thread is not None:
                self._thread.join(timeout=5)
                self._thread = None
        for function in self.functions:
            function.close()

    def __enter__(self) -> HttpGateway:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
