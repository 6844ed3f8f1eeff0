"""The action runner against real stores, a real queue and HTTP targets on 127.0.0.1."""

from __future__ import annotations

import json
import threading

from eventrelay.delivery.models import AttemptOutcome, DeliveryState
from eventrelay.delivery.runner import Step
from tests.support.delivery import Harness
from tests.support.http_servers import RecordedRequest, RecordingServer, Reply
from tests.support.waiting import wait_until

TICKET = '{"order": "{{orderId}}", "amount": {{amount}}, "note": "{{note}}"}'


def setup_ticket_rule(harness: Harness, tenant_id: str, target: RecordingServer, **rule: object) -> None:
    harness.connector(tenant_id, target.url("/api"), headers={"X-Source": "eventrelay"})
    harness.action(
        tenant_id,
        name="create-ticket",
        url="tickets/{{orderId}}",
        headers={"X-Priority": "{{priority}}"},
        payload=TICKET,
        fields=[{"name": "amount", "type": "Number"}, {"name": "note", "default": "none"}],
        maxRetries=2,
    )
    harness.rule(
        tenant_id,
        name="tickets",
        action="create-ticket",
        mapping={"orderId": "$.order.id", "amount": "$.total", "priority": {"constant": "high"}},
        **rule,
    )


def test_an_event_becomes_one_call_with_the_rendered_request_and_a_record(
    harness: Harness, tenant_id: str, target: RecordingServer
) -> None:
    # Given a connector, an action and a rule aimed at a recording server
    setup_ticket_rule(harness, tenant_id, target)
    envelope = harness.envelope(tenant_id, {"order": {"id": "o/42"}, "total": 99.5})
    # When the runner handles the event
    report = harness.handle(envelope)
    # Then the target received the rendered request once
    assert report.step_of("tickets") is Step.SUCCEEDED
    [request] = target.requests
    assert (request.method, request.path) == ("POST", "/api/tickets/o%2F42")
    assert json.loads(request.body) == {"order": "o/42", "amount": 99.5, "note": "none"}
    assert request.header("X-Priority") == "high"
    assert request.header("X-Source") == "eventrelay"
    assert request.header("Content-Type") == "application/json"
    # And the delivery and its attempt are recorded
    delivery = harness.delivery_of(envelope, "tickets")
    assert request.header("Idempotency-Key") == f"eventrelay-{delivery.delivery_id}"
    assert (delivery.state, delivery.attempts, delivery.attempt_limit) == (DeliveryState.SUCCEEDED, 1, 3)
    [attempt] = harness.attempts_of(envelope, "tickets")
    assert (attempt.attempt, attempt.outcome, attempt.status_code) == (1, AttemptOutcome.SUCCESS, 200)
    assert (attempt.event_id, attempt.tenant_id, attempt.rule_name, attempt.action) == (
        envelope.eventId,
        tenant_id,
        "tickets",
        "create-ticket",
    )
    assert attempt.response_body == '{"ok": true}'
    assert attempt.duration_ms is not None
    assert attempt.started_at <= (attempt.finished_at or 0)
    # And nothing is left on the queue
    assert harness.queue.sent == []


def test_conditions_choose_which_rules_run(harness: Harness, tenant_id: str, target: RecordingServer) -> None:
    setup_ticket_rule(
        harness,
        tenant_id,
        target,
        condition={
            "all": [
                {"path": "$.total", "op": "gte", "value": 100},
                {"path": "$.order.channel", "op": "in", "value": ["web"]},
            ]
        },
    )
    small = harness.envelope(tenant_id, {"order": {"id": "1", "channel": "web"}, "total": 5})
    other_channel = harness.envelope(tenant_id, {"order": {"id": "2", "channel": "shop"}, "total": 500})
    big = harness.envelope(tenant_id, {"order": {"id": "3", "channel": "web"}, "total": 500})
    assert harness.handle(small).steps == ()
    assert harness.handle(other_channel).steps == ()
    assert harness.handle(big).step_of("tickets") is Step.SUCCEEDED
    assert [r.path for r in target.requests] == ["/api/tickets/3"]
    assert list(harness.deliveries.list_by_event(tenant_id, small.eventId)) == []


def test_disabled_rules_and_other_events_do_not_run(
    harness: Harness, tenant_id: str, target: RecordingServer
) -> None:
    setup_ticket_rule(harness, tenant_id, target)
    harness.rules.set_enabled(tenant_id, "tickets", False)
    assert harness.handle(harness.envelope(tenant_id, {"order": {"id": "1"}, "total": 1})).steps == ()
    harness.rules.set_enabled(tenant_id, "tickets", True)
    assert (
        harness.handle(harness.envelope(tenant_id, {"order": {"id": "1"}, "total": 1}, "Other")).steps == ()
    )
    assert (
        harness.handle(harness.envelope(tenant_id, {"order": {"id": "1"}, "total": 1})).steps[0].step
        is Step.SUCCEEDED
    )
    assert len(target.requests) == 1


def test_mapping_problems_are_permanent_failures_with_a_clear_reason(
    harness: Harness, tenant_id: str, target: RecordingServer
) -> None:
    setup_ticket_rule(harness, tenant_id, target)
    missing = harness.envelope(tenant_id, {"order": {}, "total": 3})
    not_a_number = harness.envelope(tenant_id, {"order": {"id": "9"}, "total": "a lot"})
    # When events arrive whose payload cannot fill the action's fields
    assert harness.handle(missing).step_of("tickets") is Step.FAILED
    assert harness.handle(not_a_number).step_of("tickets") is Step.FAILED
    # Then no call is made, nothing is retried, and the reason is recorded
    assert target.requests == []
    assert harness.queue.sent == []
    [attempt] = harness.attempts_of(missing, "tickets")
    assert attempt.outcome is AttemptOutcome.PERMANENT
    assert attempt.error == (
        "cannot build the request: field 'orderId' (path $.order.id): "
        "is missing from the payload and the field has no default"
    )
    [attempt] = harness.attempts_of(not_a_number, "tickets")
    assert (
        attempt.error
        == "cannot build the request: field 'amount' (path $.total, type Number): is not a Number"
    )
    delivery = harness.delivery_of(not_a_number, "tickets")
    assert (delivery.state, delivery.last_error) == (DeliveryState.FAILED, attempt.error)


def test_a_rule_whose_action_was_deleted_fails_permanently(
    harness: Harness, tenant_id: str, target: RecordingServer
) -> None:
    setup_ticket_rule(harness, tenant_id, target)
    harness.actions.delete(tenant_id, "create-ticket")
    envelope = harness.envelope(tenant_id, {"order": {"id": "1"}, "total": 1})
    assert harness.handle(envelope).step_of("tickets") is Step.FAILED
    [attempt] = harness.attempts_of(envelope, "tickets")
    assert attempt.error == "action 'create-ticket' not found"


def test_two_rules_on_one_event_are_independent(harness: Harness, tenant_id: str) -> None:
    # Given two rules on one event: one target answers 200, the other always 500
    with RecordingServer() as good, RecordingServer(lambda _r: Reply(status=500, body=b"down")) as bad:
        harness.connector(tenant_id, good.url(), name="good")
        harness.connector(tenant_id, bad.url(), name="bad")
        harness.action(tenant_id, name="notify-good", connector="good", url="/hook", maxRetries=2)
        harness.action(tenant_id, name="notify-bad", connector="bad", url="/hook", maxRetries=2)
        harness.rule(tenant_id, name="to-good", action="notify-good")
        harness.rule(tenant_id, name="to-bad", action="notify-bad")
        envelope = harness.envelope(tenant_id, {"n": 1})
        # When the event is processed and every retry has run (and SQS even delivers the event again)
        harness.publish(envelope)
        harness.pump()
        harness.publish(envelope)
        harness.pump()
        # Then the good target was called once, the bad one 1 + 2 retries times
        assert len(good.requests) == 1
        assert len(bad.requests) == 3
        assert harness.delivery_of(envelope, "to-good").state is DeliveryState.SUCCEEDED
        failed = harness.delivery_of(envelope, "to-bad")
        assert (failed.state, failed.attempts) == (DeliveryState.FAILED, 3)
        assert failed.last_error == "HTTP 500; gave up after 3 attempt(s)"
        assert [a.outcome for a in harness.attempts_of(envelope, "to-bad")] == [AttemptOutcome.RETRYABLE] * 3
        assert [a.response_body for a in harness.attempts_of(envelope, "to-bad")] == ["down"] * 3


def test_a_batch_of_ten_with_two_failing_targets(harness: Harness, tenant_id: str) -> None:
    # Given ten events whose targets answer 200, except orders 3 and 7 (always 503)
    def answer(request: RecordedRequest) -> Reply:
        return Reply(status=503) if request.path in ("/orders/3", "/orders/7") else Reply()

    with RecordingServer(answer) as server:
        harness.connector(tenant_id, server.url())
        harness.action(tenant_id, name="post-order", url="/orders/{{n}}", maxRetries=3)
        harness.rule(tenant_id, name="orders", action="post-order", mapping={"n": "$.n"})
        envelopes = [harness.envelope(tenant_id, {"n": n}) for n in range(10)]
        harness.publish(*envelopes)
        # When the runner processes them in Lambda batches, retries included
        batches = harness.pump()
        # Then only the two failing messages were retried, each 1 + 3 times; the others were called once
        calls: dict[str, int] = {}
        for request in server.requests:
            calls[request.path] = calls.get(request.path, 0) + 1
        assert calls == {f"/orders/{n}": 4 if n in (3, 7) else 1 for n in range(10)}
        retried = {m.body["deliveryId"] for m in harness.queue.sent}
        assert retried == {harness.delivery_of(envelopes[n], "orders").delivery_id for n in (3, 7)}
        assert batches == 4
        states = {n: harness.delivery_of(e, "orders").state for n, e in enumerate(envelopes)}
        assert states == {
            n: DeliveryState.FAILED if n in (3, 7) else DeliveryState.SUCCEEDED for n in range(10)
        }


def test_the_same_message_delivered_twice_in_a_row_calls_once(
    harness: Harness, tenant_id: str, target: RecordingServer
) -> None:
    setup_ticket_rule(harness, tenant_id, target)
    envelope = harness.envelope(tenant_id, {"order": {"id": "1"}, "total": 1})
    assert harness.handle(envelope).step_of("tickets") is Step.SUCCEEDED
    assert harness.handle(envelope).step_of("tickets") is Step.STALE
    assert harness.new_runner().handle_message(envelope.to_message_body()).step_of("tickets") is Step.STALE
    assert len(target.requests) == 1


def test_the_same_message_delivered_twice_at_once_calls_once(harness: Harness, tenant_id: str) -> None:
    # Given a slow target (so both copies are in the runner at the same time)
    release = threading.Event()

    def slow(_request: RecordedRequest) -> Reply:
        release.wait(5)
        return Reply()

    with RecordingServer(slow) as server:
        harness.connector(tenant_id, server.url())
        harness.action(tenant_id, name="hook", url="/hook")
        harness.rule(tenant_id, name="hook", action="hook")
        envelope = harness.envelope(tenant_id, {"n": 1})
        body = envelope.to_message_body()
        # When two runners (two Lambda instances) get the same message concurrently
        runners = [harness.new_runner(), harness.new_runner()]
        steps: list[Step] = []
        threads = [
            threading.Thread(target=lambda r=r: steps.append(r.handle_message(body).steps[0].step))
            for r in runners
        ]
        for thread in threads:
            thread.start()
        # (the target holds the first call until the other copy has been handled)
        try:
            wait_until(lambda: bool(steps), "one copy of the message was handled", timeout=5)
        finally:
            release.set()
        for thread in threads:
            thread.join()
        # Then the target was called once: one runner delivered, the other deferred to the lease's end
        assert sorted(steps) == sorted([Step.SUCCEEDED, Step.DEFERRED])
        assert len(server.requests) == 1
        # And the deferred copy, once the lease is over, finds the work done
        harness.pump()
        assert len(server.requests) == 1
        assert harness.delivery_of(envelope, "hook").state is DeliveryState.SUCCEEDED
        for runner in runners:
            runner.close()
