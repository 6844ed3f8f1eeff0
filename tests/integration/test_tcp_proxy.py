"""The pausable proxy that the fault tests rely on does what it says, against a real HTTP server."""

from __future__ import annotations

import http.client

import pytest

from tests.support.http_servers import RecordingServer
from tests.support.tcp_proxy import TcpProxy
from tests.support.waiting import wait_until


def get(port: int, timeout: float) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", "/ping")
        return connection.getresponse().status
    finally:
        connection.close()


def test_forwards_then_stalls_then_delivers_late_after_resume() -> None:
    with RecordingServer() as server, TcpProxy("127.0.0.1", server.port) as proxy:
        assert get(proxy.port, timeout=5) == 200
        proxy.stall()
        with pytest.raises(TimeoutError):
            get(proxy.port, timeout=0.5)
        proxy.resume()
        assert get(proxy.port, timeout=5) == 200


def test_lost_responses_reach_the_upstream_but_never_the_client() -> None:
    with RecordingServer() as server, TcpProxy("127.0.0.1", server.port) as proxy:
        proxy.lose_responses()
        with pytest.raises((ConnectionError, http.client.RemoteDisconnected)):
            get(proxy.port, timeout=5)
        # The request's effect happened upstream although the client never heard of it
        wait_until(lambda: len(server.requests) == 1, "the request reached the upstream", timeout=5)
        proxy.resume()
        assert get(proxy.port, timeout=5) == 200
