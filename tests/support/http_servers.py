"""Real HTTP servers on 127.0.0.1 that record what they receive (reusable by any outbound test).

- `RecordingServer`: an HTTP server whose replies a test chooses per request; it records every
  request (method, path, headers, body) and every TCP connection it accepts. Optionally TLS.
- `Sink`: a bare TCP listener that only counts connections (proof that nothing connected).
- `Reply`: a canned answer, a streamed body, or a raw handler for hostile behaviour.

Both count connections in their own thread, so a count read right after a call may miss one still
in the listen queue: `settled_connections()` first sends a probe connection, which the listener
accepts after every earlier one, and returns the count once the probe arrived (probes not counted).
`RecordingServer.wait_for_replies(n)` returns once n requests have been answered (or abandoned).
"""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

PROBE_TIMEOUT_SECONDS = 5.0


class _Probes:
    """Probe connections by their local port: sent by a test, recognised by the listener."""

    def __init__(self) -> None:
        self._arrived: dict[int, threading.Event] = {}
        self._lock = threading.Lock()

    def is_probe(self, peer: Any) -> bool:
        """Called by the listener for each accepted connection; marks a probe as arrived."""
        with self._lock:
            arrived = self._arrived.pop(int(peer[1]), None)
        if arrived is None:
            return False
        arrived.set()
        return True

    def send(self, address: tuple[str, int]) -> None:
        """Connect to `address` and return once the listener has accepted this connection."""
        family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.bind((address[0], 0))  # the port is known (and registered) before connecting
            arrived = threading.Event()
            with self._lock:
                self._arrived[int(probe.getsockname()[1])] = arrived
            probe.connect(address)
            if not arrived.wait(PROBE_TIMEOUT_SECONDS):
                raise AssertionError("the listener never accepted the probe connection")


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        return next((value for key, value in self.headers.items() if key.lower() == lowered), None)

    def everything(self) -> str:
        """The whole request as text, to search for a secret anywhere in it."""
        lines = [f"{self.method} {self.path}", *(f"{k}: {v}" for k, v in self.headers.items())]
        return "\n".join(lines) + "\n\n" + self.body.decode("utf-8", errors="replace")


@dataclass
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "application/json"})
    body: bytes = b'{"ok": true}'
    # A streamed body (written chunk by chunk, no Content-Length, connection closed at the end).
    stream: Iterable[bytes] | None = None
    # Full control of the socket: (handler, stop event) -> None. Used for hostile behaviour.
    raw: Callable[[BaseHTTPRequestHandler, threading.Event], None] | None = None


Responder = Callable[[RecordedRequest], Reply]


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        recorded = RecordedRequest(self.command, self.path, dict(self.headers.items()), body)
        owner = self.server.owner
        with owner.lock:
            owner.requests.append(recorded)
        try:
            self._reply(owner, owner.responder(recorded))
        finally:
            with owner.replied:
                owner.replies += 1
                owner.replied.notify_all()

    def _reply(self, owner: RecordingServer, reply: Reply) -> None:
        try:
            if reply.raw is not None:
                reply.raw(self, owner.stop)
                self.close_connection = True
                return
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            if reply.stream is not None:
                self.send_header("Connection", "close")
                self.end_headers()
                for chunk in reply.stream:
                    if owner.stop.is_set():
                        break
                    self.wfile.write(chunk)
                    with owner.lock:
                        owner.bytes_streamed += len(chunk)
                self.close_connection = True
                return
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # socketserver listens with a backlog of 5: when more connections arrive together (a batch's
    # ten calls) while the accept loop waits for the GIL, the kernel drops their SYNs and a client
    # with a 1 s connect timeout fails before its retransmission. Room for every test's burst.
    request_queue_size = 128
    owner: RecordingServer

    def verify_request(self, request: Any, client_address: Any) -> bool:
        if self.owner.probes.is_probe(client_address):
            return False  # closed at once, not counted
        with self.owner.lock:
            self.owner.connections += 1
        return True


class _Server6(_Server):
    address_family = socket.AF_INET6


class RecordingServer:
    """An HTTP(S) server on 127.0.0.1 (or ::1) with a test-chosen responder; use as a context manager."""

    def __init__(
        self, responder: Responder | None = None, tls: ssl.SSLContext | None = None, bind: str = "127.0.0.1"
    ) -> None:
        self.responder: Responder = responder or (lambda _request: Reply())
        self.requests: list[RecordedRequest] = []
        self.connections = 0
        self.bytes_streamed = 0
        self.replies = 0
        self.lock = threading.Lock()
        self.replied = threading.Condition()
        self.stop = threading.Event()
        self.probes = _Probes()
        self._server = (_Server6 if ":" in bind else _Server)((bind, 0), _Handler)
        self._server.owner = self
        if tls is not None:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        self._scheme = "https" if tls is not None else "http"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def url(self, path: str = "/", host: str | None = None) -> str:
        address = str(self._server.server_address[0])
        host = host or (f"[{address}]" if ":" in address else address)
        return f"{self._scheme}://{host}:{self.port}{path}"

    def start(self) -> RecordingServer:
        self._thread.start()
        return self

    def settled_connections(self) -> int:
        """The TCP connections accepted, every one made before this call included (plain HTTP only:
        a TLS listener would wait for the probe's handshake)."""
        if self._scheme == "https":
            raise ValueError("settled_connections needs a plain HTTP server")
        address = self._server.server_address
        self.probes.send((str(address[0]), int(address[1])))
        with self.lock:
            return self.connections

    def wait_for_replies(self, count: int, timeout: float = PROBE_TIMEOUT_SECONDS) -> None:
        """Return once `count` requests have been fully handled (answered, streamed or abandoned)."""
        with self.replied:
            if not self.replied.wait_for(lambda: self.replies >= count, timeout):
                raise AssertionError(f"the server handled {self.replies} requests, not {count}")

    def close(self) -> None:
        self.stop.set()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> RecordingServer:
        return self.start()

    def __exit__(self, *_exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()


class Sink:
    """A TCP listener on 127.0.0.1 that counts every connection made to it and answers nothing."""

    def __init__(self) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.bind(("127.0.0.1", 0))
        self._socket.listen(64)
        self._socket.settimeout(0.05)
        self.connections = 0
        self.probes = _Probes()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    @property
    def port(self) -> int:
        return int(self._socket.getsockname()[1])

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                connection, peer = self._socket.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if not self.probes.is_probe(peer):
                self.connections += 1
            connection.close()

    def settled_connections(self) -> int:
        """The connections made so far, every one made before this call included."""
        self.probes.send(("127.0.0.1", self.port))
        return self.connections

    def __enter__(self) -> Sink:
        self._thread.start()
        return self

    def __exit__(self, *_exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self._socket.close()


def self_signed_tls(host_name: str, directory: str) -> tuple[ssl.SSLContext, str]:
    """A server TLS context with a fresh self-signed certificate for `host_name`, and the CA file path."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host_name)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host_name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path = f"{directory}/cert.pem"
    key_path = f"{directory}/key.pem"
    with open(cert_path, "wb") as handle:
        handle.write(certificate.public_bytes(serialization.Encoding.PEM))
    with open(key_path, "wb") as handle:
        handle.write(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    return context, cert_path


class RecordingOpener:
    """Opens OutboundClient's TCP connections, recording every attempt; dials 127.0.0.1 only.

    Any other address is recorded and refused without a packet leaving the machine, so a test can
    prove where the client tried to go without ever reaching a non-loopback address.
    """

    def __init__(self) -> None:
        self.attempts: list[tuple[str, int]] = []

    def __call__(self, address: tuple[str, int], timeout: float | None) -> socket.socket:
        self.attempts.append(address)
        if address[0] != "127.0.0.1":
            raise ConnectionRefusedError("the test opener dials 127.0.0.1 only")
        sock = socket.create_connection(address, timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock


class FixedResolver:
    """A resolver answering from a table (host -> addresses), counting lookups; unknown hosts fail."""

    def __init__(self, answers: dict[str, list[str]] | None = None) -> None:
        self.answers = answers or {}
        self.lookups: list[str] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.lookups.append(host)
        if host not in self.answers:
            from eventrelay.outbound.ssrf import HostResolutionError

            raise HostResolutionError(host)
        return list(self.answers[host])
