"""The rate limiter against DynamoDB Local: exact counts under concurrency, windows, refunds, failures."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.config import Config

from eventrelay.aws import dynamodb_client
from eventrelay.errors import DependencyFailure
from eventrelay.ratelimit import (
    DEFAULT_LIMITS,
    FixedWindowRateLimiter,
    Granularity,
    HitResult,
    LimitKind,
    RateLimitItem,
    key_for,
)
from eventrelay.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

MINUTE, HOUR, DAY = 60, 3600, 86400
# 2079-07-08 (UTC day 40,000), 05:07:30 — well inside a minute, an hour and a day. In the future on
# purpose: DynamoDB Local's TTL sweeper (every ~10 s) deletes items whose expiresAt is in the real past,
# which would wipe counters mid-test if the controlled clock were in the past.
DAY_START = 40_000 * DAY
MID_DAY = DAY_START + 5 * HOUR + 7 * MINUTE + 30


class ManualClock:
    """A clock the test moves by hand."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def limits(per_minute: int, per_day: int) -> tuple[RateLimitItem, ...]:
    return (RateLimitItem(per_minute, Granularity.MINUTE), RateLimitItem(per_day, Granularity.DAY))


@pytest.fixture
def dynamodb(settings: Settings) -> DynamoDBClient:
    return dynamodb_client(settings.region)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(MID_DAY)


@pytest.fixture
def limiter(settings: Settings, dynamodb: DynamoDBClient, clock: ManualClock) -> FixedWindowRateLimiter:
    return FixedWindowRateLimiter(settings.limits_table, dynamodb, clock=clock)


@pytest.fixture
def dynamodb_calls(dynamodb: DynamoDBClient) -> Iterator[list[str]]:
    """Names of the DynamoDB operations the shared client sends while the test runs."""
    calls: list[str] = []

    def record(model: Any, **_: Any) -> None:
        calls.append(model.name)

    dynamodb.meta.events.register("before-call.dynamodb", record)
    try:
        yield calls
    finally:
        dynamodb.meta.events.unregister("before-call.dynamodb", record)


def stored(settings: Settings, dynamodb: DynamoDBClient, tenant_id: str, kind: LimitKind) -> dict[str, int]:
    """The numeric attributes of the (tenant, kind) item, read consistently."""
    item = dynamodb.get_item(
        TableName=settings.limits_table, Key={"pk": {"S": key_for(tenant_id, kind)}}, ConsistentRead=True
    ).get("Item", {})
    return {name: int(value["N"]) for name, value in item.items() if "N" in value}


@pytest.mark.slow
def test_concurrent_hits_across_instances_admit_exactly_the_minute_limit(
    settings: Settings, dynamodb: DynamoDBClient, clock: ManualClock, tenant_id: str
) -> None:
    # Given five "Lambda instances" sharing the table, with the clock fixed inside one minute
    instances = [FixedWindowRateLimiter(settings.limits_table, dynamodb, clock=clock) for _ in range(5)]
    start = threading.Event()

    def call(index: int) -> HitResult:
        start.wait(timeout=10)
        return instances[index % len(instances)].hit(
            tenant_id, LimitKind.SYNC, DEFAULT_LIMITS[LimitKind.SYNC]
        )

    # When 150 calls race for the 100 per minute
    with ThreadPoolExecutor(max_workers=40) as pool:
        futures = [pool.submit(call, index) for index in range(150)]
        start.set()
        results = [future.result(timeout=60) for future in futures]

    # Then exactly 100 are admitted, 50 refused with Retry-After, and the stored counts are exactly 100
    admitted = [result for result in results if result.admitted]
    refused = [result for result in results if not result.admitted]
    assert len(admitted) == 100
    assert len(refused) == 50
    minute_reset = MID_DAY - MID_DAY % MINUTE + MINUTE
    for result in refused:
        assert result.headers()["Retry-After"] == str(int(minute_reset - MID_DAY))
        assert result.refusal_description() == "100 per 1 minute"
    assert sorted(result.windows[0].count for result in admitted) == list(range(1, 101))
    item = stored(settings, dynamodb, tenant_id, LimitKind.SYNC)
    assert item["minute_count"] == 100
    assert item["day_count"] == 100
    assert item["minute_start"] == MID_DAY - MID_DAY % MINUTE
    assert item["day_start"] == DAY_START


def test_full_day_refuses_and_leaves_the_minute_unchanged(
    settings: Settings, dynamodb: DynamoDBClient, limiter: FixedWindowRateLimiter, tenant_id: str
) -> None:
    # Given a tenant allowed 5 per minute and 3 per day, with 3 calls made
    tenant_limits = limits(per_minute=5, per_day=3)
    assert all(limiter.hit(tenant_id, LimitKind.SYNC, tenant_limits) for _ in range(3))
    before = stored(settings, dynamodb, tenant_id, LimitKind.SYNC)
    # When a 4th call comes
    result = limiter.hit(tenant_id, LimitKind.SYNC, tenant_limits)
    # Then it is refused by the day window and no counter moved
    assert not result
    assert result.refusal_description() == "3 per 1 day"
    assert result.headers()["Retry-After"] == str(DAY_START + DAY - MID_DAY)
    assert stored(settings, dynamodb, tenant_id, LimitKind.SYNC) == before
    assert before["minute_count"] == 3
    assert before["day_count"] == 3


def test_full_minute_refuses_and_leaves_the_day_unchanged(
    settings: Settings, dynamodb: DynamoDBClient, limiter: FixedWindowRateLimiter, tenant_id: str
) -> None:
    # Given a tenant allowed 2 per minute and 100 per day, with 2 calls made
    tenant_limits = limits(per_minute=2, per_day=100)
    assert all(limiter.hit(tenant_id, LimitKind.SYNC, tenant_limits) for _ in range(2))
    before = stored(settings, dynamodb, tenant_id, LimitKind.SYNC)
    # When a 3rd call comes
    result = limiter.hit(tenant_id, LimitKind.SYNC, tenant_limits)
    # Then it is refused by the minute window, the day keeps its count, and the headers say so
    assert not result
    assert result.refusal_description() == "2 per 1 minute"
    assert result.headers() == {
        "RateLimit-Limit": "2",
        "RateLimit-Remaining": "0",
        "RateLimit-Reset": "30",
        "Retry-After": "30",
    }
    assert stored(settings, dynamodb, tenant_id, LimitKind.SYNC) == before
    assert before["day_count"] == 2


def test_admitted_calls_report_the_most_constraining_window(
    limiter: FixedWindowRateLimiter, tenant_id: str
) -> None:
    # Given the default synchronous limits
    # When one call is admitted
    result = limiter.hit(tenant_id, LimitKind.SYNC, DEFAULT_LIMITS[LimitKind.SYNC])
    # Then the headers describe the minute window (99 left of 100, resetting in 30 s), no Retry-After
    assert result.admitted
    assert result.headers() == {
        "RateLimit-Limit": "100",
        "RateLimit-Remaining": "99",
        "RateLimit-Reset": "30",
    }
    assert [(window.count, window.remaining) for window in result.windows] == [(1, 99), (1, 49_999)]


def test_minute_boundary_last_millisecond_refuses_and_next_admits_afresh(
    settings: Settings,
    dynamodb: DynamoDBClient,
    limiter: FixedWindowRateLimiter,
    clock: ManualClock,
    tenant_id: str,
) -> None:
    # Given a full minute window (2 per minute), at the last millisecond of that minute
    tenant_limits = limits(per_minute=2, per_day=1000)
    boundary = MID_DAY - MID_DAY % MINUTE + MINUTE
    clock.now = boundary - 0.001
    assert all(limiter.hit(tenant_id, LimitKind.SYNC, tenant_limits) for _ in range(2))
    refused = limiter.hit(tenant_id, LimitKind.SYNC, tenant_limits)
    assert not refused
    assert refused.headers()["Retry-After"] == "1"
    # When the next millisecond starts a new minute
    clock.now = boundary
    admitted = limiter.hit(tenant_id, LimitKind.SYNC, tenant_limits)
    # Then the call is admitted and counted in a fresh minute, while the day keeps counting
    assert admitted
    item = stored(settings, dynamodb, tenant_id, LimitKind.SYNC)
    assert (item["minute_start"], item["minute_count"]) == (boundary, 1)
    assert (item["day_start"], item["day_count"]) == (DAY_START, 3)


def test_day_boundary_utc_midnight_refuses_then_admits_afresh(
    settings: Settings,
    dynamodb: DynamoDBClient,
    limiter: FixedWindowRateLimiter,
    clock: ManualClock,
    tenant_id: str,
) -> None:
    # Given a full day window (2 per day), at the last millisecond of the UTC day
    tenant_limits = limits(per_minute=100, per_day=2)
    midnight = DAY_START + DAY
    clock.now = midnight - 0.001
    assert all(limiter.hit(tenant_id, LimitKind.SYNC, tenant_limits) for _ in range(2))
    refused = limiter.hit(tenant_id, LimitKind.SYNC, tenant_limits)
    assert not refused
    assert refused.refusal_description() == "2 per 1 day"
    assert refused.headers()["Retry-After"] == "1"
    # When UTC midnight comes
    clock.now = midnight
    # Then the call is admitted and both windows start afresh
    assert limiter.hit(tenant_id, LimitKind.SYNC, tenant_limits)
    item = stored(settings, dynamodb, tenant_id, LimitKind.SYNC)
    assert (item["day_start"], item["day_count"]) == (midnight, 1)
    assert (item["minute_start"], item["minute_count"]) == (midnight, 1)


def test_hour_boundary_for_bulk_calls_refuses_then_admits_afresh(
    settings: Settings,
    dynamodb: DynamoDBClient,
    limiter: FixedWindowRateLimiter,
    clock: ManualClock,
    tenant_id: str,
) -> None:
    # Given the default bulk limits (10 per hour, 100 per day) used up for this hour, at its last ms
    hour_end = MID_DAY - MID_DAY % HOUR + HOUR
    clock.now = hour_end - 0.001
    bulk = DEFAULT_LIMITS[LimitKind.ASYNC]
    assert all(limiter.hit(tenant_id, LimitKind.ASYNC, bulk) for _ in range(10))
    refused = limiter.hit(tenant_id, LimitKind.ASYNC, bulk)
    assert not refused
    assert refused.refusal_description() == "10 per 1 hour"
    # When the next hour starts
    clock.now = hour_end
    # Then a bulk call is admitted in a fresh hour; the day counts 11; sync windows are untouched
    assert limiter.hit(tenant_id, LimitKind.ASYNC, bulk)
    item = stored(settings, dynamodb, tenant_id, LimitKind.ASYNC)
    assert (item["hour_start"], item["hour_count"]) == (hour_end, 1)
    assert (item["day_start"], item["day_count"]) == (DAY_START, 11)
    assert stored(settings, dynamodb, tenant_id, LimitKind.SYNC) == {}


def test_stale_windows_left_by_ttl_lag_never_block(
    settings: Settings, dynamodb: DynamoDBClient, limiter: FixedWindowRateLimiter, tenant_id: str
) -> None:
    # Given an item TTL has not deleted yet: yesterday's windows with huge counts, expired long ago
    yesterday = DAY_START - DAY
    dynamodb.put_item(
        TableName=settings.limits_table,
        Item={
            "pk": {"S": key_for(tenant_id, LimitKind.SYNC)},
            "minute_start": {"N": str(yesterday + 600)},
            "minute_count": {"N": "1000000"},
            "day_start": {"N": str(yesterday)},
            "day_count": {"N": "1000000000"},
            "expiresAt": {"N": str(yesterday)},
        },
    )
    # When a call comes today
    result = limiter.hit(tenant_id, LimitKind.SYNC, DEFAULT_LIMITS[LimitKind.SYNC])
    # Then it is admitted and both windows start afresh, with a TTL after today's end
    assert result.admitted
    item = stored(settings, dynamodb, tenant_id, LimitKind.SYNC)
    assert (item["minute_count"], item["day_count"]) == (1, 1)
    assert item["expiresAt"] > DAY_START + DAY


def test_stale_minute_rolls_over_while_the_current_day_keeps_its_count(
    settings: Settings, dynamodb: DynamoDBClient, limiter: FixedWindowRateLimiter, tenant_id: str
) -> None:
    # Given an earlier minute with a huge count and today's day window at 7
    dynamodb.put_item(
        TableName=settings.limits_table,
        Item={
            "pk": {"S": key_for(tenant_id, LimitKind.SYNC)},
            "minute_start": {"N": str(DAY_START)},
            "minute_count": {"N": "5000"},
            "day_start": {"N": str(DAY_START)},
            "day_count": {"N": "7"},
        },
    )
    # When a call comes
    assert limiter.hit(tenant_id, LimitKind.SYNC, DEFAULT_LIMITS[LimitKind.SYNC])
    # Then the minute starts afresh and the day counts on
    item = stored(settings, dynamodb, tenant_id, LimitKind.SYNC)
    assert (item["minute_start"], item["minute_count"]) == (MID_DAY - MID_DAY % MINUTE, 1)
    assert item["day_count"] == 8


def test_a_window_started_by_a_clock_slightly_ahead_is_never_moved_back(
    settings: Settings,
    dynamodb: DynamoDBClient,
    clock: ManualClock,
    tenant_id: str,
) -> None:
    # Given an instance whose clock is 2 ms ahead started the next minute, at the boundary
    boundary = MID_DAY - MID_DAY % MINUTE + MINUTE
    ahead = FixedWindowRateLimiter(settings.limits_table, dynamodb, clock=lambda: boundary + 0.001)
    behind = FixedWindowRateLimiter(settings.limits_table, dynamodb, clock=clock)
    clock.now = boundary - 0.001
    tenant_limits = limits(per_minute=5, per_day=100)
    assert ahead.hit(tenant_id, LimitKind.SYNC, tenant_limits)
    # When an instance whose clock is still in the previous minute is called
    result = behind.hit(tenant_id, LimitKind.SYNC, tenant_limits)
    # Then it counts in the window as stored (the new minute) instead of rolling it back
    assert result.admitted
    assert result.windows[0].start == boundary
    item = stored(settings, dynamodb, tenant_id, LimitKind.SYNC)
    assert (item["minute_start"], item["minute_count"]) == (boundary, 2)


def test_refund_gives_the_call_back_in_every_window(
    settings: Settings, dynamodb: DynamoDBClient, limiter: FixedWindowRateLimiter, tenant_id: str
) -> None:
    # Given two admitted calls
    first = limiter.hit(tenant_id, LimitKind.SYNC, DEFAULT_LIMITS[LimitKind.SYNC])
    assert limiter.hit(tenant_id, LimitKind.SYNC, DEFAULT_LIMITS[LimitKind.SYNC])
    # When the first is refunded (twice, as a careless caller might)
    limiter.refund(first)
    limiter.refund(first)
    # Then each window counts one call
    item = stored(settings, dynamodb, tenant_id, LimitKind.SYNC)
    assert (item["minute_count"], item["day_count"]) == (1, 1)


def test_refund_after_the_minute_rolled_over_only_gives_back_the_day(
    settings: Settings,
    dynamodb: DynamoDBClient,
    limiter: FixedWindowRateLimiter,
    clock: ManualClock,
    tenant_id: str,
) -> None:
    # Given a call admitted in one minute and another admitted in the next minute
    early = limiter.hit(tenant_id, LimitKind.SYNC, DEFAULT_LIMITS[LimitKind.SYNC])
    clock.now += MINUTE
    assert limiter.hit(tenant_id, LimitKind.SYNC, DEFAULT_LIMITS[LimitKind.SYNC])
    # When the early call is refunded
    limiter.refund(early)
    # Then the new minute keeps its call and only the day goes down
    item = stored(settings, dynamodb, tenant_id, LimitKind.SYNC)
    assert item["minute_start"] == early.windows[0].start + MINUTE
    assert (item["minute_count"], item["day_count"]) == (1, 1)


def test_refund_is_conditional_on_the_stored_window_not_on_the_local_clock(
    settings: Settings,
    dynamodb: DynamoDBClient,
    limiter: FixedWindowRateLimiter,
    tenant_id: str,
) -> None:
    # Given a call admitted here, then another instance (clock in the next minute) rolled the minute
    early = limiter.hit(tenant_id, LimitKind.SYNC, DEFAULT_LIMITS[LimitKind.SYNC])
    next_minute = early.windows[0].reset_at
    other = FixedWindowRateLimiter(settings.limits_table, dynamodb, clock=lambda: next_minute + 1)
    assert other.hit(tenant_id, LimitKind.SYNC, DEFAULT_LIMITS[LimitKind.SYNC])
    # When this instance, whose clock is still in the old minute, refunds its call
    limiter.refund(early)
    # Then the other instance's minute keeps its call and only the day goes down
    item = stored(settings, dynamodb, tenant_id, LimitKind.SYNC)
    assert (item["minute_start"], item["minute_count"]) == (next_minute, 1)
    assert item["day_count"] == 1


def test_refund_never_goes_below_zero(
    settings: Settings, dynamodb: DynamoDBClient, limiter: FixedWindowRateLimiter, tenant_id: str
) -> None:
    # Given an admitted call whose counters were reset to zero behind the limiter's back
    hit = limiter.hit(tenant_id, LimitKind.SYNC, DEFAULT_LIMITS[LimitKind.SYNC])
    dynamodb.update_item(
        TableName=settings.limits_table,
        Key={"pk": {"S": key_for(tenant_id, LimitKind.SYNC)}},
        UpdateExpression="SET minute_count = :zero",
        ExpressionAttributeValues={":zero": {"N": "0"}},
    )
    # When it is refunded
    limiter.refund(hit)
    # Then the zero stays zero and the day is given back
    item = stored(settings, dynamodb, tenant_id, LimitKind.SYNC)
    assert (item["minute_count"], item["day_count"]) == (0, 0)


def test_refund_frees_room_for_the_next_call_in_the_same_instance(
    limiter: FixedWindowRateLimiter, tenant_id: str
) -> None:
    # Given 1 per minute: a call admitted, the next refused (and remembered as exhausted)
    tenant_limits = limits(per_minute=1, per_day=100)
    first = limiter.hit(tenant_id, LimitKind.SYNC, tenant_limits)
    assert first
    assert not limiter.hit(tenant_id, LimitKind.SYNC, tenant_limits)
    # When the first is refunded
    limiter.refund(first)
    # Then the next call is admitted
    assert limiter.hit(tenant_id, LimitKind.SYNC, tenant_limits)


def test_refusals_are_remembered_until_the_window_resets(
    limiter: FixedWindowRateLimiter, clock: ManualClock, dynamodb_calls: list[str], tenant_id: str
) -> None:
    # Given 1 per minute, one call admitted, then one refused by a single failed conditional write
    tenant_limits = limits(per_minute=1, per_day=100)
    assert limiter.hit(tenant_id, LimitKind.SYNC, tenant_limits)
    dynamodb_calls.clear()
    assert not limiter.hit(tenant_id, LimitKind.SYNC, tenant_limits)
    assert dynamodb_calls == ["UpdateItem"]
    # When more calls come in the same minute
    later = [limiter.hit(tenant_id, LimitKind.SYNC, tenant_limits) for _ in range(3)]
    clock.now += 10
    last = limiter.hit(tenant_id, LimitKind.SYNC, tenant_limits)
    # Then they are refused without calling DynamoDB, with a Retry-After counting down
    assert not any(later)
    assert not last
    assert last.headers()["Retry-After"] == "20"
    assert dynamodb_calls == ["UpdateItem"]
    # And the first call after the reset asks DynamoDB again and is admitted in the new minute
    clock.now = MID_DAY - MID_DAY % MINUTE + MINUTE
    assert limiter.hit(tenant_id, LimitKind.SYNC, tenant_limits)
    assert len(dynamodb_calls) > 1
    assert set(dynamodb_calls) == {"UpdateItem"}


def test_an_admitted_call_in_a_current_window_costs_one_write(
    limiter: FixedWindowRateLimiter, dynamodb_calls: list[str], tenant_id: str
) -> None:
    # Given a tenant whose windows already exist
    assert limiter.hit(tenant_id, LimitKind.SYNC, DEFAULT_LIMITS[LimitKind.SYNC])
    dynamodb_calls.clear()
    # When another call comes in the same minute
    assert limiter.hit(tenant_id, LimitKind.SYNC, DEFAULT_LIMITS[LimitKind.SYNC])
    # Then exactly one DynamoDB request was made: the conditional increment
    assert dynamodb_calls == ["UpdateItem"]


def test_the_first_call_of_a_new_minute_costs_one_extra_write_and_no_read(
    limiter: FixedWindowRateLimiter, clock: ManualClock, dynamodb_calls: list[str], tenant_id: str
) -> None:
    # Given a tenant whose windows exist for this minute
    assert limiter.hit(tenant_id, LimitKind.SYNC, DEFAULT_LIMITS[LimitKind.SYNC])
    dynamodb_calls.clear()
    # When the first call of the next minute comes
    clock.now += MINUTE
    assert limiter.hit(tenant_id, LimitKind.SYNC, DEFAULT_LIMITS[LimitKind.SYNC])
    # Then the failed fast path returned the old item itself: one rollover write, no GetItem
    assert dynamodb_calls == ["UpdateItem", "UpdateItem"]


def test_a_zero_limit_refuses_without_counting(
    settings: Settings, dynamodb: DynamoDBClient, limiter: FixedWindowRateLimiter, tenant_id: str
) -> None:
    # Given a tenant whose override allows no bulk calls today
    blocked = (RateLimitItem(10, Granularity.HOUR), RateLimitItem(0, Granularity.DAY))
    # When a bulk call comes
    result = limiter.hit(tenant_id, LimitKind.ASYNC, blocked)
    # Then it is refused by the day window and nothing is stored
    assert not result
    assert result.refusal_description() == "0 per 1 day"
    assert stored(settings, dynamodb, tenant_id, LimitKind.ASYNC) == {}


def test_window_stats_read_without_counting(
    limiter: FixedWindowRateLimiter, dynamodb_calls: list[str], tenant_id: str
) -> None:
    # Given three admitted calls
    for _ in range(3):
        assert limiter.hit(tenant_id, LimitKind.SYNC, DEFAULT_LIMITS[LimitKind.SYNC])
    dynamodb_calls.clear()
    # When the window stats are read twice
    first = limiter.get_window_stats(tenant_id, LimitKind.SYNC, DEFAULT_LIMITS[LimitKind.SYNC])
    second = limiter.get_window_stats(tenant_id, LimitKind.SYNC, DEFAULT_LIMITS[LimitKind.SYNC])
    # Then both report 3 used, and only reads were made
    assert first == second
    assert [(stats.count, stats.remaining) for stats in first] == [(3, 97), (3, 49_997)]
    assert first[0].reset_at == MID_DAY - MID_DAY % MINUTE + MINUTE
    assert dynamodb_calls == ["GetItem", "GetItem"]


def test_unreachable_dynamodb_fails_closed(settings: Settings, tenant_id: str) -> None:
    # Given a DynamoDB endpoint nobody listens on
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = boto3.session.Session().client(
        "dynamodb",
        region_name=settings.region,
        endpoint_url=f"http://127.0.0.1:{port}",
        config=Config(connect_timeout=0.2, read_timeout=0.2, retries={"total_max_attempts": 1}),
    )
    limiter = FixedWindowRateLimiter(settings.limits_table, client, clock=ManualClock(MID_DAY))
    # When a call is counted, Then DependencyFailure is raised (the caller answers 1009)
    with pytest.raises(DependencyFailure):
        limiter.hit(tenant_id, LimitKind.SYNC, DEFAULT_LIMITS[LimitKind.SYNC])


def test_dynamodb_errors_other_than_a_failed_condition_fail_closed(
    dynamodb: DynamoDBClient, tenant_id: str
) -> None:
    # Given a limiter pointed at a table that does not exist
    limiter = FixedWindowRateLimiter("no-such-limits-table", dynamodb, clock=ManualClock(MID_DAY))
    # When a call is counted, Then DependencyFailure is raised rather than admitting or refusing
    with pytest.raises(DependencyFailure):
        limiter.hit(tenant_id, LimitKind.SYNC, DEFAULT_LIMITS[LimitKind.SYNC])
