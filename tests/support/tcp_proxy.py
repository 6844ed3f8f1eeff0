"""A pausable TCP proxy on 127.0.0.1: real stalls and lost responses between a client and an emulator.

Dependency faults are made real on the wire, not with mocks: point a client's endpoint at
`proxy.url` and the proxy forwards every byte to the upstream (moto server, DynamoDB Local) until
told otherwise.

- `stall()`: connections are accepted and requests read, but nothing is forwarded either way until
  `resume()` (as an AWS endpoint that accepts connections and never answers); what was held is then
  forwarded, late.
- `lose_responses()`: requests reach the upstream (so their effect happens), responses never reach
  the client, whose connection is then closed (as a response lost in the network); `resume()`
  restores normal forwarding. A test waits for the lost write's effect where it is stored.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from enum import Enum
from types import TracebackType


class ProxyMode(Enum):
    FORWARD = "forward"
    STALL = "stall"
    LOSE_RESPONSES = "lose_responses"


class TcpProxy:
    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self._upstream = (upstream_host, upstream_port)
        self._listener = socket.create_server(("127.0.0.1", 0), backlog=256)
        self.port: int = self._listener.getsockname()[1]
        self._mode = ProxyMode.FORWARD
        self._changed = threading.Condition()
        self._closed = False
        self._sockets: set[socket.socket] = set()
        self._thread = threading.Thread(target=self._accept_loop, name="tcp-proxy", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- control -------------------------------------------------------------------------------
    def stall(self) -> None:
        self._set_mode(ProxyMode.STALL)

    def lose_responses(self) -> None:
        self._set_mode(ProxyMode.LOSE_RESPONSES)

    def resume(self) -> None:
        self._set_mode(ProxyMode.FORWARD)

    @contextmanager
    def stalled(self) -> Iterator[None]:
        self.stall()
        try:
            yield
        finally:
            self.resume()

    def _set_mode(self, mode: ProxyMode) -> None:
        with self._changed:
            self._mode = mode
            self._changed.notify_all()

    # -- plumbing ------------------------------------------------------------------------------
    def __enter__(self) -> TcpProxy:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        with self._changed:
            self._closed = True
            self._mode = ProxyMode.FORWARD
            self._changed.notify_all()
            sockets = list(self._sockets)
        self._listener.close()
        for sock in sockets:
            _close_quietly(sock)

    def _accept_loop(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(self._upstream, timeout=10)
        except OSError:
            _close_quietly(client)
            return
        upstream.settimeout(None)
        with self._changed:
            self._sockets.update((client, upstream))
        threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()
        self._pump(client, upstream, True)

    def _wait_while_stalled(self) -> bool:
        """False once the proxy is closed."""
        with self._changed:
            self._changed.wait_for(lambda: self._closed or self._mode is not ProxyMode.STALL)
            return not self._closed

    def _pump(self, source: socket.socket, sink: socket.socket, is_request: bool) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                if not self._wait_while_stalled():
                    break
                losing = self._mode is ProxyMode.LOSE_RESPONSES
                if not is_request and losing:
                    # The upstream answered: the client never hears it, and its connection drops.
                    break
                sink.sendall(data)
        except OSError:
            pass
        finally:
            _close_quietly(source)
            _close_quietly(sink)


def _close_quietly(sock: socket.socket) -> None:
    with suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with suppress(OSError):
        sock.close()
