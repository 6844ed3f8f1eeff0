"""A connector's outbound rate limit, enforced across runner instances (issue 11, per-connector pacing).

Real parts: the limits and deliveries tables in DynamoDB Local, the events queue on moto's SQS,
targets on 127.0.0.1. Time is an injected clock: the runners see the windows it sets, and a paced
message is handed back to a runner once the clock has moved past the delay it was sent with, so
nothing waits on wall time. The delays asserted are the `DelaySeconds` of the SendMessage requests
the runners make (read off the SQS client as the request is built).
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from eventrelay.connectors.models import RateLimit
from eventrelay.delivery.models import DeliveryState
from eventrelay.delivery.runner import ActionRunner, Step
from eventrelay.envelopes import MessageQueue
from tests.support.delivery import Harness
from tests.support.http_servers import RecordingServer

PER_SECOND = 3


@dataclass(frozen=True)
class SentMessage:
    body: str
    delay_seconds: int

    @property
    def delivery_id(self) -> str:
        return str(json.loads(self.body)["deliveryId"])

    @property
    def reason(self) -> str:
        return str(json.loads(self.body)["reason"])


@pytest.fixture
def sent(harness: Harness) -> Iterator[list[SentMessage]]:
    """Every message the runners send to the test's queue, with its DelaySeconds, in order."""
    messages: list[SentMessage] = []
    lock = threading.Lock()

    def record(params: dict[str, Any], **_: Any) -> None:
        if params.get("QueueUrl") == harness.queue_url:
            with lock:
                messages.append(SentMessage(params["MessageBody"], int(params.get("DelaySeconds", 0))))

    harness.sqs.meta.events.register("before-parameter-build.sqs.SendMessage", record)
    try:
        yield messages
    finally:
        harness.sqs.meta.events.unregister("before-parameter-build.sqs.SendMessage", record)


@pytest.fixture
def limit_writes(harness: Harness) -> Iterator[list[dict[str, Any]]]:
    """The UpdateItem requests made to the limits table while the test runs."""
    writes: list[dict[str, Any]] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        if params.get("TableName") == harness.settings.limits_table:
            writes.append(params)

    harness.dynamodb.meta.events.register("before-parameter-build.dynamodb.UpdateItem", record)
    try:
        yield writes
    finally:
        harness.dynamodb.meta.events.unregister("before-parameter-build.dynamodb.UpdateItem", record)


def runner_on_the_real_queue(harness: Harness) -> ActionRunner:
    """A runner instance whose messages go to SQS with their real DelaySeconds."""
    return harness.new_runner(queue=MessageQueue(harness.queue_url, harness.sqs))


def set_up_paced_target(
    harness: Harness, tenant_id: str, target: RecordingServer, rate_limit: RateLimit | None
) -> None:
    harness.connector(tenant_id, target.url("/api"), rate_limit=rate_limit)
    harness.action(tenant_id, name="open-ticket", url="tickets", payload='{"row": {{row}}}')
    harness.rule(tenant_id, name="tickets", action="open-ticket", mapping={"row": "$.row"})


def start_of_a_second(harness: Harness, offset: float = 0.25) -> float:
    """Put the clock `offset` into a whole second (in the future of the real clock: TTLs stay ahead)."""
    harness.clock.now = math.floor(harness.clock.now) + 10 + offset
    return harness.clock.now


def handle_concurrently(runner: ActionRunner, bodies: list[str]) -> list[Step]:
    """One Lambda batch: the bodies' records handled on concurrent threads, as the batch processor does."""
    batch = runner.batch()
    steps: list[Step] = []
    lock = threading.Lock()

    def handle(body: str) -> None:
        report = runner.handle_message(body, batch)
        with lock:
            steps.extend(step.step for step in report.steps)

    threads = [threading.Thread(target=handle, args=(body,)) for body in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return steps


def test_a_burst_makes_the_limit_of_calls_and_the_rest_wait_for_later_windows(
    harness: Harness, tenant_id: str, target: RecordingServer, sent: list[SentMessage]
) -> None:
    # Given a connector limited to 3 calls per second, and the clock a quarter into a second
    set_up_paced_target(harness, tenant_id, target, RateLimit(per_second=PER_SECOND))
    now = start_of_a_second(harness)
    runner = runner_on_the_real_queue(harness)
    envelopes = [harness.envelope(tenant_id, {"row": row}) for row in range(8)]
    # When a burst of 8 events arrives in one batch
    steps = handle_concurrently(runner, [envelope.to_message_body() for envelope in envelopes])
    # Then exactly 3 calls are made in this window, and the 5 others are paced
    assert len(target.requests) == PER_SECOND
    assert sorted(steps) == sorted([Step.SUCCEEDED] * 3 + [Step.PACED] * 5)
    assert [message.reason for message in sent] == ["paced"] * 5
    # And each is put back with a delay that reaches the next window (0.75 s away, so at least 1 s),
    # the first 3 for that window and the next 2 for the one after it
    next_window = math.floor(now) + 1
    assert all(now + message.delay_seconds >= next_window for message in sent)
    assert sorted(message.delay_seconds for message in sent) == [1, 1, 1, 2, 2]


def test_a_paced_delivery_has_no_attempt_and_succeeds_in_a_later_window(
    harness: Harness, tenant_id: str, target: RecordingServer, sent: list[SentMessage]
) -> None:
    # Given a burst of 5 events for a connector limited to 3 calls per second
    set_up_paced_target(harness, tenant_id, target, RateLimit(per_second=PER_SECOND))
    start_of_a_second(harness)
    runner = runner_on_the_real_queue(harness)
    envelopes = [harness.envelope(tenant_id, {"row": row}) for row in range(5)]
    handle_concurrently(runner, [envelope.to_message_body() for envelope in envelopes])
    # Then the 2 paced deliveries exist with no attempt used or recorded
    paced = [message.delivery_id for message in sent]
    assert len(paced) == 2
    for delivery_id in paced:
        delivery = harness.deliveries.get(delivery_id)
        assert delivery is not None
        assert (delivery.state, delivery.attempts, delivery.in_flight) == (DeliveryState.PENDING, 0, False)
        assert harness.deliveries.attempts(delivery_id) == []
    # When their messages come back once the clock has moved by their delay (the next window)
    waiting = list(sent)
    sent.clear()
    harness.clock.advance(max(message.delay_seconds for message in waiting))
    steps = handle_concurrently(runner, [message.body for message in waiting])
    # Then they are called and end SUCCEEDED with one attempt each; every row was called once
    assert steps == [Step.SUCCEEDED, Step.SUCCEEDED]
    for delivery_id in paced:
        delivery = harness.deliveries.get(delivery_id)
        assert delivery is not None
        assert (delivery.state, delivery.attempts) == (DeliveryState.SUCCEEDED, 1)
        assert [attempt.attempt for attempt in harness.deliveries.attempts(delivery_id)] == [1]
    assert sorted(int(json.loads(request.body)["row"]) for request in target.requests) == [0, 1, 2, 3, 4]
    assert sent == []


def test_two_runner_instances_together_never_exceed_the_limit(
    harness: Harness, tenant_id: str, target: RecordingServer, sent: list[SentMessage]
) -> None:
    # Given two runner instances (each with its own limiter memory) on the same tables and queue
    set_up_paced_target(harness, tenant_id, target, RateLimit(per_second=PER_SECOND))
    start_of_a_second(harness)
    runners = [runner_on_the_real_queue(harness), runner_on_the_real_queue(harness)]
    rows = 12
    # (when the message becomes visible, its body); the burst is visible at once
    visible_at = [
        (harness.clock.now, harness.envelope(tenant_id, {"row": row}).to_message_body())
        for row in range(rows)
    ]
    calls_per_window: list[int] = []
    # When, window after window, both take half of the messages visible by then, at the same time
    for _window in range(3 * rows):
        due = [body for at, body in visible_at if at <= harness.clock.now]
        if not visible_at:
            break
        visible_at = [(at, body) for at, body in visible_at if at > harness.clock.now]
        called_before = len(target.requests)
        sent.clear()
        threads = [
            threading.Thread(target=handle_concurrently, args=(runner, due[index::2]))
            for index, runner in enumerate(runners)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        calls_per_window.append(len(target.requests) - called_before)
        visible_at += [(harness.clock.now + message.delay_seconds, message.body) for message in sent]
        harness.clock.advance(1)
    # Then the first window made exactly 3 calls, no window more than 3, and every row was called
    # exactly once
    assert visible_at == []
    assert calls_per_window[0] == PER_SECOND
    assert max(calls_per_window) == PER_SECOND
    assert sorted(int(json.loads(request.body)["row"]) for request in target.requests) == list(range(rows))


def test_a_connector_without_a_limit_never_calls_the_limiter(
    harness: Harness, tenant_id: str, target: RecordingServer, limit_writes: list[dict[str, Any]]
) -> None:
    # Given a connector with no rate limit
    set_up_paced_target(harness, tenant_id, target, None)
    runner = runner_on_the_real_queue(harness)
    # When 3 events are delivered
    for row in range(3):
        envelope = harness.envelope(tenant_id, {"row": row})
        assert runner.handle_message(envelope.to_message_body()).step_of("tickets") is Step.SUCCEEDED
    # Then the limits table was never written
    assert len(target.requests) == 3
    assert limit_writes == []


def test_a_limited_call_costs_one_conditional_write_on_the_limits_table(
    harness: Harness, tenant_id: str, target: RecordingServer, limit_writes: list[dict[str, Any]]
) -> None:
    # Given a connector limited per second and per minute, and the clock inside both windows
    set_up_paced_target(harness, tenant_id, target, RateLimit(per_second=5, per_minute=100))
    start_of_a_second(harness)
    runner = runner_on_the_real_queue(harness)
    # When the first event opens the windows and 3 more follow in the same second
    envelopes = [harness.envelope(tenant_id, {"row": row}) for row in range(4)]
    runner.handle_message(envelopes[0].to_message_body())
    opened = len(limit_writes)
    for envelope in envelopes[1:]:
        runner.handle_message(envelope.to_message_body())
    # Then each later call cost exactly one conditional UpdateItem, on the tenant's connector item
    assert len(target.requests) == 4
    assert len(limit_writes) - opened == 3
    for write in limit_writes:
        assert write["Key"] == {"pk": {"S": f"outbound#{tenant_id}#target"}}
        assert "ConditionExpression" in write


def test_a_per_minute_limit_waits_for_the_next_minute_and_caps_long_waits_at_900_seconds(
    harness: Harness, tenant_id: str, target: RecordingServer, sent: list[SentMessage]
) -> None:
    # Given a connector allowed 1 call per minute, the clock 20 s into a minute
    set_up_paced_target(harness, tenant_id, target, RateLimit(per_minute=1))
    harness.clock.now = math.floor(harness.clock.now / 60) * 60 + 600 + 20
    runner = runner_on_the_real_queue(harness)
    # When 20 events arrive one after the other
    for row in range(20):
        runner.handle_message(harness.envelope(tenant_id, {"row": row}).to_message_body())
    # Then one call is made, and the 19 others wait for minute after minute, never beyond SQS's 900 s
    assert len(target.requests) == 1
    delays = [message.delay_seconds for message in sent]
    assert delays[:3] == [40, 100, 160]
    assert delays[-1] == 900
    assert max(delays) == 900


def test_a_slot_taken_for_a_call_that_is_not_made_is_given_back(
    harness: Harness, tenant_id: str, target: RecordingServer, sent: list[SentMessage]
) -> None:
    # Given a connector allowed 2 calls per second, and one event delivered in this window
    set_up_paced_target(harness, tenant_id, target, RateLimit(per_second=2))
    start_of_a_second(harness)
    runner = runner_on_the_real_queue(harness)
    delivered = harness.envelope(tenant_id, {"row": 0})
    assert runner.handle_message(delivered.to_message_body()).step_of("tickets") is Step.SUCCEEDED
    # When SQS hands the same event again (a duplicate): a slot is taken, but the delivery is done
    again = runner.handle_message(delivered.to_message_body())
    assert again.step_of("tickets") is Step.STALE
    # Then that slot was given back: one more event is called in this window, the next is paced
    steps = [
        runner.handle_message(harness.envelope(tenant_id, {"row": row}).to_message_body()).step_of("tickets")
        for row in (1, 2)
    ]
    assert steps == [Step.SUCCEEDED, Step.PACED]
    assert sorted(int(json.loads(request.body)["row"]) for request in target.requests) == [0, 1]
    assert [message.reason for message in sent] == ["paced"]
