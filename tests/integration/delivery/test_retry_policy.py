"""Retry policy: which outcomes are retried, how many attempts, and how they are spaced.

Delays are asserted on what the runner asked SQS for (DelaySeconds) and on the attempts' start
times under the controlled clock. Jitter is pinned at 0.5, so each backoff delay is 0.75 x
(10 s, 20 s, 40 s, ...): 7.5 s -> 8 s, 15 s, 30 s, 60 s, 120 s as SQS whole seconds.
"""

from __future__ import annotations

import itertools
import json
import socket
import threading
from collections.abc import Iterator

import pytest

from eventrelay.delivery.models import AttemptOutcome, DeliveryState
from eventrelay.delivery.schedule import RetryPolicy
from eventrelay.outbound.client import OutboundClient
from eventrelay.outbound.ssrf import SsrfGuard
from eventrelay.settings import Settings
from tests.support.api import ControlledClock
from tests.support.delivery import Harness
from tests.support.http_servers import RecordedRequest, RecordingServer, Reply

BACKOFF_DELAYS = [8, 15, 30, 60, 120]


def always(status: int, headers: dict[str, str] | None = None) -> RecordingServer:
    return RecordingServer(lambda _request: Reply(status=status, headers=headers or {}, body=b"{}"))


def deliver_once(harness: Harness, tenant_id: str, base_url: str, max_retries: int = 3) -> tuple[object, str]:
    harness.connector(tenant_id, base_url)
    harness.action(tenant_id, name="hook", url="/hook", payload='{"n": {{n}}}', maxRetries=max_retries)
    harness.rule(tenant_id, name="hook", action="hook", mapping={"n": "$.n"})
    envelope = harness.envelope(tenant_id, {"n": 1})
    harness.publish(envelope)
    harness.pump()
    return envelope, harness.delivery_of(envelope, "hook").delivery_id


def spacing(harness: Harness, envelope: object) -> list[float]:
    attempts = harness.attempts_of(envelope, "hook")  # type: ignore[arg-type]
    return [round(b.started_at - (a.finished_at or 0), 3) for a, b in itertools.pairwise(attempts)]


@pytest.mark.parametrize("status", [500, 502, 503, 504, 408])
def test_retryable_statuses_get_one_plus_max_retries_attempts_on_the_backoff_schedule(
    harness: Harness, tenant_id: str, status: int
) -> None:
    with always(status) as server:
        envelope, delivery_id = deliver_once(harness, tenant_id, server.url(), max_retries=3)
        assert len(server.requests) == 4
    attempts = harness.attempts_of(envelope, "hook")  # type: ignore[arg-type]
    assert [(a.attempt, a.outcome, a.status_code) for a in attempts] == [
        (n, AttemptOutcome.RETRYABLE, status) for n in range(1, 5)
    ]
    assert [m.delay_seconds for m in harness.queue.sent_for(delivery_id)] == BACKOFF_DELAYS[:3]
    assert spacing(harness, envelope) == BACKOFF_DELAYS[:3]
    delivery = harness.deliveries.get(delivery_id)
    assert delivery is not None
    assert (delivery.state, delivery.attempts) == (DeliveryState.FAILED, 4)


def test_429_waits_as_long_as_retry_after_asks(harness: Harness, tenant_id: str) -> None:
    with always(429, {"Retry-After": "120"}) as server:
        envelope, delivery_id = deliver_once(harness, tenant_id, server.url(), max_retries=3)
        assert len(server.requests) == 4
    assert [m.delay_seconds for m in harness.queue.sent_for(delivery_id)] == [120, 120, 120]
    assert spacing(harness, envelope) == [120, 120, 120]
    assert [a.retry_after_seconds for a in harness.attempts_of(envelope, "hook")] == [120.0] * 4  # type: ignore[arg-type]


def test_a_retry_after_longer_than_sqs_can_delay_is_capped_and_re_delayed(
    harness: Harness, tenant_id: str
) -> None:
    # Given a target asking for two hours (capped at one hour; SQS delays at most 15 minutes)
    with always(429, {"Retry-After": "7200"}) as server:
        envelope, delivery_id = deliver_once(harness, tenant_id, server.url(), max_retries=1)
        assert len(server.requests) == 2
    # Then the retry waited the capped hour, in four hops of 15 minutes, and the runner never slept
    sent = harness.queue.sent_for(delivery_id)
    assert [(m.body["reason"], m.delay_seconds) for m in sent] == [
        ("retry", 900),
        ("delay", 900),
        ("delay", 900),
        ("delay", 900),
    ]
    assert spacing(harness, envelope) == [3600]


def test_timeouts_are_retried(
    settings: Settings, clock: ControlledClock, queue_url: str, tenant_id: str
) -> None:
    release = threading.Event()

    def too_slow(_request: RecordedRequest) -> Reply:
        release.wait(1)
        return Reply()

    fast_timeouts = OutboundClient(
        SsrfGuard("127.0.0.0/8"), connect_timeout=0.5, read_timeout=0.15, deadline=1
    )
    harness = Harness(settings, clock, queue_url, RetryPolicy(random=lambda: 0.5), fast_timeouts)
    try:
        with RecordingServer(too_slow) as server:
            envelope, delivery_id = deliver_once(harness, tenant_id, server.url(), max_retries=2)
            release.set()
            assert len(server.requests) == 3
        attempts = harness.attempts_of(envelope, "hook")  # type: ignore[arg-type]
        assert [(a.outcome, a.status_code, a.error) for a in attempts] == [
            (AttemptOutcome.RETRYABLE, None, "read timeout")
        ] * 3
        assert [m.delay_seconds for m in harness.queue.sent_for(delivery_id)] == BACKOFF_DELAYS[:2]
    finally:
        harness.runner.close()
        fast_timeouts.close()


@pytest.fixture
def closed_port() -> Iterator[int]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        yield probe.getsockname()[1]


def test_connection_errors_are_retried(harness: Harness, tenant_id: str, closed_port: int) -> None:
    envelope, _ = deliver_once(harness, tenant_id, f"http://127.0.0.1:{closed_port}", max_retries=1)
    attempts = harness.attempts_of(envelope, "hook")  # type: ignore[arg-type]
    assert [(a.outcome, a.error) for a in attempts] == [
        (AttemptOutcome.RETRYABLE, "connection error (ConnectionRefusedError)")
    ] * 2


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_client_errors_fail_at_once(harness: Harness, tenant_id: str, status: int) -> None:
    with always(status) as server:
        envelope, delivery_id = deliver_once(harness, tenant_id, server.url(), max_retries=5)
        assert len(server.requests) == 1
    [attempt] = harness.attempts_of(envelope, "hook")  # type: ignore[arg-type]
    assert (attempt.outcome, attempt.status_code, attempt.error) == (
        AttemptOutcome.PERMANENT,
        status,
        f"HTTP {status}",
    )
    assert harness.queue.sent_for(delivery_id) == []
    delivery = harness.deliveries.get(delivery_id)
    assert delivery is not None
    assert delivery.state is DeliveryState.FAILED


def test_a_401_on_oauth_refreshes_the_token_once_then_counts_as_one_failed_attempt(
    harness: Harness, tenant_id: str
) -> None:
    # Given an OAuth connector whose token endpoint hands out tokens and a target that refuses them all
    issued = itertools.count(1)

    def answer(request: RecordedRequest) -> Reply:
        if request.path == "/token":
            token = json.dumps(
                {"access_token": f"tok-{next(issued)}", "token_type": "Bearer", "expires_in": 3600}
            )
            return Reply(body=token.encode())
        return Reply(status=401, body=b'{"error": "invalid_token"}')

    with RecordingServer(answer) as server:
        harness.oauth_connector(tenant_id, server.url("/api"), server.url("/token"))
        harness.action(tenant_id, name="hook", url="hook", maxRetries=3)
        harness.rule(tenant_id, name="hook", action="hook")
        envelope = harness.envelope(tenant_id, {"n": 1})
        harness.publish(envelope)
        harness.pump()
        calls = [r for r in server.requests if r.path == "/api/hook"]
        tokens = [r for r in server.requests if r.path == "/token"]
    # Then the call was tried with a token, the token renewed once, tried again, and then given up
    assert [c.header("Authorization") for c in calls] == ["Bearer tok-1", "Bearer tok-2"]
    assert len(tokens) == 2
    [attempt] = harness.attempts_of(envelope, "hook")
    assert (attempt.outcome, attempt.status_code) == (AttemptOutcome.PERMANENT, 401)
    assert harness.delivery_of(envelope, "hook").state is DeliveryState.FAILED


@pytest.mark.parametrize(("max_retries", "attempts"), [(0, 1), (5, 6)])
def test_max_retries_zero_and_five_are_honoured(
    harness: Harness, tenant_id: str, max_retries: int, attempts: int
) -> None:
    with always(500) as server:
        envelope, delivery_id = deliver_once(harness, tenant_id, server.url(), max_retries=max_retries)
        assert len(server.requests) == attempts
    assert len(harness.attempts_of(envelope, "hook")) == attempts  # type: ignore[arg-type]
    assert [m.delay_seconds for m in harness.queue.sent_for(delivery_id)] == BACKOFF_DELAYS[: attempts - 1]
    assert spacing(harness, envelope) == BACKOFF_DELAYS[: attempts - 1]


def test_a_success_after_failures_stops_retrying(harness: Harness, tenant_id: str) -> None:
    answers = iter([503, 500, 200])
    with RecordingServer(lambda _r: Reply(status=next(answers))) as server:
        envelope, delivery_id = deliver_once(harness, tenant_id, server.url(), max_retries=5)
        assert len(server.requests) == 3
    assert [a.outcome for a in harness.attempts_of(envelope, "hook")] == [  # type: ignore[arg-type]
        AttemptOutcome.RETRYABLE,
        AttemptOutcome.RETRYABLE,
        AttemptOutcome.SUCCESS,
    ]
    delivery = harness.deliveries.get(delivery_id)
    assert delivery is not None
    assert (delivery.state, delivery.attempts) == (DeliveryState.SUCCEEDED, 3)
