"""A connector's rate limit as a model, and as the limiter's items and key (no AWS here)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from eventrelay.connectors.models import ConnectorSpec, RateLimit
from eventrelay.delivery.pacing import limit_items
from eventrelay.ratelimit import Granularity, LimitKind, RateLimitItem, key_for


def test_a_rate_limit_becomes_second_and_minute_windows() -> None:
    assert limit_items(RateLimit(per_second=5)) == (RateLimitItem(5, Granularity.SECOND),)
    assert limit_items(RateLimit(per_second=5, per_minute=100)) == (
        RateLimitItem(5, Granularity.SECOND),
        RateLimitItem(100, Granularity.MINUTE),
    )
    assert RateLimitItem(5, Granularity.SECOND).window_name == "second"
    assert RateLimitItem(5, Granularity.SECOND).window_start(1_000.75) == 1_000


@pytest.mark.parametrize(
    "values",
    [
        {},
        {"per_second": 0},
        {"per_minute": -1},
        {"per_second": 1001},
        {"per_minute": 60_001},
        {"per_hour": 1},
    ],
)
def test_a_rate_limit_needs_a_positive_bounded_value(values: dict[str, int]) -> None:
    with pytest.raises(ValidationError):
        RateLimit.model_validate(values)


def test_a_connector_is_not_paced_by_default_and_its_view_round_trips() -> None:
    assert ConnectorSpec(name="jira", base_url="https://jira.example").rate_limit is None
    limit = RateLimit(per_minute=30)
    assert limit.to_view() == {"perSecond": None, "perMinute": 30}
    assert RateLimit.from_view(limit.to_view()) == limit


def test_outbound_windows_are_keyed_per_tenant_and_connector() -> None:
    assert key_for("acme", LimitKind.OUTBOUND, "jira") == "outbound#acme#jira"
    assert key_for("acme", LimitKind.OUTBOUND, "slack") != key_for("acme", LimitKind.OUTBOUND, "jira")
    # The publish limits keep their keys.
    assert key_for("acme", LimitKind.SYNC) == "sync#acme"
