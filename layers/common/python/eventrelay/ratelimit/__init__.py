"""Per-tenant fixed-window rate limits, exact across every Lambda instance.

This docstring is the limiter's design document: usage, windows, storage, algorithm and cost.

Usage (the publish path)::

    limiter = FixedWindowRateLimiter(settings.limits_table, dynamodb_client(settings.region))
    result = limiter.hit(tenant_id, LimitKind.SYNC, effective_limits)   # DEFAULT_LIMITS[kind] or override
    if not result:
        raise RateLimited(result.refusal_description(), result.headers())   # 1006 + Retry-After
    try:
        accept(event)
    except Exception:
        limiter.refund(result)   # a call the service failed to accept consumes nothing
        raise
    response.headers.update(result.headers())

Usage (a connector's outbound pacing, `eventrelay.delivery.pacing`): the windows are counted per
tenant and connector, `limiter.hit(tenant_id, LimitKind.OUTBOUND, connector_limits, scope=name)`
with per-second and/or per-minute items; a refused delivery waits on the queue (`retry_after`).

Windows
    Fixed, aligned to UTC clock boundaries: start = floor(epoch / length) * length (second 1 s,
    minute 60 s, hour 3,600 s, day 86,400 s; epoch days are UTC days). A burst of up to 2× a limit
    across a boundary is inherent to fixed windows. Defaults: SYNC 100 per minute and 50,000 per
    day; ASYNC 10 per hour and 100 per day (OUTBOUND has none: a connector's own limit). The caller
    passes the effective limits (defaults or a tenant's override). Two limits on the same window
    length collapse to the stricter one; an empty list admits without counting.

Storage
    One item per (tenant, kind) in the limits table, pk = "sync#<tenantId>" / "async#<tenantId>"
    (per (tenant, connector) for outbound calls: "outbound#<tenantId>#<connector>"),
    holding every window of that kind: `<window>_start` (N, epoch seconds) and `<window>_count` (N),
    e.g. minute_start, minute_count, day_start, day_count (second_*, hour_*, or "<seconds>s_*" for
    other lengths), and `expiresAt` = end of the longest window + 1 hour (TTL). The window's start is
    compared on every write, so TTL lag never matters: a stale window's count is never used.

Algorithm
    Fast path: one UpdateItem adding 1 to every window's count, on condition that every stored start
    is the current one and every count is below its limit. On ConditionalCheckFailed the old item comes
    back with the error (ReturnValuesOnConditionCheckFailure=ALL_OLD, no extra read); then:
      - a current window at its limit → refused, nothing written;
      - a window missing or stale → one UpdateItem that starts it afresh (start = current, count = 1)
        on condition it is still missing/stale, while adding 1 to the current windows on condition
        they still have room; repeated (at most 20 attempts) while other writers change the item.
    So a call is admitted only if every window has room, atomically, and a refused call consumes
    nothing. A stored start ahead of this instance's clock (clock skew near a boundary) is counted
    as it stands: windows never move backwards.
    After a refusal this instance remembers "(tenant, kind) exhausted until <reset of the latest
    exceeded window>" and refuses without calling DynamoDB until then (at most CACHED_REFUSALS such
    refusals per instance, least recently used evicted: eviction only costs one more write).
    Consequence: an override raised mid-window applies, on instances that cached a refusal, only
    after that reset.
    `refund(hit)` decrements the windows that still are the ones the hit counted in (conditional on
    their start), never below 0.
    Failures: the limiter speaks to DynamoDB through `eventrelay.dynamodb.Table`, so a failed
    condition is a domain result (`ConditionFailed` with the old item) and every other botocore or
    network error becomes eventrelay.errors.DependencyFailure (fail closed: the caller answers 1009).
    `refund` raises it too; a caller already answering 1009 should log it and carry on (the call
    then stays counted).
    Exactness holds for every request DynamoDB answers. If the SDK retries an increment whose response
    was lost (timeout, connection reset), the call may be counted twice: a tenant can lose one call,
    never gain one.

Cost model (DynamoDB on-demand; the item is ~150 bytes, so every write is 1 WRU and a read 1 RRU)
    - admitted call, common case: 1 write (the fast path), no read;
    - first call of a new window for a (tenant, kind) (rollover, or item new/expired): 1 extra write
      (the failed fast path, 1 WRU, plus the rollover write), once per window that sees traffic;
      instances racing at the boundary may each pay that extra failed write once;
    - refused call: 1 write (failed conditional writes are charged, 1 WRU) for the first refusal in
      an instance, then 0 until the window resets;
    - refund: 1 write (plus 1 per window that rolled over meanwhile);
    - get_window_stats: 1 strongly consistent read (1 RRU).
    One item per (tenant, kind) is far below DynamoDB's per-item limit of 1,000 writes per second.
"""

from eventrelay.ratelimit.items import (
    DEFAULT_LIMITS,
    Granularity,
    HitResult,
    LimitKind,
    RateLimitItem,
    WindowStats,
    key_for,
)
from eventrelay.ratelimit.limiter import FixedWindowRateLimiter

__all__ = [
    "DEFAULT_LIMITS",
    "FixedWindowRateLimiter",
    "Granularity",
    "HitResult",
    "LimitKind",
    "RateLimitItem",
    "WindowStats",
    "key_for",
]
