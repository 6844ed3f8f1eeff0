"""Limit items, windows and hit results: the pure arithmetic of fixed windows (no AWS here).

The vocabulary follows alisaifee/limits: a `RateLimitItem` is "amount per multiples granularity",
`describe()` reads "100 per 1 minute", window stats report count, remaining and reset.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import Enum, StrEnum

SECOND_SECONDS = 1
MINUTE_SECONDS = 60
HOUR_SECONDS = 3600
DAY_SECONDS = 86400


class Granularity(Enum):
    """A window length unit. UTC days are epoch-aligned (the epoch starts at UTC midnight)."""

    SECOND = (SECOND_SECONDS, "second")
    MINUTE = (MINUTE_SECONDS, "minute")
    HOUR = (HOUR_SECONDS, "hour")
    DAY = (DAY_SECONDS, "day")

    @property
    def seconds(self) -> int:
        return self.value[0]

    @property
    def unit(self) -> str:
        return self.value[1]


class LimitKind(StrEnum):
    """Which family of windows a call counts in: single publish and job status, bulk, or the
    outbound calls of one connector (its `scope` is the connector's name)."""

    SYNC = "sync"
    ASYNC = "async"
    OUTBOUND = "outbound"


@dataclass(frozen=True)
class RateLimitItem:
    """`amount` calls per `multiples` × `granularity`, in windows aligned to UTC clock boundaries."""

    amount: int
    granularity: Granularity
    multiples: int = 1

    def __post_init__(self) -> None:
        if self.amount < 0:
            raise ValueError("a rate limit amount cannot be negative")
        if self.multiples < 1:
            raise ValueError("a rate limit window is at least one granularity long")

    @property
    def window_seconds(self) -> int:
        return self.granularity.seconds * self.multiples

    @property
    def window_name(self) -> str:
        """Stable name of the window in storage; depends on its length only, never on the amount.

        The amount is not part of the name so that an override changed mid-window keeps counting the
        same window.
        """
        return window_name(self.window_seconds)

    def window_start(self, now: float) -> int:
        """Start (epoch seconds) of the window holding `now`: floor(now / length) * length."""
        return window_start(now, self.window_seconds)

    def describe(self) -> str:
        return f"{self.amount} per {self.multiples} {self.granularity.unit}"

    def __str__(self) -> str:
        return self.describe()


def window_start(now: float, length: int) -> int:
    return int(now // length) * length


def window_name(length: int) -> str:
    names = {SECOND_SECONDS: "second", MINUTE_SECONDS: "minute", HOUR_SECONDS: "hour", DAY_SECONDS: "day"}
    return names.get(length, f"{length}s")


def key_for(tenant_id: str, kind: LimitKind, scope: str = "") -> str:
    """The limits table key of one (tenant, kind[, scope]): one item holds every window of that kind.

    `scope` narrows the kind within the tenant (OUTBOUND: the connector's name), e.g.
    "outbound#acme#jira". Tenant ids and connector names never contain "#".
    """
    return f"{kind.value}#{tenant_id}#{scope}" if scope else f"{kind.value}#{tenant_id}"


def normalize_limits(limits: Iterable[RateLimitItem]) -> tuple[RateLimitItem, ...]:
    """One limit per window length (the strictest wins), shortest window first.

    Two limits on the same window would share one counter; keeping the smaller amount is what the
    pair means, and it keeps a misconfigured override from turning into a 5xx on the publish path.
    """
    by_length: dict[int, RateLimitItem] = {}
    for item in limits:
        known = by_length.get(item.window_seconds)
        if known is None or item.amount < known.amount:
            by_length[item.window_seconds] = item
    return tuple(by_length[length] for length in sorted(by_length))


DEFAULT_LIMITS: dict[LimitKind, tuple[RateLimitItem, ...]] = {
    LimitKind.SYNC: (RateLimitItem(100, Granularity.MINUTE), RateLimitItem(50_000, Granularity.DAY)),
    LimitKind.ASYNC: (RateLimitItem(10, Granularity.HOUR), RateLimitItem(100, Granularity.DAY)),
}


@dataclass(frozen=True)
class WindowStats:
    """One window as seen by one call: `count` includes that call when it was admitted."""

    limit_item: RateLimitItem
    count: int
    remaining: int
    reset_at: int

    @property
    def start(self) -> int:
        return self.reset_at - self.limit_item.window_seconds

    def reset_after(self, now: float) -> int:
        """Whole seconds until the window resets, rounded up, at least 1 while inside the window."""
        return max(1, math.ceil(self.reset_at - now))


@dataclass
class HitResult:
    """The outcome of one `hit`: truthy when admitted.

    `windows` has every window the call was checked against; `exceeded` the ones that had no room.
    `at` is the clock time of the decision, from which the header seconds are computed.
    """

    admitted: bool
    windows: list[WindowStats]
    exceeded: list[WindowStats]
    tenant_id: str = ""
    kind: LimitKind = LimitKind.SYNC
    at: float = 0.0
    scope: str = ""
    refunded: bool = field(default=False, compare=False)

    def __bool__(self) -> bool:
        return self.admitted

    @property
    def retry_after(self) -> int | None:
        """Seconds until every exceeded window has reset (None when admitted)."""
        if self.admitted or not self.exceeded:
            return None
        return max(window.reset_after(self.at) for window in self.exceeded)

    def most_constraining(self) -> WindowStats | None:
        """The window with the fewest remaining calls; on a tie, the one that resets last."""
        if not self.windows:
            return None
        return min(self.windows, key=lambda window: (window.remaining, -window.reset_at))

    def headers(self) -> dict[str, str]:
        """RateLimit-Limit/-Remaining/-Reset of the most constraining window; Retry-After when refused."""
        window = self.most_constraining()
        headers: dict[str, str] = {}
        if window is not None:
            headers["RateLimit-Limit"] = str(window.limit_item.amount)
            headers["RateLimit-Remaining"] = str(window.remaining)
            headers["RateLimit-Reset"] = str(window.reset_after(self.at))
        retry_after = self.retry_after
        if retry_after is not None:
            headers["Retry-After"] = str(retry_after)
        return headers

    def refusal_description(self) -> str:
        """The exceeded window(s), e.g. "100 per 1 minute" (empty when admitted)."""
        return " and ".join(window.limit_item.describe() for window in self.exceeded)


def stats(limit_item: RateLimitItem, start: int, count: int) -> WindowStats:
    return WindowStats(
        limit_item=limit_item,
        count=count,
        remaining=max(0, limit_item.amount - count),
        reset_at=start + limit_item.window_seconds,
    )


def latest_reset(windows: Sequence[WindowStats]) -> int:
    return max(window.reset_at for window in windows)
