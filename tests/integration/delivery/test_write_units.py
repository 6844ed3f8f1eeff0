"""What a delivery costs in DynamoDB writes (issue 12): counted by DynamoDB Local itself.

Every write of the runner's deliveries table asks for `ReturnConsumedCapacity=INDEXES`, so the
units are DynamoDB's own count: the item's size in KB (twice for a transaction) plus each index
entry the write touches (twice when the entry's key changes). The runner under test is the real
one, on a DynamoDB client of this test alone (so the count sees no other test's writes).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import boto3
import pytest

from eventrelay.aws import dynamodb_client
from eventrelay.delivery.models import AttemptOutcome, DeliveryState
from eventrelay.delivery.runner import ActionRunner, Step
from eventrelay.delivery.store import DeliveryStore
from eventrelay.settings import Settings
from eventrelay_cli.local.environment import LocalAws
from tests.support.delivery import Harness
from tests.support.http_servers import RecordedRequest, RecordingServer, Reply

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

WRITE_OPERATIONS = ("PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem")
# The budget for one event, one rule, delivered at the first try.
UNITS_PER_DELIVERY = 6


@dataclass
class WriteMeter:
    """The write requests a client sends and the capacity DynamoDB says each consumed."""

    writes: list[tuple[str, float]] = field(default_factory=list)

    def attach(self, client: DynamoDBClient) -> None:
        for operation in WRITE_OPERATIONS:
            client.meta.events.register(f"before-parameter-build.dynamodb.{operation}", self._ask)
            client.meta.events.register(f"after-call.dynamodb.{operation}", self._count)

    @staticmethod
    def _ask(params: dict[str, Any], **_: Any) -> None:
        params["ReturnConsumedCapacity"] = "INDEXES"

    def _count(self, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        consumed = parsed.get("ConsumedCapacity")
        tables = consumed if isinstance(consumed, list) else [consumed] if consumed else []
        units = sum(float(table.get("CapacityUnits", 0)) for table in tables)
        self.writes.append((model.name, units))

    @property
    def operations(self) -> list[str]:
        return [operation for operation, _ in self.writes]

    @property
    def units(self) -> float:
        return sum(units for _, units in self.writes)

    def clear(self) -> None:
        self.writes.clear()


@pytest.fixture
def meter() -> WriteMeter:
    return WriteMeter()


@pytest.fixture
def metered_client(settings: Settings, local_aws: LocalAws, meter: WriteMeter) -> DynamoDBClient:
    runtime_config = dynamodb_client(settings.region).meta.config
    client: DynamoDBClient = boto3.session.Session().client(
        "dynamodb", region_name=settings.region, endpoint_url=local_aws.dynamodb_url, config=runtime_config
    )
    meter.attach(client)
    return client


@pytest.fixture
def runner(harness: Harness, settings: Settings, metered_client: DynamoDBClient) -> Iterator[ActionRunner]:
    """The real runner, its deliveries table reached through the metered client."""
    built = ActionRunner(
        rules=harness.rules,
        actions=harness.actions,
        connectors=harness.connector_services.store,
        caller=harness.connector_services.caller,
        deliveries=DeliveryStore(settings.deliveries_table, metered_client, harness.clock),
        queue=harness.queue,
        policy=harness.policy,
        clock=harness.clock,
    )
    yield built
    built.close()


def setup_hook(harness: Harness, tenant_id: str, target: RecordingServer) -> None:
    harness.connector(tenant_id, target.url())
    harness.action(
        tenant_id,
        name="hook",
        url="/orders/{{orderId}}",
        payload='{"order": "{{orderId}}", "total": {{total}}}',
        fields=[{"name": "total", "type": "Number"}],
        maxRetries=3,
    )
    harness.rule(tenant_id, name="hook", action="hook", mapping={"orderId": "$.orderId", "total": "$.total"})


def test_a_delivery_that_succeeds_at_the_first_try_costs_two_writes_and_at_most_six_units(
    harness: Harness, runner: ActionRunner, meter: WriteMeter, tenant_id: str
) -> None:
    with RecordingServer() as target:
        setup_hook(harness, tenant_id, target)
        envelope = harness.envelope(tenant_id, {"orderId": "o-1", "total": 12.5})
        # When one event matching one rule is delivered at the first try
        report = runner.handle_message(envelope.to_message_body())
        assert report.step_of("hook") is Step.SUCCEEDED
    # Then the runner wrote twice (the claim creating the delivery, the settlement with the
    # attempt's outcome), no transaction, within the budget of write units
    assert meter.operations == ["PutItem", "UpdateItem"]
    assert meter.units <= UNITS_PER_DELIVERY, meter.writes
    # And nothing recorded was given up for it: the attempt, and every listing of the delivery
    delivery = harness.delivery_of(envelope, "hook")
    [attempt] = harness.attempts_of(envelope, "hook")
    assert (attempt.outcome, attempt.status_code, attempt.attempt) == (AttemptOutcome.SUCCESS, 200, 1)
    deliveries = harness.deliveries
    listings = (
        deliveries.list_by_tenant(tenant_id),
        deliveries.list_by_event(tenant_id, envelope.eventId),
        deliveries.list_by_state(tenant_id, DeliveryState.SUCCEEDED),
    )
    assert [[listed.delivery_id for listed in listing] for listing in listings] == [
        [delivery.delivery_id]
    ] * 3


def test_a_retry_costs_one_copy_of_the_failed_attempt_and_one_write_per_claim_and_settlement(
    harness: Harness, runner: ActionRunner, meter: WriteMeter, tenant_id: str
) -> None:
    answers = [503, 200]

    def reply(_request: RecordedRequest) -> Reply:
        return Reply(status=answers.pop(0), body=b"{}")

    with RecordingServer(reply) as target:
        setup_hook(harness, tenant_id, target)
        envelope = harness.envelope(tenant_id, {"orderId": "o-2", "total": 1})
        assert runner.handle_message(envelope.to_message_body()).step_of("hook") is Step.RETRY_SCHEDULED
        meter.clear()
        # When the retry's message arrives (when due) and the second attempt succeeds
        [retry] = harness.queue.sent_for(harness.delivery_of(envelope, "hook").delivery_id)
        harness.clock.advance(retry.delay_seconds)
        runner.handle_message(harness.receive(1)[0]["Body"])
    # Then the failed attempt was copied to its own item, then the retry claimed and settled
    assert meter.operations == ["PutItem", "UpdateItem", "UpdateItem"]
    assert [a.outcome for a in harness.attempts_of(envelope, "hook")] == [
        AttemptOutcome.RETRYABLE,
        AttemptOutcome.SUCCESS,
    ]
    assert harness.delivery_of(envelope, "hook").state is DeliveryState.SUCCEEDED


def test_a_delivery_whose_first_attempt_is_running_is_listed_by_tenant(
    harness: Harness, runner: ActionRunner, tenant_id: str
) -> None:
    # Given a target that holds the first call until the test has looked at the listings
    looked = threading.Event()
    called = threading.Event()

    def held(_request: RecordedRequest) -> Reply:
        called.set()
        looked.wait(10)
        return Reply()

    with RecordingServer(held) as target:
        setup_hook(harness, tenant_id, target)
        envelope = harness.envelope(tenant_id, {"orderId": "o-3", "total": 1})
        running = threading.Thread(target=runner.handle_message, args=(envelope.to_message_body(),))
        running.start()
        try:
            assert called.wait(10)
            # While the attempt runs, the tenant's listing shows the delivery in flight
            [listed] = list(harness.deliveries.list_by_tenant(tenant_id))
            assert (listed.event_id, listed.in_flight, listed.attempts) == (envelope.eventId, True, 1)
        finally:
            looked.set()
            running.join(10)
    # And once settled it is in every listing (the event's and the state's join at the settlement)
    assert [d.state for d in harness.deliveries.list_by_tenant(tenant_id)] == [DeliveryState.SUCCEEDED]
    assert [d.rule_name for d in harness.deliveries.list_by_event(tenant_id, envelope.eventId)] == ["hook"]
    assert len(list(harness.deliveries.list_by_state(tenant_id, DeliveryState.SUCCEEDED))) == 1
