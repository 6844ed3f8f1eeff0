"""The one outbound HTTP client: SSRF-checked, pinned to the validated address, bounded in time and size.

How a call stays on the address the guard validated: the guard resolves the host once and returns
a `PinnedTarget`; the session's adapter opens its connection pool for that IP (never the name),
with the host name kept for the Host header and, over TLS, for SNI and certificate verification.
Connections are opened by our own connection classes, which refuse any address but the pinned
one, so no second DNS lookup can happen anywhere below.

How a call stays within its deadline: connect and read timeouts bound each socket operation, and
a watchdog shuts the call's sockets down when the total deadline passes, so a server that accepts
and then trickles bytes (or never answers) is abandoned on time. Response bodies are decompressed
by us, a bounded amount at a time, and reading stops at the size cap, so a gzip bomb is cut.

One watchdog thread per client serves every call in flight: a timer thread per call cost a thread
start on every call, which among a batch's concurrent calls waited for the GIL before the request
was sent.
"""

from __future__ import annotations

import contextlib
import math
import re
import socket
import threading
import time
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict
from requests.utils import DEFAULT_CA_BUNDLE_PATH
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from eventrelay import __version__
from eventrelay.clock import Clock, system_clock
from eventrelay.observability import logger
from eventrelay.outbound.outcome import (
    Outcome,
    OutcomeKind,
    classify_status,
    parse_retry_after,
    select_headers,
)
from eventrelay.outbound.request import OutboundRequest
from eventrelay.outbound.ssrf import (
    HostResolutionError,
    PinnedTarget,
    SsrfGuard,
    SsrfRefused,
    normalise_url_host,
)

USER_AGENT = f"eventrelay/{__version__}"
ALLOWED_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Headers the client owns: a caller's value would confuse framing or the pinned Host.
_CLIENT_OWNED_HEADERS = frozenset(
    {"host", "content-length", "transfer-encoding", "connection", "te", "upgrade"}
)
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_HEADER_VALUE_FORBIDDEN = re.compile(r"[\r\n\x00]")
_READ_CHUNK = 64 * 1024
# Kept-alive connections per pinned address: as many as the action runner has calls in flight
# (delivery.runner.DEFAULT_MAX_CONCURRENT_CALLS), so a batch's concurrent calls to one host all
# find their connection again in the next batch (requests keeps 10: the rest were reopened each time).
DEFAULT_CONNECTIONS_PER_HOST = 16

# (ip, port), connect timeout -> a connected socket. Tests inject one to observe connection attempts.
Opener = Callable[[tuple[str, int], float | None], socket.socket]


def default_opener(address: tuple[str, int], timeout: float | None) -> socket.socket:
    sock = socket.create_connection(address, timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


class InvalidOutboundRequest(ValueError):
    """The request cannot be sent as given (method, header, URL); `str()` names the problem, never a value."""


class _UnpinnedConnection(NewConnectionError):
    """Something below the client tried to connect to an address the guard did not pin."""


@dataclass
class _CallContext:
    """One call in flight on this thread: where it may connect, and the sockets the watchdog may cut."""

    target: PinnedTarget
    opener: Opener
    _watched: list[socket.socket] = field(default_factory=list)
    _registered: set[int] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    aborted: bool = False

    def watch(self, owner: object, sock: socket.socket) -> None:
        """Keep a duplicate of the socket so the watchdog can shut the connection down from its thread."""
        with self._lock:
            if id(owner) in self._registered:
                return
            self._registered.add(id(owner))
            duplicate = socket.fromfd(sock.fileno(), sock.family, sock.type)
            self._watched.append(duplicate)
            if self.aborted:
                _shutdown(duplicate)

    def abort(self) -> None:
        with self._lock:
            self.aborted = True
            for duplicate in self._watched:
                _shutdown(duplicate)

    def release(self) -> None:
        with self._lock:
            for duplicate in self._watched:
                duplicate.close()
            self._watched.clear()


def _shutdown(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


_calls = threading.local()


class _Watchdog:
    """Aborts the calls whose deadline has passed, from one thread shared by a client's calls.

    The thread sleeps until the earliest deadline; a call is woken for only when its deadline comes
    before that (calls of one client share one deadline length, so mostly never: a wake-up per call
    would make the thread compete with the calls for the GIL). It starts with the first call and
    ends after `idle_seconds` without any call to watch (a client dropped without `close` leaves
    no thread behind for long)."""

    def __init__(self, idle_seconds: float = 60.0) -> None:
        self._idle_seconds = idle_seconds
        self._condition = threading.Condition()
        self._watched: dict[int, tuple[float, _CallContext]] = {}
        self._next_ticket = 0
        self._thread: threading.Thread | None = None
        # When the sleeping thread wakes by itself; -inf while it is awake (it looks again before sleeping).
        self._wakes_at = -math.inf
        self._closed = False

    def watch(self, context: _CallContext, seconds: float) -> int:
        """Abort `context` in `seconds` unless `unwatch` is called first; returns its ticket."""
        due = time.monotonic() + seconds
        with self._condition:
            ticket = self._next_ticket
            self._next_ticket += 1
            self._watched[ticket] = (due, context)
            if self._thread is None:
                self._wakes_at = -math.inf
                self._thread = threading.Thread(target=self._run, name="outbound-watchdog", daemon=True)
                self._thread.start()
            elif due < self._wakes_at:
                self._condition.notify()
        return ticket

    def unwatch(self, ticket: int) -> None:
        with self._condition:
            self._watched.pop(ticket, None)

    def close(self) -> None:
        with self._condition:
            self._closed = True
            self._watched.clear()
            self._condition.notify()

    def _run(self) -> None:
        idle_since = time.monotonic()
        while True:
            with self._condition:
                now = time.monotonic()
                expired = [ticket for ticket, (due, _) in self._watched.items() if due <= now]
                overdue = [self._watched.pop(ticket)[1] for ticket in expired]
                if not overdue:
                    if self._watched:
                        idle_since = now
                        self._wakes_at = min(due for due, _ in self._watched.values())
                    elif self._closed or now - idle_since >= self._idle_seconds:
                        self._thread = None
                        return
                    else:
                        self._wakes_at = idle_since + self._idle_seconds
                    self._condition.wait(self._wakes_at - now)
                    self._wakes_at = -math.inf
                    continue
            for context in overdue:  # outside the lock: aborting shuts sockets down
                context.abort()


def _current_call() -> _CallContext | None:
    return getattr(_calls, "context", None)


class _PinnedConnectionMixin:
    """Open sockets only to the call's pinned address, through the call's opener, under its watchdog."""

    host: str
    port: int
    timeout: Any
    sock: socket.socket | None

    def _new_conn(self) -> socket.socket:
        context = _current_call()
        if (
            context is None
            or self.host.strip("[]") != str(context.target.ip)
            or self.port != context.target.port
        ):
            raise _UnpinnedConnection(self, "refusing a connection to an address the SSRF guard did not pin")  # type: ignore[arg-type]
        timeout = self.timeout if isinstance(self.timeout, int | float) else None
        try:
            sock = context.opener((str(context.target.ip), context.target.port), timeout)
        except TimeoutError as exc:
            raise ConnectTimeoutError(self, "connect timed out") from exc
        except OSError as exc:
            raise NewConnectionError(self, f"connection failed ({type(exc).__name__})") from exc  # type: ignore[arg-type]
        context.watch(self, sock)
        return sock

    def request(self, *args: Any, **kwargs: Any) -> None:
        context = _current_call()
        if context is not None and self.sock is not None:
            context.watch(self, self.sock)
        super().request(*args, **kwargs)  # type: ignore[misc]


class _PinnedHTTPConnection(_PinnedConnectionMixin, HTTPConnection):
    pass


class _PinnedHTTPSConnection(_PinnedConnectionMixin, HTTPSConnection):
    pass


class _PinnedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _PinnedHTTPConnection


class _PinnedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _PinnedHTTPSConnection


class _PinnedAdapter(HTTPAdapter):
    """Chooses the connection pool from the call's pinned target, never from the URL's host."""

    def init_poolmanager(
        self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any
    ) -> None:
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _PinnedHTTPPool, "https": _PinnedHTTPSPool}

    def get_connection_with_tls_context(
        self,
        request: requests.PreparedRequest,
        verify: bool | str | None,
        proxies: Mapping[str, str] | None = None,
        cert: Any = None,
    ) -> HTTPConnectionPool:
        context = _current_call()
        if context is None:
            raise requests.exceptions.InvalidURL("outbound calls go through OutboundClient.send")
        target = context.target
        pool_kwargs: dict[str, Any] = {}
        if target.scheme == "https":
            pool_kwargs = {
                "cert_reqs": "CERT_REQUIRED",
                "ca_certs": verify if isinstance(verify, str) else DEFAULT_CA_BUNDLE_PATH,
                # SNI and certificate verification for the name, while the socket goes to the IP.
                "server_hostname": target.host,
            }
        pool: HTTPConnectionPool = self.poolmanager.connection_from_host(
            str(target.ip), target.port, target.scheme, pool_kwargs=pool_kwargs
        )
        return pool


class _BodyReader:
    """Decodes a response body (identity, gzip, deflate) into at most `cap` bytes."""

    def __init__(self, content_encoding: str, cap: int) -> None:
        self._cap = cap
        self.body = bytearray()
        self.truncated = False
        self.raw_bytes = 0
        encoding = content_encoding.strip().lower()
        self._wbits: int | None = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS}.get(encoding)
        if encoding == "deflate":
            self._wbits = zlib.MAX_WBITS
        self._decoder = zlib.decompressobj(self._wbits) if self._wbits is not None else None
        self._first = True

    @property
    def full(self) -> bool:
        return self.truncated

    def _append(self, data: bytes) -> None:
        room = self._cap - len(self.body)
        if len(data) > room:
            self.body += data[:room]
            self.truncated = True
        else:
            self.body += data

    def feed(self, data: bytes) -> None:
        self.raw_bytes += len(data)
        if self._decoder is None:
            self._append(data)
        else:
            try:
                self._decompress(data)
            except zlib.error:
                self.truncated = True
        # Compressed input that yields nothing must not be read forever either.
        if self.raw_bytes > self._cap + _READ_CHUNK:
            self.truncated = True

    def _decompress(self, data: bytes) -> None:
        decoder = self._decoder
        assert decoder is not None
        if self._first and self._wbits == zlib.MAX_WBITS:
            self._first = False
            try:
                probe = zlib.decompressobj(zlib.MAX_WBITS)
                probe.decompress(data[:2])
            except zlib.error:
                # "deflate" sent as a raw stream without the zlib wrapper, as some servers do.
                self._wbits = -zlib.MAX_WBITS
                decoder = self._decoder = zlib.decompressobj(self._wbits)
        pending = data
        while pending and not self.truncated:
            # max_length bounds what one call may inflate: room for the cap plus one byte to notice overflow.
            self._append(decoder.decompress(pending, max_length=self._cap - len(self.body) + 1))
            pending = decoder.unconsumed_tail
            if decoder.eof:
                rest = decoder.unused_data
                if not rest or self._wbits is None:
                    return
                # Concatenated gzip members: keep going with a fresh decoder.
                decoder = self._decoder = zlib.decompressobj(self._wbits)
                pending = rest


def _causes(exc: BaseException) -> list[BaseException]:
    """The exception and everything it wraps (urllib3 keeps causes in `reason` and in `args`)."""
    found: list[BaseException] = []
    pending: list[BaseException] = [exc]
    while pending:
        current = pending.pop(0)
        if any(current is seen for seen in found):
            continue
        found.append(current)
        reason = getattr(current, "reason", None)
        linked = [reason, *current.args, current.__cause__, current.__context__]
        pending.extend(item for item in linked if isinstance(item, BaseException))
    return found


def _cause_name(exc: BaseException) -> str:
    """The class name of the innermost OS-level cause (no message: messages can carry URLs)."""
    low_level = [cause for cause in _causes(exc) if type(cause).__module__ in ("builtins", "ssl", "socket")]
    return type(low_level[-1]).__name__ if low_level else type(exc).__name__


class OutboundClient:
    """Performs OutboundRequests. One instance (one `requests.Session`) per process is enough.

    connect_timeout / read_timeout bound each socket operation; `deadline` bounds the whole call
    (resolution, connection, headers and body); `max_response_bytes` caps the decoded body.
    `opener` opens the TCP connection to the pinned address (tests inject one to observe attempts);
    `ca_bundle` replaces the default trust store (tests serving their own certificate use it);
    `connections_per_host` is how many connections to one pinned address are kept alive.
    """

    def __init__(
        self,
        guard: SsrfGuard,
        *,
        connect_timeout: float = 3.05,
        read_timeout: float = 10,
        deadline: float = 15,
        max_response_bytes: int = 1_048_576,
        opener: Opener = default_opener,
        ca_bundle: str | None = None,
        clock: Clock = system_clock,
        connections_per_host: int = DEFAULT_CONNECTIONS_PER_HOST,
    ) -> None:
        self.guard = guard
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.deadline = deadline
        self.max_response_bytes = max_response_bytes
        self._opener = opener
        self._verify: bool | str = ca_bundle or True
        self._clock = clock
        self._watchdog = _Watchdog()
        self._session = requests.Session()
        # The session only holds the pinned adapter and its pools: calls go to the adapter directly,
        # so no cookies, redirects, proxies or .netrc credentials ever apply.
        self._session.trust_env = False
        adapter = _PinnedAdapter(max_retries=0, pool_maxsize=connections_per_host)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)

    def close(self) -> None:
        self._watchdog.close()
        self._session.close()

    def send(self, request: OutboundRequest, idempotency_key: str | None = None) -> Outcome:
        started = time.monotonic()
        outcome = self._send(request, idempotency_key, started)
        logger.info(
            "outbound call",
            extra={
                "http_method": request.method.upper(),
                "target_host": _host_for_log(request.url),
                "status": outcome.status,
                "outcome": outcome.kind.value,
                "duration_ms": outcome.duration_ms,
                "error": outcome.error,
            },
        )
        return outcome

    def _send(self, request: OutboundRequest, idempotency_key: str | None, started: float) -> Outcome:
        def elapsed_ms() -> int:
            return int((time.monotonic() - started) * 1000)

        try:
            target = self.guard.check_url(request.url)
            prepared = self._prepare(request, target, idempotency_key)
        except SsrfRefused as exc:
            return Outcome(
                OutcomeKind.PERMANENT, error=f"refused by SSRF guard: {exc.reason}", duration_ms=elapsed_ms()
            )
        except HostResolutionError as exc:
            return Outcome(
                OutcomeKind.RETRYABLE, error=f"could not resolve host {exc.host}", duration_ms=elapsed_ms()
            )
        except InvalidOutboundRequest as exc:
            return Outcome(OutcomeKind.PERMANENT, error=f"invalid request: {exc}", duration_ms=elapsed_ms())

        remaining = self.deadline - (time.monotonic() - started)
        if remaining <= 0:
            return Outcome(OutcomeKind.RETRYABLE, error="deadline exceeded", duration_ms=elapsed_ms())
        context = _CallContext(target, self._opener)
        _calls.context = context
        ticket = self._watchdog.watch(context, remaining)
        try:
            return self._perform(prepared, context, remaining, elapsed_ms)
        finally:
            self._watchdog.unwatch(ticket)
            _calls.context = None
            context.release()

    def _perform(
        self,
        prepared: requests.PreparedRequest,
        context: _CallContext,
        remaining: float,
        elapsed_ms: Callable[[], int],
    ) -> Outcome:
        try:
            # The adapter directly, not Session.send: even with allow_redirects=False the session
            # reads a 3xx body whole (to prepare the next hop), which would bypass the size cap.
            response = self._session.get_adapter(prepared.url or "").send(
                prepared,
                stream=True,
                timeout=(min(self.connect_timeout, remaining), min(self.read_timeout, remaining)),
                verify=self._verify,
                proxies={},
            )
        except requests.exceptions.RequestException as exc:
            failed_kind, failed_error = _failure_of(exc, context)
            return Outcome(failed_kind, error=failed_error, duration_ms=elapsed_ms())

        reader = _BodyReader(response.headers.get("Content-Encoding", ""), self.max_response_bytes)
        complete = False
        try:
            for chunk in response.raw.stream(_READ_CHUNK, decode_content=False):
                reader.feed(chunk)
                if reader.full or context.aborted:
                    break
            else:
                complete = True
        except Exception:  # any failure mid-body: the status is known, the body is partial
            complete = False
        finally:
            if not complete or context.aborted:
                response.raw.close()
            response.raw.release_conn()

        status = response.status_code
        headers = select_headers(response.headers)
        if context.aborted:
            return Outcome(
                OutcomeKind.RETRYABLE,
                status=status,
                headers=headers,
                body=bytes(reader.body),
                body_truncated=True,
                duration_ms=elapsed_ms(),
                error="deadline exceeded",
            )
        kind = classify_status(status)
        error: str | None = None
        if 300 <= status < 400:
            error = f"redirect not followed (HTTP {status})"
        elif kind is not OutcomeKind.SUCCESS:
            error = f"HTTP {status}"
        retry_after = parse_retry_after(response.headers.get("Retry-After"), self._clock())
        return Outcome(
            kind,
            status=status,
            headers=headers,
            body=bytes(reader.body),
            body_truncated=reader.truncated or not complete,
            duration_ms=elapsed_ms(),
            error=error,
            retry_after_seconds=retry_after if kind is OutcomeKind.RETRYABLE else None,
        )

    def _prepare(
        self, request: OutboundRequest, target: PinnedTarget, idempotency_key: str | None
    ) -> requests.PreparedRequest:
        method = request.method.upper()
        if method not in ALLOWED_METHODS:
            raise InvalidOutboundRequest(f"method must be one of {', '.join(sorted(ALLOWED_METHODS))}")
        headers: CaseInsensitiveDict[str] = CaseInsensitiveDict(
            {"User-Agent": USER_AGENT, "Accept": "*/*", "Accept-Encoding": "gzip, deflate"}
        )
        for name, value in request.headers.items():
            _check_header(name, value)
            if name.lower() not in _CLIENT_OWNED_HEADERS:
                headers[name] = value
        if idempotency_key is not None:
            _check_header("Idempotency-Key", idempotency_key)
            headers["Idempotency-Key"] = idempotency_key
        headers["Host"] = target.host_header
        try:
            prepared = requests.Request(
                method, request.url, headers=dict(headers), data=request.body
            ).prepare()
        except (requests.exceptions.RequestException, ValueError) as exc:
            raise InvalidOutboundRequest(f"URL or headers rejected ({type(exc).__name__})") from None
        # The URL requests will send must name the host the guard validated.
        try:
            prepared_host = normalise_url_host(prepared.url or "")
        except SsrfRefused:
            raise InvalidOutboundRequest("URL is ambiguous") from None
        if prepared_host != target.host:
            raise InvalidOutboundRequest("URL is ambiguous")
        return prepared


_TIMEOUTS: tuple[tuple[type[requests.exceptions.RequestException], str], ...] = (
    (requests.exceptions.ConnectTimeout, "connect timeout"),
    (requests.exceptions.ReadTimeout, "read timeout"),
)


def _failure_of(exc: requests.exceptions.RequestException, context: _CallContext) -> tuple[OutcomeKind, str]:
    """Map a failure before any response to an outcome; the text names classes, never messages."""
    if context.aborted:
        return OutcomeKind.RETRYABLE, "deadline exceeded"
    timeout = next((text for kind, text in _TIMEOUTS if isinstance(exc, kind)), None)
    if timeout is not None:
        return OutcomeKind.RETRYABLE, timeout
    if isinstance(exc, requests.exceptions.SSLError):
        return OutcomeKind.RETRYABLE, f"TLS error ({_cause_name(exc)})"
    if isinstance(exc, requests.exceptions.ConnectionError):
        if any(isinstance(cause, _UnpinnedConnection) for cause in _causes(exc)):
            return OutcomeKind.PERMANENT, "refused by SSRF guard: unpinned connection"
        return OutcomeKind.RETRYABLE, f"connection error ({_cause_name(exc)})"
    return OutcomeKind.PERMANENT, f"invalid request ({type(exc).__name__})"


def _check_header(name: str, value: str) -> None:
    if not _HEADER_NAME.match(name):
        raise InvalidOutboundRequest("a header name is not a valid HTTP token")
    if _HEADER_VALUE_FORBIDDEN.search(value):
        raise InvalidOutboundRequest(f"header {name} contains a control character (CR, LF or NUL)")


def _host_for_log(url: str) -> str | None:
    try:
        return normalise_url_host(url)
    except SsrfRefused:
        return None
