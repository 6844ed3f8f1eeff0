"""The request an action renders and the outbound client performs, and how its URL is joined."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")


class UrlNotJoinable(ValueError):
    """A relative URL cannot be appended to a base URL that has a query or a fragment."""


def is_absolute_url(url: str) -> bool:
    """Whether `url` starts with a scheme; anything else is relative to a connector's base URL."""
    return _SCHEME.match(url) is not None


def join_url(base_url: str, relative: str) -> str:
    """`relative` appended to `base_url`: "" is the base itself, `?…` and `#…` are appended as they
    are, anything else after exactly one `/`. UrlNotJoinable when something must be appended to a
    base URL that has a query or a fragment (it must then be used as it is)."""
    if not relative:
        return base_url
    parts = urlsplit(base_url)
    if parts.query or parts.fragment or base_url.endswith(("?", "#")):
        raise UrlNotJoinable("a URL with a query or fragment must be used as it is")
    if relative.startswith(("?", "#")):
        return base_url + relative
    return base_url.rstrip("/") + "/" + relative.lstrip("/")


@dataclass(frozen=True)
class OutboundRequest:
    """A fully rendered HTTP request, before authentication is applied."""

    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
