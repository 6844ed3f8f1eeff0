"""The SSRF table: every forbidden address and spelling is refused before any connection.

Each refused URL goes through the real OutboundClient. Where a spelling means 127.0.0.1, a
listening sink on 127.0.0.1 waits on the URL's port and must record zero connections; for every
URL, the client's opener (which dials 127.0.0.1 only) must record zero attempts. Names resolve
through an injected resolver, so nothing ever leaves loopback.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from eventrelay.outbound.client import OutboundClient
from eventrelay.outbound.outcome import OutcomeKind
from eventrelay.outbound.request import OutboundRequest
from eventrelay.outbound.ssrf import SsrfGuard
from tests.support.http_servers import (
    FixedResolver,
    RecordingOpener,
    RecordingServer,
    Reply,
    Sink,
)

# Names the injected resolver knows. Nothing here is ever dialled (only 127.0.0.1 could be).
RESOLVER_ANSWERS: dict[str, list[str]] = {
    "localhost": ["127.0.0.1", "::1"],
    "metadata.google.internal": ["169.254.169.254"],
    "instance-data.example": ["169.254.169.254"],
    "ecs-credentials.example": ["169.254.170.2"],
    "intranet.example": ["10.0.0.5"],
    "router.example": ["192.168.1.1"],
    "cgnat.example": ["100.100.100.200"],
    "mixed.example": ["93.184.216.34", "10.0.0.1"],  # one private answer among public ones
    "v6-ula.example": ["fd12:3456::1"],
    "v6-metadata.example": ["fd00:ec2::254"],
    "v6-mapped.example": ["::ffff:192.168.0.1"],
    "v6-loopback.example": ["::1"],
    "nat64-private.example": ["64:ff9b::a00:1"],
    "zero.example": ["0.0.0.0"],
    "public.example": ["93.184.216.34"],
    "public-v6.example": ["2606:2800:220:1:248:1893:25c8:1946"],
}

# (case id, URL; {port} is the sink's port)
REFUSED: list[tuple[str, str]] = [
    # IPv4 loopback, in every spelling a resolver accepts
    ("loopback", "http://127.0.0.1:{port}/"),
    ("loopback-other", "http://127.0.0.2:{port}/"),
    ("loopback-top", "http://127.255.255.254:{port}/"),
    ("decimal", "http://2130706433:{port}/"),
    ("hex", "http://0x7f000001:{port}/"),
    ("hex-upper", "http://0X7F000001:{port}/"),
    ("hex-dotted", "http://0x7f.0x0.0x0.0x1:{port}/"),
    ("octal-dotted", "http://0177.0.0.1:{port}/"),
    ("octal-padded", "http://0177.0000.0000.0001:{port}/"),
    ("octal-whole", "http://017700000001:{port}/"),
    ("short-two-parts", "http://127.1:{port}/"),
    ("short-three-parts", "http://127.0.1:{port}/"),
    ("hex-short", "http://0x7f.1:{port}/"),
    ("trailing-dot", "http://127.0.0.1.:{port}/"),
    ("fullwidth-digits", "http://１２７.０.０.１:{port}/"),
    ("https-loopback", "https://127.0.0.1:{port}/"),
    ("localhost", "http://localhost:{port}/"),
    ("localhost-upper", "http://LOCALHOST:{port}/"),
    ("localhost-dot", "http://localhost.:{port}/"),
    # unspecified
    ("zero", "http://0.0.0.0:{port}/"),
    ("zero-decimal", "http://0:{port}/"),
    ("zero-by-dns", "http://zero.example:{port}/"),
    # private, CGNAT
    ("private-10", "http://10.0.0.1:{port}/"),
    ("private-10-top", "http://10.255.255.255:{port}/"),
    ("private-172", "http://172.16.0.1:{port}/"),
    ("private-172-top", "http://172.31.255.254:{port}/"),
    ("private-192", "http://192.168.1.1:{port}/"),
    ("private-decimal", "http://167772161:{port}/"),
    ("cgnat", "http://100.64.0.1:{port}/"),
    ("cgnat-top", "http://100.127.255.254:{port}/"),
    # link-local and cloud metadata
    ("link-local", "http://169.254.0.1:{port}/"),
    ("metadata", "http://169.254.169.254:{port}/latest/meta-data/"),
    ("metadata-decimal", "http://2852039166:{port}/"),
    ("metadata-hex", "http://0xa9fea9fe:{port}/"),
    ("metadata-octal", "http://0251.0376.0251.0376:{port}/"),
    ("ecs-metadata", "http://169.254.170.2:{port}/v2/credentials"),
    # multicast, reserved, broadcast, special-purpose
    ("multicast", "http://224.0.0.1:{port}/"),
    ("multicast-ssdp", "http://239.255.255.250:{port}/"),
    ("reserved", "http://240.0.0.1:{port}/"),
    ("broadcast", "http://255.255.255.255:{port}/"),
    ("test-net", "http://192.0.2.1:{port}/"),
    ("benchmarking", "http://198.18.0.1:{port}/"),
    # IPv6
    ("v6-loopback", "http://[::1]:{port}/"),
    ("v6-loopback-long", "http://[0:0:0:0:0:0:0:1]:{port}/"),
    ("v6-unspecified", "http://[::]:{port}/"),
    ("v6-mapped-loopback", "http://[::ffff:127.0.0.1]:{port}/"),
    ("v6-mapped-loopback-hex", "http://[::ffff:7f00:1]:{port}/"),
    ("v6-mapped-metadata", "http://[::ffff:169.254.169.254]:{port}/"),
    ("v6-mapped-private", "http://[::ffff:10.0.0.1]:{port}/"),
    ("v6-compatible", "http://[::127.0.0.1]:{port}/"),
    ("nat64-loopback", "http://[64:ff9b::127.0.0.1]:{port}/"),
    ("nat64-metadata", "http://[64:ff9b::a9fe:a9fe]:{port}/"),
    ("6to4-loopback", "http://[2002:7f00:1::1]:{port}/"),
    ("6to4-metadata", "http://[2002:a9fe:a9fe::1]:{port}/"),
    ("teredo-private-client", "http://[2001:0:4136:e378:8000:63bf:f5ff:fffe]:{port}/"),
    ("teredo-loopback-server", "http://[2001:0:7f00:1:0:0:0:1]:{port}/"),
    ("v6-link-local", "http://[fe80::1]:{port}/"),
    ("v6-link-local-zone", "http://[fe80::1%25eth0]:{port}/"),
    ("v6-unique-local", "http://[fc00::1]:{port}/"),
    ("v6-metadata", "http://[fd00:ec2::254]:{port}/"),
    ("v6-site-local", "http://[fec0::1]:{port}/"),
    ("v6-multicast", "http://[ff02::1]:{port}/"),
    ("v6-documentation", "http://[2001:db8::1]:{port}/"),
    ("v6-discard", "http://[100::1]:{port}/"),
    # names that resolve to forbidden addresses
    ("dns-metadata-google", "http://metadata.google.internal:{port}/"),
    ("dns-metadata", "http://instance-data.example:{port}/"),
    ("dns-ecs", "http://ecs-credentials.example:{port}/"),
    ("dns-private", "http://intranet.example:{port}/"),
    ("dns-router", "http://router.example:{port}/"),
    ("dns-cgnat", "http://cgnat.example:{port}/"),
    ("dns-one-private-answer", "http://mixed.example:{port}/"),
    ("dns-ula", "http://v6-ula.example:{port}/"),
    ("dns-v6-metadata", "http://v6-metadata.example:{port}/"),
    ("dns-v6-mapped", "http://v6-mapped.example:{port}/"),
    ("dns-v6-loopback", "http://v6-loopback.example:{port}/"),
    ("dns-nat64-private", "http://nat64-private.example:{port}/"),
    # schemes and URL tricks
    ("scheme-file", "file:///etc/passwd"),
    ("scheme-ftp", "ftp://127.0.0.1:{port}/"),
    ("scheme-gopher", "gopher://127.0.0.1:{port}/_GET%20/"),
    ("scheme-dict", "dict://127.0.0.1:{port}/info"),
    ("no-scheme", "//127.0.0.1:{port}/"),
    ("userinfo-confusion", "http://public.example@127.0.0.1:{port}/"),
    ("backslash-confusion", "http://public.example\\@127.0.0.1:{port}/"),
    ("too-many-parts", "http://127.0.0.0.1:{port}/"),
    ("bad-octal", "http://0189.0.0.1:{port}/"),
    ("numeric-tld", "http://example.1:{port}/"),
    ("crlf-in-url", "http://public.example:{port}/\r\nHost: 127.0.0.1"),
]

ALLOWED_CONTROLS: list[tuple[str, str, str]] = [
    # (case id, URL, the address the guard pins)
    ("public-name", "https://public.example/api", "93.184.216.34"),
    ("public-v6-name", "https://public-v6.example/", "2606:2800:220:1:248:1893:25c8:1946"),
    ("public-literal", "http://93.184.216.34/", "93.184.216.34"),
    ("public-decimal", "http://1572395042/", "93.184.216.34"),
    ("public-v6-literal", "https://[2606:4700:4700::1111]/", "2606:4700:4700::1111"),
    ("just-outside-172-16", "http://172.32.0.1/", "172.32.0.1"),
    ("just-outside-cgnat", "http://100.128.0.1/", "100.128.0.1"),
    ("just-outside-10", "http://11.0.0.1/", "11.0.0.1"),
    ("just-outside-192-168", "http://192.169.0.1/", "192.169.0.1"),
    ("just-outside-link-local", "http://169.255.0.1/", "169.255.0.1"),
    ("mapped-public", "http://[::ffff:8.8.8.8]/", "8.8.8.8"),
    ("nat64-public", "http://[64:ff9b::808:808]/", "64:ff9b::808:808"),
    ("6to4-public", "http://[2002:5db8:d822::1]/", "2002:5db8:d822::1"),
]


@pytest.fixture(scope="module")
def sink() -> Iterator[Sink]:
    with Sink() as listening:
        yield listening


def test_the_table_is_at_least_45_entries_long() -> None:
    assert len(REFUSED) >= 45
    assert len({case for case, _ in REFUSED}) == len(REFUSED)


@pytest.mark.parametrize(("case", "url"), REFUSED, ids=[case for case, _ in REFUSED])
def test_forbidden_destination_is_refused_before_any_connection(case: str, url: str, sink: Sink) -> None:
    # Given a client with no allow-list, an opener that records every attempt and a listening sink
    opener = RecordingOpener()
    client = OutboundClient(SsrfGuard("", FixedResolver(RESOLVER_ANSWERS)), opener=opener, deadline=2)
    connections_before = sink.settled_connections()
    # When the URL is called
    outcome = client.send(OutboundRequest("GET", url.format(port=sink.port)))
    # Then it is a permanent refusal, and nothing was dialled or reached
    assert outcome.kind is OutcomeKind.PERMANENT, outcome
    assert outcome.error is not None
    assert outcome.error.startswith(("refused by SSRF guard", "invalid request")), outcome.error
    assert outcome.status is None
    assert opener.attempts == []
    assert sink.settled_connections() == connections_before


@pytest.mark.parametrize(
    ("case", "url", "pinned"), ALLOWED_CONTROLS, ids=[case for case, _, _ in ALLOWED_CONTROLS]
)
def test_public_destinations_pass_the_guard(case: str, url: str, pinned: str) -> None:
    # Only the guard's decision is checked: public addresses are never dialled from tests.
    guard = SsrfGuard("", FixedResolver(RESOLVER_ANSWERS))
    target = guard.check_url(url)
    assert str(target.ip) == pinned


def test_the_sink_does_record_connections_when_an_operator_allows_loopback(sink: Sink) -> None:
    # Given the operator allows loopback (as the local stack does)
    opener = RecordingOpener()
    client = OutboundClient(SsrfGuard("127.0.0.0/8"), opener=opener, deadline=1, read_timeout=0.3)
    before = sink.settled_connections()
    # When the same URL as in the table is called
    client.send(OutboundRequest("GET", f"http://127.0.0.1:{sink.port}/"))
    # Then the connection happens: the sink would have caught any leak in the table above
    assert opener.attempts == [("127.0.0.1", sink.port)]
    assert sink.settled_connections() == before + 1


def test_a_dns_answer_that_changes_between_lookups_cannot_reach_a_private_address(sink: Sink) -> None:
    # Given a name whose first answer is public and every later answer is 127.0.0.1
    answers = iter([["93.184.216.34"]])

    class Rebinding(FixedResolver):
        def __call__(self, host: str, port: int) -> list[str]:
            self.lookups.append(host)
            return next(answers, ["127.0.0.1"])

    resolver = Rebinding()
    opener = RecordingOpener()
    client = OutboundClient(SsrfGuard("", resolver), opener=opener, deadline=2)
    before = sink.settled_connections()
    # When the client calls it ("localhost" is also what the system resolver would map to 127.0.0.1)
    outcome = client.send(OutboundRequest("GET", f"http://localhost:{sink.port}/"))
    # Then it resolved once and dialled only the validated public address (refused by the test opener)
    assert resolver.lookups == ["localhost"]
    assert opener.attempts == [("93.184.216.34", sink.port)]
    assert outcome.kind is OutcomeKind.RETRYABLE
    assert sink.settled_connections() == before


def test_a_redirect_to_the_metadata_address_is_not_followed(sink: Sink) -> None:
    # Given an allowed server that redirects to the metadata address and to a loopback sink
    targets = iter(
        [
            "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
            f"http://127.0.0.1:{sink.port}/",
        ]
    )
    with RecordingServer(
        lambda _request: Reply(status=302, headers={"Location": next(targets)}, body=b"")
    ) as server:
        opener = RecordingOpener()
        client = OutboundClient(SsrfGuard("127.0.0.0/8"), opener=opener, deadline=2)
        before = sink.settled_connections()
        # When it is called (twice: one redirect to each target)
        first = client.send(OutboundRequest("GET", server.url("/start")))
        second = client.send(OutboundRequest("GET", server.url("/start")))
    # Then each 302 is a permanent outcome, reported, and never followed
    for outcome in (first, second):
        assert outcome.kind is OutcomeKind.PERMANENT
        assert outcome.status == 302
        assert outcome.error == "redirect not followed (HTTP 302)"
    assert first.headers["location"].startswith("http://169.254.169.254/")
    assert {address for address, _ in opener.attempts} == {"127.0.0.1"}
    assert all(port == server.port for _, port in opener.attempts)
    assert [request.path for request in server.requests] == ["/start", "/start"]
    assert sink.settled_connections() == before
