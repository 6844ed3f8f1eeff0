"""The SSRF guard: decide, before any connection, whether an outbound URL may be called.

The guard parses the URL itself (it never trusts a later parser to agree), recognises every
IPv4 spelling a resolver would accept (`2130706433`, `0x7f000001`, `0177.0.0.1`, `127.1`), resolves
host names once through an injectable resolver, and refuses the whole answer if any address is
forbidden. The caller then connects to the one validated address (`PinnedTarget.ip`), so a DNS
answer that changes between lookups cannot steer the connection elsewhere.

Forbidden: loopback, private, CGNAT, link-local, cloud metadata, multicast, reserved, unspecified,
unique-local, and IPv6 forms that hide an IPv4 address (mapped, NAT64, 6to4, Teredo), judged by
the embedded address. The table is explicit rather than `ipaddress.is_private`, whose answers
differ between Python 3.11 (here) and 3.13 (Lambda).

Operators allow specific hosts or networks with `Settings.outbound_allow` ("127.0.0.0/8",
"10.1.2.3", "hooks.internal"): a network entry allows any address it contains, metadata included
if the operator names a network containing it; a host entry allows whatever that host resolves
to, except cloud metadata addresses.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

import idna

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# (host, port) -> the addresses the name resolves to, as strings.
Resolver = Callable[[str, int], Sequence[str]]

ALLOWED_SCHEMES = {"http": 80, "https": 443}


class SsrfRefused(Exception):
    """The URL may not be called. `reason` names the rule; it never carries the URL's path or query."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class HostResolutionError(Exception):
    """The host name did not resolve (may be transient: callers treat it as retryable)."""

    def __init__(self, host: str) -> None:
        super().__init__(f"could not resolve host {host}")
        self.host = host


def system_resolver(host: str, port: int) -> Sequence[str]:
    try:
        answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise HostResolutionError(host) from None
    return [str(sockaddr[0]) for _family, _type, _proto, _canon, sockaddr in answers]


_V4 = ipaddress.IPv4Network
_V6 = ipaddress.IPv6Network

CLOUD_METADATA_ADDRESSES: frozenset[IPAddress] = frozenset(
    {
        ipaddress.IPv4Address("169.254.169.254"),  # EC2, GCP, Azure instance metadata
        ipaddress.IPv4Address("169.254.170.2"),  # ECS task metadata and credentials
        ipaddress.IPv4Address("169.254.170.23"),  # EKS Pod Identity agent
        ipaddress.IPv6Address("fd00:ec2::254"),  # EC2 metadata over IPv6
        ipaddress.IPv6Address("fd00:ec2::23"),  # EKS Pod Identity agent over IPv6
    }
)

_IPV4_FORBIDDEN: tuple[tuple[ipaddress.IPv4Network, str], ...] = (
    (_V4("0.0.0.0/8"), "unspecified"),
    (_V4("10.0.0.0/8"), "private"),
    (_V4("100.64.0.0/10"), "carrier-grade NAT"),
    (_V4("127.0.0.0/8"), "loopback"),
    (_V4("169.254.0.0/16"), "link-local"),
    (_V4("172.16.0.0/12"), "private"),
    (_V4("192.0.0.0/24"), "reserved (IETF protocol assignments)"),
    (_V4("192.0.2.0/24"), "reserved (documentation)"),
    (_V4("192.88.99.0/24"), "reserved (6to4 relay)"),
    (_V4("192.168.0.0/16"), "private"),
    (_V4("198.18.0.0/15"), "reserved (benchmarking)"),
    (_V4("198.51.100.0/24"), "reserved (documentation)"),
    (_V4("203.0.113.0/24"), "reserved (documentation)"),
    (_V4("224.0.0.0/4"), "multicast"),
    (_V4("240.0.0.0/4"), "reserved"),
)

_NAT64 = _V6("64:ff9b::/96")
_SIX_TO_FOUR = _V6("2002::/16")
_TEREDO = _V6("2001::/32")
_GLOBAL_UNICAST = _V6("2000::/3")

_IPV6_FORBIDDEN: tuple[tuple[ipaddress.IPv6Network, str], ...] = (
    (_V6("::/128"), "unspecified"),
    (_V6("::1/128"), "loopback"),
    (_V6("::/96"), "IPv4-compatible (deprecated)"),
    (_V6("64:ff9b:1::/48"), "local-use NAT64"),
    (_V6("100::/64"), "reserved (discard-only)"),
    (_V6("2001::/23"), "reserved (IETF protocol assignments)"),
    (_V6("2001:db8::/32"), "reserved (documentation)"),
    (_V6("3fff::/20"), "reserved (documentation)"),
    (_V6("fc00::/7"), "unique-local"),
    (_V6("fe80::/10"), "link-local"),
    (_V6("fec0::/10"), "site-local (deprecated)"),
    (_V6("ff00::/8"), "multicast"),
)


def _embedded_ipv4(address: ipaddress.IPv6Address) -> tuple[str, list[ipaddress.IPv4Address]] | None:
    """The IPv4 addresses an IPv6 form carries, with the form's name; None for plain IPv6."""
    if address.ipv4_mapped is not None:
        return "IPv4-mapped", [address.ipv4_mapped]
    if address in _NAT64:
        return "NAT64", [ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)]
    if address in _SIX_TO_FOUR:
        six_to_four = address.sixtofour
        return ("6to4", [six_to_four]) if six_to_four is not None else None
    if address in _TEREDO:
        teredo = address.teredo
        return ("Teredo", list(teredo)) if teredo is not None else None
    return None


def is_cloud_metadata(address: IPAddress) -> bool:
    """A metadata address, written plainly or inside an IPv6 form."""
    if address in CLOUD_METADATA_ADDRESSES:
        return True
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        return embedded is not None and any(inner in CLOUD_METADATA_ADDRESSES for inner in embedded[1])
    return False


def _listed_reason(address: IPAddress) -> str | None:
    table: tuple[tuple[IPNetwork, str], ...] = (
        _IPV4_FORBIDDEN if isinstance(address, ipaddress.IPv4Address) else _IPV6_FORBIDDEN
    )
    return next((label for network, label in table if address in network), None)


def forbidden_reason(address: IPAddress) -> str | None:
    """Why an address may not be reached without an explicit allow entry; None when it may."""
    if address in CLOUD_METADATA_ADDRESSES:
        return "cloud metadata"
    if isinstance(address, ipaddress.IPv4Address):
        return _listed_reason(address)
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        form, inner_addresses = embedded
        inner_reasons = [(inner, forbidden_reason(inner)) for inner in inner_addresses]
        return next((f"{form} form of {inner} ({why})" for inner, why in inner_reasons if why), None)
    reason = _listed_reason(address)
    if reason is None and address not in _GLOBAL_UNICAST:
        reason = "reserved (outside global unicast)"
    return reason


_NUMERIC_PART = re.compile(r"^(?:0[xX][0-9a-fA-F]*|[0-9]+)$")
_HOST_CHARACTERS = re.compile(r"^[a-z0-9._-]+$")


def _ipv4_number(part: str) -> int:
    if part[:2] in ("0x", "0X"):
        return int(part[2:] or "0", 16)
    if len(part) > 1 and part.startswith("0"):
        return int(part[1:], 8)
    return int(part, 10)


def parse_ipv4_spelling(host: str) -> ipaddress.IPv4Address | None:
    """The IPv4 address a numeric host spells (WHATWG URL rules, as inet_aton accepts them).

    Returns None when the host does not end in a number (a domain name). Raises ValueError when it
    does but is not a valid address (`1.2.3.4.5`, `09.1`, `256.1.1.1`, `example.1`): such hosts are
    refused rather than handed to a resolver that might read them differently.
    """
    parts = host.split(".")
    if len(parts) > 1 and parts[-1] == "":
        parts.pop()
    if not parts or not _NUMERIC_PART.match(parts[-1]):
        return None
    if len(parts) > 4 or not all(_NUMERIC_PART.match(part) for part in parts):
        raise ValueError("not a valid IPv4 address")
    numbers = [_ipv4_number(part) for part in parts]
    if any(number > 255 for number in numbers[:-1]) or numbers[-1] >= 256 ** (5 - len(numbers)):
        raise ValueError("IPv4 address component out of range")
    value = numbers[-1]
    for index, number in enumerate(numbers[:-1]):
        value += number << (8 * (3 - index))
    return ipaddress.IPv4Address(value)


@dataclass(frozen=True)
class PinnedTarget:
    """A validated destination: connect to `ip`, speak to `host` (Host header, TLS SNI and verification)."""

    scheme: str
    host: str
    port: int
    ip: IPAddress
    host_is_ip: bool

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == ALLOWED_SCHEMES[self.scheme] else f"{host}:{self.port}"


@dataclass(frozen=True)
class AllowList:
    """Operator exceptions: networks (any contained address) and exact host names."""

    networks: tuple[IPNetwork, ...] = ()
    hosts: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, entries: str | Iterable[str]) -> AllowList:
        items = entries.split(",") if isinstance(entries, str) else list(entries)
        networks: list[IPNetwork] = []
        hosts: set[str] = set()
        for raw in items:
            entry = raw.strip()
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
            except ValueError:
                hosts.add(entry.lower().rstrip("."))
        return cls(tuple(networks), frozenset(hosts))

    def allows_address(self, address: IPAddress) -> bool:
        candidates: list[IPAddress] = [address]
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            candidates.append(address.ipv4_mapped)
        return any(
            candidate.version == network.version and candidate in network
            for candidate in candidates
            for network in self.networks
        )

    def allows_host(self, host: str) -> bool:
        return host in self.hosts


def _normalise_host(parts: SplitResult) -> tuple[str, IPAddress | None]:
    """The ASCII host name, or the IP address a literal host spells."""
    netloc = parts.netloc
    hostname = parts.hostname
    if not hostname:
        raise SsrfRefused("URL has no host")
    if "[" in netloc:
        try:
            literal = ipaddress.IPv6Address(hostname)
        except ValueError:
            raise SsrfRefused("malformed IPv6 literal") from None
        if literal.scope_id:
            raise SsrfRefused("IPv6 zone identifiers are not allowed")
        return str(literal), literal
    if not hostname.isascii():
        try:
            hostname = idna.encode(hostname, uts46=True).decode("ascii")
        except idna.IDNAError:
            raise SsrfRefused("host is not a valid internationalised domain name") from None
    hostname = hostname.lower()
    if not _HOST_CHARACTERS.match(hostname) or ".." in hostname or hostname.startswith("."):
        raise SsrfRefused("malformed host")
    try:
        literal4 = parse_ipv4_spelling(hostname)
    except ValueError:
        raise SsrfRefused("host looks numeric but is not a valid IPv4 address") from None
    if literal4 is not None:
        return str(literal4), literal4
    return hostname.rstrip("."), None


_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")


def normalise_url_host(url: str) -> str:
    """The host a URL names, normalised as the guard sees it (IP literals in canonical form)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        raise SsrfRefused("malformed URL") from None
    return _normalise_host(parts)[0]


class SsrfGuard:
    """Validates outbound URLs and resolves them to one pinned address."""

    def __init__(self, allow: AllowList | str = "", resolver: Resolver | None = None) -> None:
        self._allow = allow if isinstance(allow, AllowList) else AllowList.parse(allow)
        self._resolve = resolver or system_resolver

    @property
    def allow(self) -> AllowList:
        return self._allow

    def check_url(self, url: str) -> PinnedTarget:
        """Validate `url` and resolve its host once. Raises SsrfRefused or HostResolutionError."""
        if _CONTROL_CHARACTERS.search(url):
            raise SsrfRefused("URL contains control characters")
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            raise SsrfRefused("malformed URL or port") from None
        scheme = parts.scheme.lower()
        if scheme not in ALLOWED_SCHEMES:
            raise SsrfRefused(f"scheme {scheme or '(none)'!r} is not allowed; only http and https")
        if "\\" in parts.netloc or " " in parts.netloc:
            raise SsrfRefused("malformed host")
        if "@" in parts.netloc:
            raise SsrfRefused("credentials in the URL are not allowed; use the connector's auth")
        host, literal = _normalise_host(parts)
        port = port if port is not None else ALLOWED_SCHEMES[scheme]
        if port == 0:
            raise SsrfRefused("port 0 is not allowed")
        if literal is not None:
            ip = self._check_address(literal, host, host_allowed=False)
            return PinnedTarget(scheme, host, port, ip, host_is_ip=True)
        answers = self._resolve(host, port)
        if not answers:
            raise HostResolutionError(host)
        host_allowed = self._allow.allows_host(host)
        checked: list[IPAddress] = []
        for answer in answers:
            try:
                address = ipaddress.ip_address(answer.split("%", 1)[0])
            except ValueError:
                raise SsrfRefused(f"host {host} resolved to something that is not an IP address") from None
            checked.append(self._check_address(address, host, host_allowed))
        return PinnedTarget(scheme, host, port, checked[0], host_is_ip=False)

    def check_address(self, address: IPAddress) -> IPAddress:
        """Validate one address (no host context); returns the address to connect to."""
        return self._check_address(address, str(address), host_allowed=False)

    def _check_address(self, address: IPAddress, host: str, host_allowed: bool) -> IPAddress:
        # An IPv4-mapped address is the IPv4 address: connect to it as such.
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            connect_to: IPAddress = address.ipv4_mapped
        else:
            connect_to = address
        reason = forbidden_reason(address)
        if reason is None or self._allow.allows_address(address):
            return connect_to
        if host_allowed and not is_cloud_metadata(address):
            return connect_to
        where = "" if host == str(address) else f"{host} resolves to "
        raise SsrfRefused(f"{where}{address} is not allowed ({reason})")
