"""The SSRF guard's decisions, without any network: spellings, ranges, allow-lists, resolution."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eventrelay.outbound.ssrf import (
    AllowList,
    HostResolutionError,
    SsrfGuard,
    SsrfRefused,
    forbidden_reason,
    parse_ipv4_spelling,
)


def guard(allow: str = "", answers: dict[str, list[str]] | None = None) -> SsrfGuard:
    table = answers or {}

    def resolve(host: str, _port: int) -> list[str]:
        if host not in table:
            raise HostResolutionError(host)
        return table[host]

    return SsrfGuard(allow, resolve)


@pytest.mark.parametrize(
    ("spelling", "address"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("0X7F000001", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("017700000001", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("127.0.1", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("127.0.0.1.", "127.0.0.1"),
        ("0", "0.0.0.0"),
        ("0x", "0.0.0.0"),
        ("10.1", "10.0.0.1"),
        ("192.168.257", "192.168.1.1"),
        ("4294967295", "255.255.255.255"),
    ],
)
def test_ipv4_spellings_are_read_as_a_resolver_would(spelling: str, address: str) -> None:
    assert parse_ipv4_spelling(spelling) == ipaddress.IPv4Address(address)


@pytest.mark.parametrize("host", ["example.com", "localhost", "a1", "api.v2.example", "1a.example"])
def test_names_are_not_addresses(host: str) -> None:
    assert parse_ipv4_spelling(host) is None


@pytest.mark.parametrize(
    "host", ["1.2.3.4.5", "256.0.0.1", "09.0.0.1", "4294967296", "1.2.65536", "example.1", "1..2"]
)
def test_numeric_looking_hosts_that_are_not_addresses_are_errors(host: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - the message is not the behaviour
        parse_ipv4_spelling(host)


@given(st.integers(min_value=0, max_value=2**32 - 1))
@settings(max_examples=300)
def test_every_ipv4_address_round_trips_through_its_decimal_hex_and_octal_spellings(value: int) -> None:
    address = ipaddress.IPv4Address(value)
    octets = address.packed
    spellings = [
        str(value),
        hex(value),
        ".".join(f"0{octet:o}" for octet in octets),
        ".".join(hex(octet) for octet in octets),
        f"{octets[0]}.{int.from_bytes(octets[1:], 'big')}",
    ]
    for spelling in spellings:
        assert parse_ipv4_spelling(spelling) == address, spelling


@given(st.integers(min_value=0x7F000000, max_value=0x7FFFFFFF))
@settings(max_examples=200)
def test_every_loopback_address_is_refused_in_every_spelling(value: int) -> None:
    for spelling in (str(value), hex(value), "0" + oct(value)[2:]):
        with pytest.raises(SsrfRefused):
            guard().check_url(f"http://{spelling}/")


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.20.0.1", "private"),
        ("192.168.0.1", "private"),
        ("100.64.0.1", "carrier-grade NAT"),
        ("169.254.1.1", "link-local"),
        ("169.254.169.254", "cloud metadata"),
        ("169.254.170.2", "cloud metadata"),
        ("fd00:ec2::254", "cloud metadata"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("::1", "loopback"),
        ("224.0.0.251", "multicast"),
        ("ff05::2", "multicast"),
        ("240.0.0.1", "reserved"),
        ("fc00::1", "unique-local"),
        ("fe80::1", "link-local"),
        ("::ffff:127.0.0.1", "IPv4-mapped form of 127.0.0.1 (loopback)"),
        ("64:ff9b::a9fe:a9fe", "NAT64 form of 169.254.169.254 (cloud metadata)"),
        ("2002:c0a8:0101::1", "6to4 form of 192.168.1.1 (private)"),
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "Teredo form of 192.0.2.45 (reserved (documentation))"),
    ],
)
def test_forbidden_addresses_name_their_reason(address: str, reason: str) -> None:
    assert forbidden_reason(ipaddress.ip_address(address)) == reason


@pytest.mark.parametrize(
    "address", ["8.8.8.8", "93.184.216.34", "2606:4700:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"]
)
def test_public_addresses_have_no_reason(address: str) -> None:
    assert forbidden_reason(ipaddress.ip_address(address)) is None


def test_a_name_is_refused_when_any_of_its_addresses_is_forbidden() -> None:
    with pytest.raises(
        SsrfRefused, match=r"mixed\.example resolves to 10\.0\.0\.1 is not allowed \(private\)"
    ):
        guard(answers={"mixed.example": ["93.184.216.34", "10.0.0.1"]}).check_url("https://mixed.example/")


def test_the_first_answer_is_pinned() -> None:
    target = guard(answers={"api.example": ["93.184.216.34", "93.184.216.35"]}).check_url(
        "https://api.example:8443/x"
    )
    assert (target.scheme, target.host, target.port, str(target.ip)) == (
        "https",
        "api.example",
        8443,
        "93.184.216.34",
    )
    assert target.host_header == "api.example:8443"


def test_no_answer_is_a_resolution_error() -> None:
    with pytest.raises(HostResolutionError):
        guard(answers={"empty.example": []}).check_url("https://empty.example/")


def test_an_allowed_network_permits_its_addresses_only() -> None:
    allowing = guard("10.0.0.0/8, 192.168.5.7")
    assert str(allowing.check_url("http://10.9.8.7/").ip) == "10.9.8.7"
    assert str(allowing.check_url("http://192.168.5.7/").ip) == "192.168.5.7"
    assert str(allowing.check_url("http://[::ffff:10.1.1.1]/").ip) == "10.1.1.1"
    with pytest.raises(SsrfRefused):
        allowing.check_url("http://192.168.5.8/")
    with pytest.raises(SsrfRefused):
        allowing.check_url("http://169.254.169.254/")


def test_an_allowed_host_permits_what_it_resolves_to_except_metadata() -> None:
    answers = {"hooks.internal": ["10.0.0.7"], "sneaky.internal": ["169.254.169.254"]}
    allowing = guard("hooks.internal, sneaky.internal", answers)
    assert str(allowing.check_url("https://hooks.internal/").ip) == "10.0.0.7"
    with pytest.raises(SsrfRefused, match="cloud metadata"):
        allowing.check_url("https://sneaky.internal/")


def test_an_operator_may_allow_the_metadata_network_explicitly() -> None:
    assert str(guard("169.254.169.254/32").check_url("http://169.254.169.254/").ip) == "169.254.169.254"


def test_allow_list_parsing_ignores_blanks_and_lowercases_hosts() -> None:
    parsed = AllowList.parse(" 127.0.0.0/8 , ,Hooks.Internal., ::1 ")
    assert [str(network) for network in parsed.networks] == ["127.0.0.0/8", "::1/128"]
    assert parsed.hosts == frozenset({"hooks.internal"})


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://example.com/", "scheme 'ftp' is not allowed"),
        ("javascript:alert(1)", "scheme 'javascript' is not allowed"),
        ("http://user:pass@example.com/", "credentials in the URL"),
        ("http://example.com:0/", "port 0"),
        ("http://example.com:99999/", "malformed URL or port"),
        ("http:///path", "no host"),
        ("http://exa mple.com/", "malformed host"),
        ("http://[fe80::1%25en0]/", "zone identifiers"),
        ("http://[not-v6]/", "malformed"),
    ],
)
def test_malformed_or_foreign_urls_are_refused(url: str, reason: str) -> None:
    with pytest.raises(SsrfRefused) as refused:
        guard(answers={"example.com": ["93.184.216.34"]}).check_url(url)
    assert reason in refused.value.reason


def test_international_names_are_resolved_in_their_ascii_form() -> None:
    resolver_calls: list[str] = []

    def resolve(host: str, _port: int) -> list[str]:
        resolver_calls.append(host)
        return ["93.184.216.34"]

    target = SsrfGuard("", resolve).check_url("https://bücher.example/")
    assert target.host == "xn--bcher-kva.example"
    assert resolver_calls == ["xn--bcher-kva.example"]
