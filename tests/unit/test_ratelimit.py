"""Window arithmetic, limit items, headers and descriptions of the rate limiter (no AWS)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from eventrelay.ratelimit import (
    DEFAULT_LIMITS,
    Granularity,
    HitResult,
    LimitKind,
    RateLimitItem,
    WindowStats,
    key_for,
)
from eventrelay.ratelimit.items import normalize_limits, stats, window_start

PER_MINUTE = RateLimitItem(100, Granularity.MINUTE)
PER_HOUR = RateLimitItem(10, Granularity.HOUR)
PER_DAY = RateLimitItem(50_000, Granularity.DAY)
# 2024-10-04 05:07:00 UTC: a minute start that is neither an hour nor a day start.
MINUTE_START = 20_000 * 86400 + 5 * 3600 + 7 * 60


def test_defaults_are_the_contracts_limits() -> None:
    assert [item.describe() for item in DEFAULT_LIMITS[LimitKind.SYNC]] == [
        "100 per 1 minute",
        "50000 per 1 day",
    ]
    assert [item.describe() for item in DEFAULT_LIMITS[LimitKind.ASYNC]] == ["10 per 1 hour", "100 per 1 day"]


def test_window_lengths_and_storage_names() -> None:
    assert [(item.window_seconds, item.window_name) for item in (PER_MINUTE, PER_HOUR, PER_DAY)] == [
        (60, "minute"),
        (3600, "hour"),
        (86400, "day"),
    ]
    five_minutes = RateLimitItem(20, Granularity.MINUTE, multiples=5)
    assert (five_minutes.window_seconds, five_minutes.window_name) == (300, "300s")
    assert five_minutes.describe() == "20 per 5 minute"


def test_the_last_millisecond_belongs_to_the_ending_window_and_the_boundary_to_the_next() -> None:
    boundary = MINUTE_START + 60
    assert PER_MINUTE.window_start(boundary - 0.001) == MINUTE_START
    assert PER_MINUTE.window_start(boundary) == boundary
    assert PER_HOUR.window_start(boundary - 0.001) == MINUTE_START - 7 * 60


def test_day_windows_start_at_utc_midnight() -> None:
    start = PER_DAY.window_start(datetime(2026, 11, 23, 23, 59, 59, 999000, tzinfo=UTC).timestamp())
    assert datetime.fromtimestamp(start, tz=UTC) == datetime(2026, 11, 23, tzinfo=UTC)
    assert PER_DAY.window_start(datetime(2026, 11, 24, tzinfo=UTC).timestamp()) == start + 86400


@given(
    now=st.floats(min_value=0, max_value=4_102_444_800, allow_nan=False),
    length=st.sampled_from([60, 3600, 86400, 300]),
)
def test_a_window_is_aligned_and_holds_its_instant(now: float, length: int) -> None:
    start = window_start(now, length)
    assert start % length == 0
    assert start <= now < start + length


def test_limit_items_refuse_nonsense() -> None:
    with pytest.raises(ValueError, match="negative"):
        RateLimitItem(-1, Granularity.MINUTE)
    with pytest.raises(ValueError, match="at least one"):
        RateLimitItem(1, Granularity.MINUTE, multiples=0)


def test_the_stricter_of_two_limits_on_one_window_wins_and_short_windows_come_first() -> None:
    assert normalize_limits([PER_DAY, RateLimitItem(5, Granularity.MINUTE), PER_MINUTE]) == (
        RateLimitItem(5, Granularity.MINUTE),
        PER_DAY,
    )


def test_key_names_the_kind_and_tenant() -> None:
    assert key_for("acme", LimitKind.SYNC) == "sync#acme"
    assert key_for("acme", LimitKind.ASYNC) == "async#acme"


def test_window_stats_never_report_negative_remaining() -> None:
    over = stats(RateLimitItem(3, Granularity.DAY), 0, 5)
    assert (over.count, over.remaining, over.reset_at, over.start) == (5, 0, 86400, 0)


def admitted(minute_count: int, day_count: int, at: float) -> HitResult:
    windows = [stats(PER_MINUTE, MINUTE_START, minute_count), stats(PER_DAY, MINUTE_START - 18420, day_count)]
    return HitResult(True, windows, [], tenant_id="acme", kind=LimitKind.SYNC, at=at)


def test_admitted_headers_describe_the_window_with_least_room() -> None:
    # Given a call 0.5 s into the minute with 99 left this minute and 49,999 today
    hit = admitted(1, 1, MINUTE_START + 0.5)
    # Then the minute is reported, its reset rounded up, and there is no Retry-After
    assert hit
    assert hit.headers() == {"RateLimit-Limit": "100", "RateLimit-Remaining": "99", "RateLimit-Reset": "60"}
    assert hit.retry_after is None
    assert hit.refusal_description() == ""


def test_the_day_is_reported_when_it_has_less_room_than_the_minute() -> None:
    hit = admitted(1, 49_990, MINUTE_START + 30)
    headers = hit.headers()
    assert (headers["RateLimit-Limit"], headers["RateLimit-Remaining"]) == ("50000", "10")
    assert headers["RateLimit-Reset"] == str(20_001 * 86400 - (MINUTE_START + 30))


def test_reset_is_at_least_one_second_inside_the_window() -> None:
    hit = admitted(5, 5, MINUTE_START + 59.9995)
    assert hit.headers()["RateLimit-Reset"] == "1"


def test_a_refusal_names_every_exceeded_window_and_waits_for_the_latest() -> None:
    # Given a call refused because both the minute and the day are full
    minute = stats(PER_MINUTE, MINUTE_START, 100)
    day = stats(PER_DAY, MINUTE_START - 18420, 50_000)
    at = MINUTE_START + 20.25
    hit = HitResult(False, [minute, day], [minute, day], tenant_id="acme", kind=LimitKind.SYNC, at=at)
    # Then Retry-After waits for the day (the latest reset), which is also the window reported
    assert not hit
    day_reset = str(20_001 * 86400 - MINUTE_START - 20)
    assert hit.headers() == {
        "RateLimit-Limit": "50000",
        "RateLimit-Remaining": "0",
        "RateLimit-Reset": day_reset,
        "Retry-After": day_reset,
    }
    assert hit.refusal_description() == "100 per 1 minute and 50000 per 1 day"


def test_a_minute_refusal_retries_after_the_minute() -> None:
    minute = stats(PER_MINUTE, MINUTE_START, 100)
    day = stats(PER_DAY, MINUTE_START - 18420, 100)
    hit = HitResult(False, [minute, day], [minute], at=MINUTE_START + 59.2)
    assert hit.headers()["Retry-After"] == "1"
    assert hit.headers()["RateLimit-Remaining"] == "0"
    assert hit.refusal_description() == "100 per 1 minute"


def test_no_limits_means_no_headers() -> None:
    assert HitResult(True, [], []).headers() == {}


def test_window_stats_are_plain_values() -> None:
    assert WindowStats(PER_MINUTE, 1, 99, MINUTE_START + 60) == stats(PER_MINUTE, MINUTE_START, 1)
