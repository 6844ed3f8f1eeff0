"""The request an action renders and the outbound client performs."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class OutboundRequest:
    """A fully rendered HTTP request, before authentication is applied."""

    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
