"""Per-connector pacing: a connector's outbound rate limit, counted across every runner instance.

A connector may carry a `RateLimit` (calls per second and/or per minute; none by default). Its
windows are the house's fixed windows (`eventrelay.ratelimit`), counted per tenant and connector
in the limits table (pk `outbound#<tenantId>#<connector>`), so every runner instance shares them.

`ConnectorPacer.take` is asked once before a delivery's attempt is claimed:
- no rate limit → `Pace.UNLIMITED`, and the limiter is not called at all (no cost);
- room in every window → a `Slot` (the call is counted; give it back with `give_back` when the
  attempt is then not made: the claim lost to another runner, or the runner failed before calling);
- no room → a refusal with the delay after which the delivery should be tried again.

Spreading the waiting deliveries: a refusal reaches the next reset of the exceeded window, but if
every waiting delivery came back at that reset, a limit of N would admit N and send all the others
round again, window after window. So an instance books the windows after the reset in turn: the
first N deliveries it refuses for a (tenant, connector) wait for that reset, the next N for the
window after it, and so on (capped at SQS's 900 s: a longer wait simply checks again then).
Instances do not coordinate their bookings (the limiter alone decides who calls); booking only
keeps the queue from churning, and a delivery that finds its window full again is booked anew.

Cost (DynamoDB on-demand, see `eventrelay.ratelimit`): a call through a limited connector costs one
conditional UpdateItem on the limits table (1 WRU; plus 1 once per window that sees traffic, at its
rollover). A refusal costs 1 WRU for the first in an instance per window, then nothing until the
window resets (the limiter remembers it), plus the SendMessage that puts the delivery back.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from eventrelay.connectors.models import Connector, RateLimit
from eventrelay.delivery.schedule import MAX_SQS_DELAY_SECONDS
from eventrelay.errors import DependencyFailure
from eventrelay.observability import logger
from eventrelay.ratelimit import (
    FixedWindowRateLimiter,
    Granularity,
    HitResult,
    LimitKind,
    RateLimitItem,
    WindowStats,
)

# (tenant, connector) pairs whose bookings this instance remembers; beyond it the oldest is
# dropped, which only makes its next refusals start again from the first window after the reset.
_BOOKING_MEMORY = 1024


def limit_items(rate_limit: RateLimit) -> tuple[RateLimitItem, ...]:
    """The limiter's items for a connector's rate limit (second and/or minute windows)."""
    items: list[RateLimitItem] = []
    if rate_limit.per_second is not None:
        items.append(RateLimitItem(rate_limit.per_second, Granularity.SECOND))
    if rate_limit.per_minute is not None:
        items.append(RateLimitItem(rate_limit.per_minute, Granularity.MINUTE))
    return tuple(items)


class Pace(StrEnum):
    UNLIMITED = "UNLIMITED"  # the connector has no rate limit: nothing was counted
    ADMITTED = "ADMITTED"  # counted in the connector's windows: the call may be made now
    REFUSED = "REFUSED"  # no room: try again after `wait_seconds`


@dataclass(frozen=True)
class Slot:
    """What `take` decided; an ADMITTED slot holds the limiter's hit (to give back if unused)."""

    pace: Pace
    hit: HitResult | None = None
    wait_seconds: int = 0


UNLIMITED = Slot(Pace.UNLIMITED)


class ConnectorPacer:
    """Takes a slot in a connector's windows before a call (thread-safe; one per process)."""

    def __init__(self, limiter: FixedWindowRateLimiter) -> None:
        self._limiter = limiter
        self._lock = threading.Lock()
        # (tenant, connector) -> the next window handed to a waiting delivery (insertion-ordered:
        # the least recently refused pair is dropped first)
        self._booking: dict[tuple[str, str], _Booking] = {}

    def take(self, tenant_id: str, connector: Connector) -> Slot:
        """Count one call of `connector`, or refuse with the wait until a window has room.

        Raises DependencyFailure when the limits table cannot be reached (the message is retried).
        """
        if connector.rate_limit is None:
            return UNLIMITED
        items = limit_items(connector.rate_limit)
        hit = self._limiter.hit(tenant_id, LimitKind.OUTBOUND, items, scope=connector.name)
        if hit.admitted:
            return Slot(Pace.ADMITTED, hit)
        return Slot(Pace.REFUSED, hit, self._spread_wait(tenant_id, connector.name, hit))

    def give_back(self, slot: Slot) -> None:
        """Uncount an admitted slot whose call was not made. Best effort: a failure is logged and the
        slot stays counted (the connector loses one call in that window, never gains one)."""
        if slot.pace is not Pace.ADMITTED or slot.hit is None:
            return
        try:
            self._limiter.refund(slot.hit)
        except DependencyFailure:
            logger.warning(
                "could not give back an unused rate limit slot",
                extra={"tenant_id": slot.hit.tenant_id, "connector": slot.hit.scope},
            )

    def _spread_wait(self, tenant_id: str, connector_name: str, refusal: HitResult) -> int:
        """Seconds until the window this refusal is handed: this instance's waiting deliveries of a
        (tenant, connector) take the windows after the exceeded one's reset in turn, `amount` each."""
        window = _deciding_window(refusal.exceeded)
        length, amount = window.limit_item.window_seconds, max(1, window.limit_item.amount)
        key = (tenant_id, connector_name)
        with self._lock:
            booked = self._booking.pop(key, None)
            if booked is None or booked.length != length or booked.start < window.reset_at:
                booked = _Booking(window.reset_at, length, 0)
            handed = booked.start
            booked = booked.one_more(amount)
            self._booking[key] = booked
            while len(self._booking) > _BOOKING_MEMORY:
                self._booking.pop(next(iter(self._booking)))
        return max(1, min(MAX_SQS_DELAY_SECONDS, math.ceil(handed - refusal.at)))


@dataclass(frozen=True)
class _Booking:
    """The next window this instance hands a waiting delivery of one (tenant, connector), and how
    many it has handed that window already."""

    start: int
    length: int
    handed: int

    def one_more(self, amount: int) -> _Booking:
        if self.handed + 1 >= amount:
            return _Booking(self.start + self.length, self.length, 0)
        return _Booking(self.start, self.length, self.handed + 1)


def _deciding_window(exceeded: Sequence[WindowStats]) -> WindowStats:
    """The exceeded window that resets last: no call can be made before it resets."""
    return max(exceeded, key=lambda window: window.reset_at)
