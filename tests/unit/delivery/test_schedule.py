"""The retry schedule: capped exponential backoff with jitter, Retry-After honoured and capped."""

from __future__ import annotations

import pytest

from eventrelay.delivery.schedule import MAX_SQS_DELAY_SECONDS, RetryPolicy, sqs_delay_seconds


def test_default_backoff_doubles_from_ten_seconds_up_to_fifteen_minutes() -> None:
    policy = RetryPolicy()
    assert [policy.backoff(n) for n in range(1, 9)] == [10, 20, 40, 80, 160, 320, 640, 900]
    assert policy.backoff(10_000) == 900


@pytest.mark.parametrize(("draw", "expected"), [(0.0, 40.0), (0.5, 30.0), (0.999999, 20.00002)])
def test_equal_jitter_keeps_half_the_backoff_at_least(draw: float, expected: float) -> None:
    policy = RetryPolicy(random=lambda: draw)
    assert policy.delay(3) == pytest.approx(expected)


def test_retry_after_is_honoured_and_capped() -> None:
    policy = RetryPolicy(random=lambda: 0.0)
    assert policy.delay(1, retry_after_seconds=120) == 120  # longer than the backoff: wait what was asked
    assert policy.delay(3, retry_after_seconds=5) == 40  # shorter: the backoff still applies
    assert policy.delay(1, retry_after_seconds=86_400) == 3600  # capped at an hour
    assert policy.delay(1, retry_after_seconds=float("inf")) == 10  # nonsense is ignored


def test_jitter_spreads_delays_within_bounds() -> None:
    policy = RetryPolicy()
    delays = {policy.delay(2) for _ in range(200)}
    assert all(10 <= d <= 20 for d in delays)
    assert len(delays) > 100


def test_policies_refuse_nonsense() -> None:
    with pytest.raises(ValueError, match="jitter"):
        RetryPolicy(jitter=2)
    with pytest.raises(ValueError, match="multiplier"):
        RetryPolicy(multiplier=0.5)


@pytest.mark.parametrize(
    ("wait", "seconds"),
    [
        (0, 0),
        (-3, 0),
        (0.2, 1),
        (12.0, 12),
        (12.01, 13),
        (899.5, 900),
        (3600, MAX_SQS_DELAY_SECONDS),
        (float("inf"), 900),
    ],
)
def test_sqs_delays_are_whole_seconds_within_the_sqs_limit(wait: float, seconds: int) -> None:
    assert sqs_delay_seconds(wait) == seconds
