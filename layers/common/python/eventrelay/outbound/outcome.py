"""What one outbound call came to: success, a retryable failure or a permanent failure."""

from __future__ import annotations

import email.utils
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any


class OutcomeKind(StrEnum):
    SUCCESS = "SUCCESS"
    RETRYABLE = "RETRYABLE"
    PERMANENT = "PERMANENT"


# Response headers worth keeping for an attempt's record; others (Set-Cookie above all) are dropped.
SELECTED_RESPONSE_HEADERS = frozenset(
    {
        "cache-control",
        "content-encoding",
        "content-language",
        "content-length",
        "content-type",
        "date",
        "etag",
        "last-modified",
        "location",
        "ratelimit-limit",
        "ratelimit-remaining",
        "ratelimit-reset",
        "request-id",
        "retry-after",
        "www-authenticate",
        "x-amzn-requestid",
        "x-correlation-id",
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
        "x-request-id",
    }
)

DEFAULT_BODY_PREVIEW_CHARS = 4096


def select_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {
        name.lower(): value for name, value in headers.items() if name.lower() in SELECTED_RESPONSE_HEADERS
    }


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a Retry-After value: delta-seconds or an HTTP date (RFC 9110 10.2.3)."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return float(int(text))
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - now)


def classify_status(status: int) -> OutcomeKind:
    if 200 <= status < 300:
        return OutcomeKind.SUCCESS
    if status in (408, 429) or 500 <= status < 600:
        return OutcomeKind.RETRYABLE
    return OutcomeKind.PERMANENT


@dataclass(frozen=True)
class Outcome:
    """One call's result. `error` is a fixed description that never carries a secret or a URL.

    `body` is the decoded response body, at most the client's cap; `body_truncated` says the
    server sent more (or the body could not be decoded to the end).
    """

    kind: OutcomeKind
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    body_truncated: bool = False
    duration_ms: int = 0
    error: str | None = None
    retry_after_seconds: float | None = None

    @property
    def ok(self) -> bool:
        return self.kind is OutcomeKind.SUCCESS

    @property
    def retryable(self) -> bool:
        return self.kind is OutcomeKind.RETRYABLE

    def body_text(self, limit: int = DEFAULT_BODY_PREVIEW_CHARS) -> str:
        text = self.body.decode("utf-8", errors="replace")
        return text if len(text) <= limit else text[:limit] + "…"

    def with_changes(self, **changes: Any) -> Outcome:
        return replace(self, **changes)

    def to_dict(self, body_limit: int = DEFAULT_BODY_PREVIEW_CHARS) -> dict[str, Any]:
        """A JSON-ready summary (what an attempt record or `test` output shows)."""
        return {
            "outcome": self.kind.value,
            "status": self.status,
            "headers": dict(self.headers),
            "body": self.body_text(body_limit),
            "bodyTruncated": self.body_truncated
            or len(self.body.decode("utf-8", errors="replace")) > body_limit,
            "durationMs": self.duration_ms,
            "error": self.error,
            "retryAfterSeconds": self.retry_after_seconds,
        }


def failure(kind: OutcomeKind, error: str, duration_ms: int = 0) -> Outcome:
    return Outcome(kind=kind, error=error, duration_ms=duration_ms)
