"""Fixed-window counters in DynamoDB: one item per (tenant, kind), one conditional write per call.

See the package docstring for the storage layout, the algorithm and the cost model.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from eventrelay.bounded_cache import BoundedCache
from eventrelay.dynamodb import ConditionFailed, Expression, Table
from eventrelay.errors import DependencyFailure
from eventrelay.ratelimit.items import (
    HitResult,
    LimitKind,
    RateLimitItem,
    WindowStats,
    key_for,
    latest_reset,
    normalize_limits,
    stats,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

Item = Mapping[str, Any]

EXPIRES_AT = "expiresAt"
# TTL only tidies the table: a window's start is part of what is compared, so a late deletion never
# lets a stale count be used. The margin keeps an item alive while clocks across instances disagree.
TTL_MARGIN_SECONDS = 3600
# Each retry is caused by another writer changing the item's shape (a rollover, or a window filling
# up); a handful is plenty. Beyond it the limiter fails closed rather than guess.
MAX_ATTEMPTS = 20
# Refusals remembered locally (one per exhausted (tenant, kind), ~1 KB each): at most this many,
# least recently used evicted; an evicted refusal only costs one more conditional write.
CACHED_REFUSALS = 4096


@dataclass(frozen=True)
class _Window:
    """One window of one call, as the next write will treat it.

    rolls: the stored window is missing or older than the current one, so the write starts it afresh
    (start = `start`, count = 1). Otherwise the write adds one to the stored count of window `start`.
    """

    limit: RateLimitItem
    start: int
    count: int | None  # stored count before this call; None while not yet observed (fast path)
    rolls: bool = False

    @property
    def name(self) -> str:
        return self.limit.window_name

    @property
    def stored_count(self) -> int:
        """The count this call would be added to (0 for a window that rolls over)."""
        return 0 if self.rolls else (self.count or 0)

    @property
    def full(self) -> bool:
        return self.stored_count + 1 > self.limit.amount

    def stats(self) -> WindowStats:
        return stats(self.limit, self.start, self.stored_count)


class FixedWindowRateLimiter:
    """Exact fixed-window limits shared by every instance, counted in the limits table.

    Thread-safe; create one per process and reuse it (it remembers refusals until their window resets).
    """

    def __init__(
        self,
        table_name: str,
        dynamodb: DynamoDBClient,
        clock: Callable[[], float] = time.time,
        refund_dynamodb: Callable[[], DynamoDBClient] | None = None,
    ) -> None:
        """`refund_dynamodb` gives the client refunds write with (called on the first refund): one
        with short attempts, so a refund still fits after a hung dependency used the invocation's
        time. None: refunds use `dynamodb`."""
        self._table = Table(table_name, dynamodb)
        self._table_name = table_name
        self._refund_dynamodb = refund_dynamodb
        self._refund_table: Table | None = None
        self._clock = clock
        self._exhausted: BoundedCache[tuple[str, LimitKind, str], HitResult] = BoundedCache(
            CACHED_REFUSALS, None, clock
        )

    # -- public API -------------------------------------------------------------------------------

    def hit(
        self, tenant_id: str, kind: LimitKind, limits: Sequence[RateLimitItem], scope: str = ""
    ) -> HitResult:
        """Count one call in every window of `limits`, or in none when any window is full.

        `scope` narrows the counters within (tenant, kind): OUTBOUND counts per connector name.
        Raises DependencyFailure when the limits table cannot be reached (the caller answers 1009).
        """
        items = normalize_limits(limits)
        now = self._clock()
        if not items:
            return HitResult(True, [], [], tenant_id=tenant_id, kind=kind, at=now, scope=scope)
        cached = self._cached_refusal(tenant_id, kind, scope, now)
        if cached is not None:
            return cached
        result = self._hit(tenant_id, kind, scope, items, now)
        if not result.admitted:
            self._remember_refusal(result)
        return result

    def refund(self, hit: HitResult) -> None:
        """Give back an admitted call the service failed to accept.

        Only windows still holding the hit's count are decremented (conditional on their start), never
        below zero. Idempotent per HitResult. Raises DependencyFailure when the table cannot be reached.
        """
        if not hit.admitted or hit.refunded:
            return
        now = self._clock()
        key = key_for(hit.tenant_id, hit.kind, hit.scope)
        targets = [window for window in hit.windows if window.reset_at > now]
        for _ in range(MAX_ATTEMPTS):
            if not targets:
                break
            try:
                self._decrement(key, targets)
                break
            except ConditionFailed as failed:
                # No old item: deleted meanwhile, or an emulator without ALL_OLD. Refunds are rare: read.
                item = failed.item
                if item is None:
                    item = self._refunds().get({"pk": key}, consistent=True)
                targets = [window for window in targets if _still_counts(item, window)]
        else:
            raise DependencyFailure("rate limit refund kept conflicting with other writers")
        hit.refunded = True
        self._exhausted.pop((hit.tenant_id, hit.kind, hit.scope))

    def get_window_stats(
        self, tenant_id: str, kind: LimitKind, limits: Sequence[RateLimitItem], scope: str = ""
    ) -> list[WindowStats]:
        """The current windows of (tenant, kind) without counting anything (one consistent read)."""
        items = normalize_limits(limits)
        if not items:
            return []
        now = self._clock()
        windows = _observe(items, now, self._get_item(key_for(tenant_id, kind, scope)))
        return [window.stats() for window in windows]

    # -- counting ---------------------------------------------------------------------------------

    def _hit(
        self, tenant_id: str, kind: LimitKind, scope: str, items: Sequence[RateLimitItem], now: float
    ) -> HitResult:
        key = key_for(tenant_id, kind, scope)
        # Fast path: assume the stored windows are the current ones; the condition checks it.
        windows = [_Window(item, item.window_start(now), None) for item in items]
        for _ in range(MAX_ATTEMPTS):
            try:
                counts = self._increment(key, windows)
            except ConditionFailed as failed:
                item: Item | None = failed.item
                if item is None and all(window.rolls for window in windows):
                    # A missing item satisfies that condition, so it exists after all (an emulator
                    # without ALL_OLD, or created meanwhile): read it.
                    item = self._get_item(key)
                windows = _observe(items, now, item)
                if any(window.full for window in windows):
                    return _refusal(tenant_id, kind, scope, windows, now)
                continue
            admitted = [stats(window.limit, window.start, counts[window.name]) for window in windows]
            return HitResult(True, admitted, [], tenant_id=tenant_id, kind=kind, at=now, scope=scope)
        raise DependencyFailure("rate limit counters kept changing; refusing rather than guessing")

    def _increment(self, key: str, windows: Sequence[_Window]) -> dict[str, int]:
        """One conditional UpdateItem counting the call in every window; returns the new counts."""
        expression = Expression()
        for window in windows:
            start_name = f"{window.name}_start"
            count_name = f"{window.name}_count"
            if window.rolls:
                expression.require(
                    expression.any_of(
                        expression.missing(start_name), expression.compare(start_name, "<", window.start)
                    )
                )
                expression.set(start_name, window.start).set(count_name, 1)
            else:
                expression.require(
                    expression.equals(start_name, window.start),
                    expression.compare(count_name, "<", window.limit.amount),
                )
                expression.increment(count_name, 1)
        longest_end = max(window.start + window.limit.window_seconds for window in windows)
        expression.set(EXPIRES_AT, longest_end + TTL_MARGIN_SECONDS)
        attributes = self._update(key, expression)
        return {window.name: _number(attributes, f"{window.name}_count") or 0 for window in windows}

    def _decrement(self, key: str, windows: Sequence[WindowStats]) -> None:
        expression = Expression()
        for window in windows:
            name = window.limit_item.window_name
            expression.require(
                expression.equals(f"{name}_start", window.start),
                expression.compare(f"{name}_count", ">", 0),
            )
            expression.increment(f"{name}_count", -1)
        self._refunds().update({"pk": key}, expression, returns="UPDATED_NEW")

    def _refunds(self) -> Table:
        if self._refund_table is None:
            client = self._refund_dynamodb() if self._refund_dynamodb is not None else None
            self._refund_table = self._table if client is None else Table(self._table_name, client)
        return self._refund_table

    # -- DynamoDB adapter -------------------------------------------------------------------------

    def _update(self, key: str, expression: Expression) -> Item:
        """The one write of a call: the new counts, or ConditionFailed with the item as it stood
        (ALL_OLD; a refusal with no item means the item does not exist)."""
        return self._table.update({"pk": key}, expression, returns="UPDATED_NEW")

    def _get_item(self, key: str) -> Item | None:
        return self._table.get({"pk": key}, consistent=True)

    # -- local memory of refusals -----------------------------------------------------------------

    def _cached_refusal(self, tenant_id: str, kind: LimitKind, scope: str, now: float) -> HitResult | None:
        cached = self._exhausted.get((tenant_id, kind, scope))
        if cached is None:
            return None
        refusal = cached.value
        return HitResult(
            False, refusal.windows, refusal.exceeded, tenant_id=tenant_id, kind=kind, at=now, scope=scope
        )

    def _remember_refusal(self, refusal: HitResult) -> None:
        # Kept until the latest exceeded window resets.
        until_reset = latest_reset(refusal.exceeded) - refusal.at
        if until_reset > 0:
            self._exhausted.put((refusal.tenant_id, refusal.kind, refusal.scope), refusal, until_reset)


def _observe(items: Sequence[RateLimitItem], now: float, item: Item | None) -> list[_Window]:
    """Each window as stored, or as rolling over when the stored one is missing or stale.

    A stored start AHEAD of this instance's clock (another instance's clock is slightly ahead near a
    boundary) is counted as it stands: windows never move backwards, so instances cannot ping-pong.
    """
    windows: list[_Window] = []
    for limit in items:
        ours = limit.window_start(now)
        stored_start = _number(item, f"{limit.window_name}_start")
        stored_count = _number(item, f"{limit.window_name}_count")
        if stored_start is None or stored_count is None or stored_start < ours:
            windows.append(_Window(limit, ours, 0, rolls=True))
        else:
            windows.append(_Window(limit, stored_start, stored_count))
    return windows


def _refusal(
    tenant_id: str, kind: LimitKind, scope: str, windows: Sequence[_Window], now: float
) -> HitResult:
    seen = [window.stats() for window in windows]
    exceeded = [stat for stat, window in zip(seen, windows, strict=True) if window.full]
    return HitResult(False, seen, exceeded, tenant_id=tenant_id, kind=kind, at=now, scope=scope)


def _still_counts(item: Item | None, window: WindowStats) -> bool:
    name = window.limit_item.window_name
    return _number(item, f"{name}_start") == window.start and (_number(item, f"{name}_count") or 0) > 0


def _number(item: Item | None, attribute: str) -> int | None:
    if item is None:
        return None
    value = item.get(attribute)
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
