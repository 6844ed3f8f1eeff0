"""A runner that dies mid-call loses nothing: the delivery is recovered when its lease has expired.

The crash is simulated at the outbound boundary: the call really reaches the target, then the
runner process "dies" (a BaseException no handler catches, as a killed Lambda sandbox would stop
everything); the code under test runs for real.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator

import pytest

from eventrelay.aws import dynamodb_client, sqs_client
from eventrelay.connectors.models import Connector
from eventrelay.delivery.models import AttemptOutcome, DeliveryState
from eventrelay.delivery.runner import ConnectorCalls, Step
from eventrelay.dynamodb import Expression, Table
from eventrelay.outbound.outcome import Outcome
from eventrelay.outbound.request import OutboundRequest
from eventrelay.settings import Settings
from eventrelay_cli.local.lambda_runtime import LocalFunction
from eventrelay_cli.local.sqs_event_source import SqsEventSource
from tests.support.delivery import Harness
from tests.support.http_servers import RecordingServer
from tests.support.waiting import wait_until


class SimulatedCrash(BaseException):
    """The sandbox dies: nothing after this point runs."""


class CrashAfterCall:
    """Performs the real call, then dies — once, for requests whose body contains `marker`."""

    def __init__(self, inner: ConnectorCalls, marker: bytes = b"") -> None:
        self.inner = inner
        self.marker = marker
        self.crashed = threading.Event()

    def call(
        self, connector: Connector, request: OutboundRequest, idempotency_key: str | None = None
    ) -> Outcome:
        outcome = self.inner.call(connector, request, idempotency_key)
        if not self.crashed.is_set() and self.marker in (request.body or b""):
            self.crashed.set()
            raise SimulatedCrash
        return outcome


def setup_hook(harness: Harness, tenant_id: str, target: RecordingServer) -> None:
    harness.connector(tenant_id, target.url())
    harness.action(
        tenant_id, name="hook", url="/hook", payload='{"n": {{n}}}', fields=[{"name": "n", "type": "Number"}]
    )
    harness.rule(tenant_id, name="hook", action="hook", mapping={"n": "$.n"})


def test_a_delivery_interrupted_mid_call_is_recovered_after_its_lease(
    harness: Harness, tenant_id: str, target: RecordingServer
) -> None:
    setup_hook(harness, tenant_id, target)
    envelope = harness.envelope(tenant_id, {"n": 1})
    body = envelope.to_message_body()
    # Given a runner that dies right after its call reached the target
    crashing = harness.new_runner(CrashAfterCall(harness.connector_services.caller))
    with pytest.raises(SimulatedCrash):
        crashing.handle_message(body)
    assert len(target.requests) == 1
    delivery = harness.delivery_of(envelope, "hook")
    assert (delivery.state, delivery.in_flight, delivery.attempts) == (DeliveryState.PENDING, True, 1)
    assert [a.outcome for a in harness.attempts_of(envelope, "hook")] == [AttemptOutcome.IN_FLIGHT]
    # When SQS delivers the message again while the lease still runs, it is deferred to the lease's end
    assert harness.runner.handle_message(body).step_of("hook") is Step.DEFERRED
    [deferred] = harness.queue.sent_for(delivery.delivery_id)
    assert (deferred.body["reason"], deferred.delay_seconds) == ("lease", 91)
    # And once the lease is over, the attempt is recorded as abandoned and the delivery completed
    harness.pump()
    delivery = harness.delivery_of(envelope, "hook")
    assert (delivery.state, delivery.in_flight, delivery.attempts) == (DeliveryState.SUCCEEDED, False, 2)
    attempts = harness.attempts_of(envelope, "hook")
    assert [a.outcome for a in attempts] == [AttemptOutcome.ABANDONED, AttemptOutcome.SUCCESS]
    assert attempts[0].error == "the runner stopped before recording an outcome (its lease expired)"
    # The target saw the interrupted call and the completed one, with the same idempotency key
    assert len(target.requests) == 2
    assert {r.header("Idempotency-Key") for r in target.requests} == {f"eventrelay-{delivery.delivery_id}"}
    crashing.close()


def test_an_outcome_recorded_before_the_crash_is_kept(
    harness: Harness, settings: Settings, tenant_id: str, target: RecordingServer
) -> None:
    # Given a runner that recorded the attempt's success, then died before settling the delivery.
    # (Only the runner's earlier version could: it recorded the outcome in the attempt's own item
    # and settled the delivery in a second write; a delivery it left in flight meets this version.)
    setup_hook(harness, tenant_id, target)
    envelope = harness.envelope(tenant_id, {"n": 1})
    harness.handle(envelope)
    delivery = harness.delivery_of(envelope, "hook")
    # (rebuild that state: a new round whose attempt succeeded but whose delivery still holds the lease)
    reopened = harness.deliveries.reopen(delivery, delivery.attempts + 1)
    assert reopened is not None
    claimed = harness.deliveries.claim(reopened, "dead-runner", 90)
    assert claimed is not None
    leave_as_the_earlier_runner_did(settings, claimed.delivery_id, attempt=2, token="dead-runner")
    # When the message comes back after the lease
    harness.clock.advance(91)
    step = harness.runner.handle_message(
        json.dumps(
            {
                "kind": "eventrelay.delivery",
                "deliveryId": claimed.delivery_id,
                "tenantId": tenant_id,
                "attempt": 2,
            }
        )
    )
    # Then the recorded success stands: no new call
    assert step.steps[0].step is Step.STALE
    assert len(target.requests) == 1
    settled = harness.delivery_of(envelope, "hook")
    assert (settled.state, settled.attempts, settled.in_flight) == (DeliveryState.SUCCEEDED, 2, False)
    assert [(a.outcome, a.status_code) for a in harness.attempts_of(envelope, "hook")] == [
        (AttemptOutcome.SUCCESS, 200),
        (AttemptOutcome.SUCCESS, 200),
    ]


def leave_as_the_earlier_runner_did(settings: Settings, delivery_id: str, attempt: int, token: str) -> None:
    """The items of an attempt claimed and recorded SUCCESS by the earlier runner, never settled:
    the delivery in flight without its latest attempt, the attempt's item with the outcome."""
    table = Table(settings.deliveries_table, dynamodb_client(settings.region))
    key = {"pk": f"DELIVERY#{delivery_id}", "sk": "DELIVERY"}
    delivery_item = table.get(key, consistent=True)
    assert delivery_item is not None
    without_latest = Expression()
    table.update(key, without_latest.remove("lastAttempt"))
    started = float(delivery_item["updatedAt"])
    table.put(
        {
            "pk": f"DELIVERY#{delivery_id}",
            "sk": f"ATTEMPT#{attempt:05d}",
            "kind": "ATTEMPT",
            **{
                name: delivery_item[name]
                for name in ("deliveryId", "tenantId", "eventId", "ruleName", "action")
            },
            "attempt": attempt,
            "round": delivery_item["round"],
            "startedAt": started,
            "outcome": "SUCCESS",
            "finishedAt": started + 0.2,
            "statusCode": 200,
            "durationMs": 200,
            "responseTruncated": False,
            "leaseToken": token,
            "expiresAt": int(started) + 30 * 24 * 3600,
        }
    )


@pytest.fixture
def short_visibility_queue(settings: Settings) -> Iterator[str]:
    sqs = sqs_client(settings.region)
    url = sqs.create_queue(QueueName=f"crash-{uuid.uuid4().hex[:12]}", Attributes={"VisibilityTimeout": "1"})[
        "QueueUrl"
    ]
    yield url
    sqs.delete_queue(QueueUrl=url)


# Runs the runner behind the local SQS event source, through visibility timeouts.
@pytest.mark.slow
def test_a_batch_whose_runner_dies_is_delivered_again_and_nothing_is_lost_or_repeated(
    settings: Settings, short_visibility_queue: str, tenant_id: str, target: RecordingServer, harness: Harness
) -> None:
    # Given the runner behind Lambda's SQS event source (emulated), on a queue with a 1 s visibility timeout,
    # and a runner instance that dies after the call for event n=1 reached the target
    crash_once = CrashAfterCall(harness.connector_services.caller, marker=b'{"n": 1}')
    runner = harness.new_runner(crash_once)
    setup_hook(harness, tenant_id, target)
    envelopes = [harness.envelope(tenant_id, {"n": n}) for n in range(3)]
    sqs = sqs_client(settings.region)
    for envelope in envelopes:
        sqs.send_message(QueueUrl=short_visibility_queue, MessageBody=envelope.to_message_body())
    function = LocalFunction.from_handler(
        "ActionRunnerFunction", lambda event, _ctx: harness.handler(event, runner), timeout_seconds=1
    )
    source = SqsEventSource(
        short_visibility_queue,
        function,
        sqs=sqs,
        batch_size=10,
        report_batch_item_failures=True,
        concurrency=1,
        wait_time_seconds=1,
    )
    with source:
        # When the invocation dies mid-call
        assert crash_once.crashed.wait(10)
        # and time passes beyond the lease (the messages come back after the visibility timeout)
        harness.clock.advance(harness.lease_seconds + 1)
        wait_until(
            lambda: {harness.delivery_of(e, "hook").state for e in envelopes} == {DeliveryState.SUCCEEDED},
            "every delivery succeeded",
        )
    # Then every event was delivered; the interrupted one was called again, the others only once
    assert {harness.delivery_of(e, "hook").state for e in envelopes} == {DeliveryState.SUCCEEDED}
    calls = [json.loads(r.body)["n"] for r in target.requests]
    assert sorted(calls) == [0, 1, 1, 2]
    assert source.stats.failures >= 1
    assert [a.outcome for a in harness.attempts_of(envelopes[1], "hook")] == [
        AttemptOutcome.ABANDONED,
        AttemptOutcome.SUCCESS,
    ]
    runner.close()
