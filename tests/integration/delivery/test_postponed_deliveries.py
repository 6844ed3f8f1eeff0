"""One tenant's slow target does not hold back others (issue 8 item 10).

The runner behind Lambda's SQS event source (emulated, real time, real SQS delays) on a queue with
the stack's 180 s visibility timeout. Two invocations share one runner and its call slots, as the
local stack's instances do (and as one Lambda instance's batch does when its deliveries outnumber
the slots): a tenant whose target hangs fills the slots, and a healthy tenant's deliveries, queued
behind them, cannot start with enough of their invocation left. They must go back on the queue at
once with a short delay (their records succeed), not fail their records and wait out the
visibility timeout. Durations are scaled down from the stack's (30 s timeout, 20 s needed per
attempt, 16 slots, 10 s read timeout) so the test takes seconds: a 5 s timeout, 4 s needed per
attempt, 2 slots, and a target that hangs until the outbound client's 3 s read timeout. The
healthy events arrive while both slots are held (by one slow event matching 4 rules), so their
deliveries wait for a slot until the hanging calls end, 3 s in, when their invocation has less
than 4 s left.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch import process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from eventrelay.aws import dynamodb_client, sqs_client
from eventrelay.clock import system_clock
from eventrelay.delivery.batch import ConcurrentBatchProcessor
from eventrelay.delivery.models import DeliveryState
from eventrelay.delivery.runner import ActionRunner
from eventrelay.delivery.store import DeliveryStore
from eventrelay.envelopes import MessageQueue
from eventrelay.outbound.client import OutboundClient
from eventrelay.outbound.ssrf import SsrfGuard
from eventrelay.settings import Settings
from eventrelay_cli.local.lambda_runtime import LocalFunction
from eventrelay_cli.local.sqs_event_source import SqsEventSource
from tests.support.delivery import Harness
from tests.support.http_servers import RecordedRequest, RecordingServer, Reply
from tests.support.waiting import wait_until

STACK_VISIBILITY_TIMEOUT = "180"


@dataclass(frozen=True)
class Scale:
    """The durations and sizes of the scenario."""

    function_timeout_seconds: int = 5
    attempt_time_seconds: float = 4.0
    call_slots: int = 2
    # One slow event matching 4 rules: one invocation holds both slots and queues 2 more calls,
    # and the other invocation is free to take the healthy events.
    slow_events: int = 1
    slow_rules: int = 4
    healthy_events: int = 3
    invocations: int = 2


class RecordingQueue(MessageQueue):
    """The events queue, really sent to (delays included), remembering why each message was sent."""

    def __init__(self, queue_url: str, settings: Settings) -> None:
        super().__init__(queue_url, sqs_client(settings.region))
        self.reasons: list[str] = []
        self._lock = threading.Lock()

    def send(self, body: str, attributes: dict[str, Any] | None = None, delay_seconds: int = 0) -> None:
        super().send(body, attributes, delay_seconds)
        with self._lock:
            message = json.loads(body)
            self.reasons.append(f"{message.get('tenantId')} {message.get('reason')} {delay_seconds}")


class HangingTarget:
    """Answers only when released (or after 30 s): every call runs into the client's read timeout."""

    def __init__(self) -> None:
        self.released = threading.Event()

    def __call__(self, _request: RecordedRequest) -> Reply:
        self.released.wait(30)
        return Reply()


class ArrivalTimes:
    """A healthy target that notes when each event arrived."""

    def __init__(self) -> None:
        self.arrived: dict[int, float] = {}

    def __call__(self, request: RecordedRequest) -> Reply:
        self.arrived.setdefault(int(json.loads(request.body)["n"]), time.monotonic())
        return Reply()


@dataclass
class Outcome:
    latencies: list[float]
    failed_records: int
    failed_invocations: int
    healthy_postponed: int


@pytest.fixture
def client() -> Iterator[OutboundClient]:
    """The outbound client: a call to the hanging target ends after 3 s (its read timeout)."""
    outbound = OutboundClient(SsrfGuard("127.0.0.0/8"), connect_timeout=1, read_timeout=3, deadline=4)
    yield outbound
    outbound.close()


@pytest.fixture
def stack_queue(settings: Settings) -> Iterator[str]:
    sqs = sqs_client(settings.region)
    url = sqs.create_queue(
        QueueName=f"postpone-{uuid.uuid4().hex[:12]}",
        Attributes={"VisibilityTimeout": STACK_VISIBILITY_TIMEOUT},
    )["QueueUrl"]
    yield url
    sqs.delete_queue(QueueUrl=url)


def run_scenario(harness: Harness, settings: Settings, queue_url: str, scale: Scale) -> Outcome:
    """Slow-tenant events queued first; once their calls hold the slots, healthy-tenant events."""
    slow_tenant, healthy_tenant = f"t-{uuid.uuid4().hex[:12]}", f"t-{uuid.uuid4().hex[:12]}"
    hanging, arrivals = HangingTarget(), ArrivalTimes()
    queue = RecordingQueue(queue_url, settings)
    with RecordingServer(hanging) as slow_server, RecordingServer(arrivals) as healthy_server:
        for tenant, server, retries, rules in (
            (slow_tenant, slow_server, 0, scale.slow_rules),
            (healthy_tenant, healthy_server, 3, 1),
        ):
            harness.connector(tenant, server.url())
            harness.action(tenant, name="hook", url="/hook", payload='{"n": {{n}}}', maxRetries=retries)
            for rule in range(rules):
                harness.rule(tenant, name=f"hook-{rule}", action="hook", mapping={"n": "$.n"})
        deliveries = DeliveryStore(settings.deliveries_table, dynamodb_client(settings.region), system_clock)
        runner = ActionRunner(
            rules=harness.rules,
            actions=harness.actions,
            connectors=harness.connector_services.store,
            caller=harness.connector_services.caller,
            deliveries=deliveries,
            queue=queue,
            policy=harness.policy,
            clock=system_clock,
            max_concurrent_calls=scale.call_slots,
            attempt_time_seconds=scale.attempt_time_seconds,
        )

        def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
            """What functions/action_runner/app.py does."""
            batch = runner.batch(lambda: context.get_remaining_time_in_millis() / 1000)

            def record_handler(record: SQSRecord) -> None:
                runner.handle_message(record.body, batch)

            return dict(
                process_partial_response(
                    event=event,
                    record_handler=record_handler,
                    processor=ConcurrentBatchProcessor(10),
                    context=context,
                )
            )

        function = LocalFunction.from_handler(
            "ActionRunnerFunction",
            lambda_handler,
            timeout_seconds=scale.function_timeout_seconds,
            max_instances=scale.invocations,
        )
        source = SqsEventSource(
            queue_url,
            function,
            sqs=sqs_client(settings.region),
            batch_size=10,
            report_batch_item_failures=True,
            concurrency=scale.invocations,
            wait_time_seconds=1,
        )
        sqs = sqs_client(settings.region)

        def publish(tenant: str, count: int) -> dict[int, float]:
            """Send `count` events of the tenant, 10 a request; when each number was sent."""
            sent: dict[int, float] = {}
            for start in range(0, count, 10):
                numbers = range(start, min(count, start + 10))
                entries = [
                    {"Id": str(n), "MessageBody": harness.envelope(tenant, {"n": n}).to_message_body()}
                    for n in numbers
                ]
                sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)  # type: ignore[arg-type]
                sent.update(dict.fromkeys(numbers, time.monotonic()))
            return sent

        try:
            publish(slow_tenant, scale.slow_events)
            with source:
                # Once the hanging calls hold every slot, the healthy tenant's events arrive
                assert wait_until(
                    lambda: len(slow_server.requests) >= scale.call_slots,
                    timeout=scale.function_timeout_seconds,
                ), len(slow_server.requests)
                sent = publish(healthy_tenant, scale.healthy_events)
                wait_until(lambda: len(arrivals.arrived) == scale.healthy_events, timeout=60)
                hanging.released.set()
        finally:
            hanging.released.set()
            runner.close()
        healthy = [
            harness.deliveries.get(delivery.delivery_id)
            for delivery in harness.deliveries.list_by_tenant(healthy_tenant)
        ]
        assert all(d is not None and d.state is DeliveryState.SUCCEEDED for d in healthy), healthy
        return Outcome(
            latencies=[arrivals.arrived.get(n, float("inf")) - sent[n] for n in sent],
            failed_records=source.stats.failed_records,
            failed_invocations=source.stats.failures,
            healthy_postponed=queue.reasons.count(f"{healthy_tenant} postponed 1"),
        )


def test_a_healthy_tenant_is_not_held_back_by_a_tenant_whose_target_hangs(
    harness: Harness, settings: Settings, stack_queue: str
) -> None:
    scale = Scale()
    outcome = run_scenario(harness, settings, stack_queue, scale)
    # Then no record failed, and every healthy event arrived within a few invocations, not after the
    # 180 s visibility timeout
    assert (outcome.failed_records, outcome.failed_invocations) == (0, 0)
    assert max(outcome.latencies) < 3 * scale.function_timeout_seconds, outcome.latencies
    # because the healthy deliveries that could not start were put back at once with a 1 s delay
    assert outcome.healthy_postponed >= 1
