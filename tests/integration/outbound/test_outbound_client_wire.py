"""The outbound client against real HTTP(S) servers on 127.0.0.1: what is sent, what comes back."""

from __future__ import annotations

import email.utils
import ssl
import threading
from pathlib import Path

import pytest

from eventrelay import __version__
from eventrelay.outbound.client import OutboundClient
from eventrelay.outbound.outcome import OutcomeKind
from eventrelay.outbound.request import OutboundRequest
from eventrelay.outbound.ssrf import SsrfGuard
from tests.support.http_servers import (
    FixedResolver,
    RecordingOpener,
    RecordingServer,
    Reply,
    self_signed_tls,
)


@pytest.fixture
def client() -> OutboundClient:
    return OutboundClient(SsrfGuard("127.0.0.0/8"), deadline=3)


def test_request_arrives_with_user_agent_idempotency_key_host_and_body(client: OutboundClient) -> None:
    with RecordingServer() as server:
        outcome = client.send(
            OutboundRequest(
                "POST", server.url("/v1/items?x=1"), {"Content-Type": "application/json"}, b'{"a":1}'
            ),
            idempotency_key="delivery-123",
        )
    assert outcome.kind is OutcomeKind.SUCCESS
    assert outcome.status == 200
    assert outcome.body == b'{"ok": true}'
    (received,) = server.requests
    assert received.method == "POST"
    assert received.path == "/v1/items?x=1"
    assert received.body == b'{"a":1}'
    assert received.header("User-Agent") == f"eventrelay/{__version__}"
    assert received.header("Idempotency-Key") == "delivery-123"
    assert received.header("Host") == f"127.0.0.1:{server.port}"
    assert received.header("Content-Type") == "application/json"


def test_a_callers_host_and_framing_headers_are_ignored(client: OutboundClient) -> None:
    with RecordingServer() as server:
        client.send(
            OutboundRequest(
                "POST",
                server.url("/"),
                {"Host": "metadata.internal", "Content-Length": "999", "Transfer-Encoding": "chunked"},
                b"abc",
            )
        )
    (received,) = server.requests
    assert received.header("Host") == f"127.0.0.1:{server.port}"
    assert received.header("Content-Length") == "3"
    assert received.header("Transfer-Encoding") is None
    assert received.body == b"abc"


@pytest.mark.parametrize("value", ["a\r\nX-Injected: 1", "a\nb", "a\x00b"])
def test_a_header_value_with_control_characters_is_refused_without_sending(
    client: OutboundClient, value: str
) -> None:
    with RecordingServer() as server:
        outcome = client.send(OutboundRequest("GET", server.url("/"), {"X-Test": value}))
        connections = server.settled_connections()
    assert outcome.kind is OutcomeKind.PERMANENT
    assert outcome.error == "invalid request: header X-Test contains a control character (CR, LF or NUL)"
    assert server.requests == []
    assert connections == 0


def test_an_unknown_method_is_refused(client: OutboundClient) -> None:
    with RecordingServer() as server:
        outcome = client.send(OutboundRequest("TRACE", server.url("/")))
        connections = server.settled_connections()
    assert outcome.kind is OutcomeKind.PERMANENT
    assert connections == 0


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (200, OutcomeKind.SUCCESS),
        (201, OutcomeKind.SUCCESS),
        (204, OutcomeKind.SUCCESS),
        (301, OutcomeKind.PERMANENT),
        (400, OutcomeKind.PERMANENT),
        (401, OutcomeKind.PERMANENT),
        (404, OutcomeKind.PERMANENT),
        (408, OutcomeKind.RETRYABLE),
        (409, OutcomeKind.PERMANENT),
        (429, OutcomeKind.RETRYABLE),
        (500, OutcomeKind.RETRYABLE),
        (502, OutcomeKind.RETRYABLE),
        (503, OutcomeKind.RETRYABLE),
    ],
)
def test_status_codes_map_to_outcomes(client: OutboundClient, status: int, kind: OutcomeKind) -> None:
    body = b"" if status == 204 else b"{}"
    with RecordingServer(lambda _r: Reply(status=status, body=body, headers={"Location": "/x"})) as server:
        outcome = client.send(OutboundRequest("GET", server.url("/")))
    assert outcome.kind is kind
    assert outcome.status == status
    assert (outcome.error is None) == (kind is OutcomeKind.SUCCESS)


def test_retry_after_in_seconds_is_parsed(client: OutboundClient) -> None:
    with RecordingServer(lambda _r: Reply(status=503, headers={"Retry-After": "120"})) as server:
        outcome = client.send(OutboundRequest("GET", server.url("/")))
    assert outcome.kind is OutcomeKind.RETRYABLE
    assert outcome.retry_after_seconds == 120
    assert outcome.headers["retry-after"] == "120"


def test_retry_after_as_an_http_date_is_parsed() -> None:
    now = 1_800_000_000.0
    later = email.utils.formatdate(now + 90, usegmt=True)
    client = OutboundClient(SsrfGuard("127.0.0.0/8"), deadline=3, clock=lambda: now)
    with RecordingServer(lambda _r: Reply(status=429, headers={"Retry-After": later})) as server:
        outcome = client.send(OutboundRequest("GET", server.url("/")))
    assert outcome.kind is OutcomeKind.RETRYABLE
    assert outcome.retry_after_seconds == pytest.approx(90)


def test_only_selected_response_headers_are_kept(client: OutboundClient) -> None:
    headers = {"Content-Type": "application/json", "Set-Cookie": "session=abc", "X-Request-Id": "r-1"}
    with RecordingServer(lambda _r: Reply(headers=headers)) as server:
        outcome = client.send(OutboundRequest("GET", server.url("/")))
    assert outcome.headers["content-type"] == "application/json"
    assert outcome.headers["x-request-id"] == "r-1"
    assert "set-cookie" not in outcome.headers


def test_cookies_from_one_call_are_never_sent_on_the_next(client: OutboundClient) -> None:
    with RecordingServer(lambda _r: Reply(headers={"Set-Cookie": "session=tenant-a; Path=/"})) as server:
        client.send(OutboundRequest("GET", server.url("/")))
        client.send(OutboundRequest("GET", server.url("/")))
    assert [request.header("Cookie") for request in server.requests] == [None, None]


def test_a_closed_port_is_a_retryable_connection_error(client: OutboundClient) -> None:
    with RecordingServer() as server:
        port = server.port
    outcome = client.send(OutboundRequest("GET", f"http://127.0.0.1:{port}/"))
    assert outcome.kind is OutcomeKind.RETRYABLE
    assert outcome.error == "connection error (ConnectionRefusedError)"


def test_an_unresolvable_host_is_retryable_and_nothing_is_dialled() -> None:
    opener = RecordingOpener()
    client = OutboundClient(SsrfGuard("", FixedResolver({})), opener=opener)
    outcome = client.send(OutboundRequest("GET", "https://no-such-host.example/"))
    assert outcome.kind is OutcomeKind.RETRYABLE
    assert outcome.error == "could not resolve host no-such-host.example"
    assert opener.attempts == []


def test_error_text_never_carries_the_url_path_or_query(client: OutboundClient) -> None:
    with RecordingServer() as server:
        port = server.port
    outcome = client.send(
        OutboundRequest("GET", f"http://127.0.0.1:{port}/hooks/SECRET-PATH?token=SECRET-QUERY")
    )
    assert outcome.error is not None
    assert "SECRET" not in outcome.error


def test_keep_alive_reuses_one_connection_for_the_same_pinned_address(client: OutboundClient) -> None:
    with RecordingServer() as server:
        for _ in range(3):
            assert client.send(OutboundRequest("GET", server.url("/"))).ok
        connections = server.settled_connections()
    assert connections == 1


def test_https_connects_to_the_pinned_ip_and_verifies_the_host_name(tmp_path: Path) -> None:
    # Given an HTTPS server on 127.0.0.1 with a certificate for api.example.test only
    tls, ca_file = self_signed_tls("api.example.test", str(tmp_path))
    server_names: list[str | None] = []

    def remember_server_name(_sock: ssl.SSLObject, name: str | None, _context: ssl.SSLContext) -> None:
        server_names.append(name)

    tls.sni_callback = remember_server_name  # type: ignore[assignment]
    resolver = FixedResolver({"api.example.test": ["127.0.0.1"], "other.example.test": ["127.0.0.1"]})
    opener = RecordingOpener()
    client = OutboundClient(SsrfGuard("127.0.0.0/8", resolver), opener=opener, ca_bundle=ca_file, deadline=3)
    with RecordingServer(tls=tls) as server:
        # When the name on the certificate is called
        good = client.send(OutboundRequest("GET", f"https://api.example.test:{server.port}/hello"))
        # And a name the certificate does not cover, resolving to the same address
        bad = client.send(OutboundRequest("GET", f"https://other.example.test:{server.port}/hello"))
    # Then the first succeeds with SNI and Host for the name, over a connection to the pinned IP
    assert good.kind is OutcomeKind.SUCCESS, good
    assert server_names[0] == "api.example.test"
    assert [r.header("Host") for r in server.requests] == [f"api.example.test:{server.port}"]
    assert opener.attempts[0] == ("127.0.0.1", server.port)
    # And the second fails certificate verification: nothing is sent to it
    assert bad.kind is OutcomeKind.RETRYABLE
    assert bad.error == "TLS error (SSLCertVerificationError)"
    assert len(server.requests) == 1


def test_https_without_the_test_ca_is_refused_by_the_default_trust_store(tmp_path: Path) -> None:
    tls, _ca_file = self_signed_tls("api.example.test", str(tmp_path))
    resolver = FixedResolver({"api.example.test": ["127.0.0.1"]})
    client = OutboundClient(SsrfGuard("127.0.0.0/8", resolver), deadline=3)
    with RecordingServer(tls=tls) as server:
        outcome = client.send(OutboundRequest("GET", f"https://api.example.test:{server.port}/"))
    assert outcome.kind is OutcomeKind.RETRYABLE
    assert outcome.error is not None
    assert outcome.error.startswith("TLS error")
    assert server.requests == []


def test_concurrent_calls_from_threads_each_reach_their_own_destination(client: OutboundClient) -> None:
    # Given two servers and eight threads sharing one client
    with (
        RecordingServer(lambda _r: Reply(status=201)) as first,
        RecordingServer(lambda _r: Reply(status=202)) as second,
    ):
        statuses: dict[int, list[int | None]] = {first.port: [], second.port: []}

        def work(server: RecordingServer) -> None:
            for index in range(10):
                outcome = client.send(OutboundRequest("GET", server.url(f"/{index}")))
                statuses[server.port].append(outcome.status)

        threads = [threading.Thread(target=work, args=(first if i % 2 else second,)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    # Then every call reached the server its URL named
    assert statuses[first.port] == [201] * 40
    assert statuses[second.port] == [202] * 40
    assert len(first.requests) == len(second.requests) == 40


def test_ipv6_destinations_are_pinned_too() -> None:
    # Given a server on the IPv6 loopback, allowed explicitly, reached by literal and by name
    resolver = FixedResolver({"v6.example.test": ["::1"]})
    client = OutboundClient(SsrfGuard("::1/128", resolver), deadline=3)
    with RecordingServer(bind="::1") as server:
        by_literal = client.send(OutboundRequest("GET", server.url("/literal")))
        by_name = client.send(OutboundRequest("GET", f"http://v6.example.test:{server.port}/name"))
    assert by_literal.ok
    assert by_name.ok
    assert [request.header("Host") for request in server.requests] == [
        f"[::1]:{server.port}",
        f"v6.example.test:{server.port}",
    ]
