"""Hostile servers: huge bodies, decompression bombs, and servers that stall, are cut off on time."""

from __future__ import annotations

import gzip
import threading
import time
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import pytest

from eventrelay.outbound.client import OutboundClient
from eventrelay.outbound.outcome import OutcomeKind
from eventrelay.outbound.request import OutboundRequest
from eventrelay.outbound.ssrf import SsrfGuard
from tests.support.http_servers import RecordingServer, Reply

CAP = 256 * 1024
DEADLINE = 0.6


@pytest.fixture
def client() -> OutboundClient:
    # A read timeout far above the deadline: only the deadline can stop a trickling server.
    return OutboundClient(
        SsrfGuard("127.0.0.0/8"), read_timeout=10, deadline=DEADLINE, max_response_bytes=CAP
    )


def _hundred_megabytes() -> Iterator[bytes]:
    chunk = b"x" * 65536
    for _ in range(100 * 1024 * 1024 // len(chunk)):
        yield chunk


def test_a_100_mb_body_is_cut_at_the_cap(client: OutboundClient) -> None:
    with RecordingServer(
        lambda _r: Reply(headers={"Content-Type": "text/plain"}, stream=_hundred_megabytes())
    ) as server:
        started = time.monotonic()
        outcome = client.send(OutboundRequest("GET", server.url("/")))
        elapsed = time.monotonic() - started
        # The server stops streaming when its writes fail (the client closed): wait for that
        server.wait_for_replies(1)
        streamed = server.bytes_streamed
    assert outcome.kind is OutcomeKind.SUCCESS
    assert len(outcome.body) == CAP
    assert outcome.body_truncated
    assert elapsed < DEADLINE
    # The client stopped reading: the server could not push anywhere near 100 MB.
    assert streamed < 20 * 1024 * 1024


def _gzip_bomb(decompressed_size: int) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = b"\0" * (1024 * 1024)
    parts = [compressor.compress(block) for _ in range(decompressed_size // len(block))]
    return b"".join(parts) + compressor.flush()


BOMB = _gzip_bomb(64 * 1024 * 1024)


def test_a_gzip_bomb_is_cut_at_the_cap(client: OutboundClient) -> None:
    # Given a body of ~64 KB that inflates to 64 MB (256 times the cap)
    assert len(BOMB) < 1024 * 1024
    with RecordingServer(lambda _r: Reply(headers={"Content-Encoding": "gzip"}, body=BOMB)) as server:
        outcome = client.send(OutboundRequest("GET", server.url("/")))
    assert outcome.kind is OutcomeKind.SUCCESS
    assert len(outcome.body) == CAP
    assert outcome.body_truncated
    assert set(outcome.body) == {0}


def test_a_deflate_bomb_is_cut_at_the_cap(client: OutboundClient) -> None:
    bomb = zlib.compress(b"\0" * (16 * 1024 * 1024), 9)
    with RecordingServer(lambda _r: Reply(headers={"Content-Encoding": "deflate"}, body=bomb)) as server:
        outcome = client.send(OutboundRequest("GET", server.url("/")))
    assert len(outcome.body) == CAP
    assert outcome.body_truncated


def test_a_small_gzip_body_is_decoded_whole(client: OutboundClient) -> None:
    body = b'{"hello": "world"}' * 10
    with RecordingServer(
        lambda _r: Reply(headers={"Content-Encoding": "gzip"}, body=gzip.compress(body))
    ) as server:
        outcome = client.send(OutboundRequest("GET", server.url("/")))
    assert outcome.body == body
    assert not outcome.body_truncated


def _never_answer(_handler: BaseHTTPRequestHandler, stop: threading.Event) -> None:
    stop.wait(30)


def _trickle_headers(handler: BaseHTTPRequestHandler, stop: threading.Event) -> None:
    handler.wfile.write(b"HTTP/1.1 200 OK\r\n")
    while not stop.is_set():
        handler.wfile.write(b"X-Slow: 1\r\n")
        handler.wfile.flush()
        stop.wait(0.05)  # a slow server: the pace of the trickle (returns early when the test ends)


def _trickle_body(handler: BaseHTTPRequestHandler, stop: threading.Event) -> None:
    handler.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n")
    while not stop.is_set():
        handler.wfile.write(b"x")
        handler.wfile.flush()
        stop.wait(0.05)  # a slow server: the pace of the trickle (returns early when the test ends)


def _trickle_body_until_close(handler: BaseHTTPRequestHandler, stop: threading.Event) -> None:
    # No Content-Length: the body ends when the connection closes, so a cut must not look complete.
    handler.wfile.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
    while not stop.is_set():
        handler.wfile.write(b"x")
        handler.wfile.flush()
        stop.wait(0.05)  # a slow server: the pace of the trickle (returns early when the test ends)


@pytest.mark.parametrize(
    "behaviour",
    [_never_answer, _trickle_headers, _trickle_body, _trickle_body_until_close],
    ids=["never-answers", "trickles-headers", "trickles-body", "trickles-body-until-close"],
)
def test_a_stalling_server_is_abandoned_at_the_deadline(client: OutboundClient, behaviour: object) -> None:
    with RecordingServer(lambda _r: Reply(raw=behaviour)) as server:  # type: ignore[arg-type]
        started = time.monotonic()
        outcome = client.send(OutboundRequest("GET", server.url("/")))
        elapsed = time.monotonic() - started
    assert outcome.kind is OutcomeKind.RETRYABLE
    assert outcome.error == "deadline exceeded"
    assert DEADLINE - 0.05 <= elapsed < DEADLINE + 0.4
    assert outcome.duration_ms >= int(DEADLINE * 1000) - 50


def test_the_read_timeout_applies_when_it_is_shorter_than_the_deadline() -> None:
    client = OutboundClient(SsrfGuard("127.0.0.0/8"), read_timeout=0.2, deadline=5)
    with RecordingServer(lambda _r: Reply(raw=_never_answer)) as server:
        started = time.monotonic()
        outcome = client.send(OutboundRequest("GET", server.url("/")))
        elapsed = time.monotonic() - started
    assert outcome.kind is OutcomeKind.RETRYABLE
    assert outcome.error == "read timeout"
    assert elapsed < 1.5
