"""A message the runner cannot store becomes a FAILED delivery with a reason (issue 8 item 7, runner side).

A delivery item holds its copy of the event, and a DynamoDB item holds at most 400 KB: an event
larger than that used to fail its record on every receive ("Item size has exceeded the maximum
allowed size") until the message reached the dead-letter queue.
"""

from __future__ import annotations

import uuid

import pytest

from eventrelay.aws import dynamodb_client
from eventrelay.delivery.models import AttemptOutcome, DeliveryState
from eventrelay.dynamodb import MAX_ITEM_BYTES, Table, item_size
from eventrelay.errors import DependencyFailure
from eventrelay.settings import Settings
from tests.support.delivery import Harness
from tests.support.http_servers import RecordingServer


def setup_hook(harness: Harness, tenant_id: str, target: RecordingServer) -> None:
    harness.connector(tenant_id, target.url())
    harness.action(tenant_id, name="hook", url="/hook", payload='{"n": {{n}}}')
    harness.rule(tenant_id, name="hook", action="hook", mapping={"n": "$.n"})


def test_an_event_too_large_to_store_with_its_delivery_ends_failed_with_the_reason(
    harness: Harness, tenant_id: str
) -> None:
    with RecordingServer() as target:
        setup_hook(harness, tenant_id, target)
        # Given an event whose copy does not fit in a DynamoDB item (450 KB of payload)
        envelope = harness.envelope(tenant_id, {"n": 1, "blob": "x" * 450_000})
        harness.publish(envelope)
        # When the runner gets it (pump fails if any record fails)
        harness.pump()
        # Then the delivery is FAILED with the reason, nothing was called, and no record failed
        delivery = harness.delivery_of(envelope, "hook")
        assert (delivery.state, delivery.attempts, delivery.in_flight) == (DeliveryState.FAILED, 0, False)
        assert delivery.last_outcome == "PERMANENT"
        assert delivery.last_error is not None
        assert "too large to keep with its delivery" in delivery.last_error
        assert "409,600" in delivery.last_error
        assert delivery.envelope is None
        assert target.requests == []
        # And when SQS delivers the event again, it is still one FAILED delivery
        harness.publish(envelope)
        harness.pump()
        assert harness.delivery_of(envelope, "hook").state is DeliveryState.FAILED
        assert len(list(harness.deliveries.list_by_event(tenant_id, envelope.eventId))) == 1


def test_replaying_a_delivery_stored_without_its_event_fails_it_permanently(
    harness: Harness, tenant_id: str
) -> None:
    with RecordingServer() as target:
        setup_hook(harness, tenant_id, target)
        envelope = harness.envelope(tenant_id, {"n": 1, "blob": "x" * 450_000})
        harness.publish(envelope)
        harness.pump()
        delivery = harness.delivery_of(envelope, "hook")
        # When it is replayed
        harness.replay.replay(tenant_id, delivery.delivery_id)
        harness.pump()
        # Then the attempt fails permanently with the reason; no record failed, nothing was called
        replayed = harness.delivery_of(envelope, "hook")
        assert (replayed.state, replayed.attempts) == (DeliveryState.FAILED, 1)
        [attempt] = harness.attempts_of(envelope, "hook")
        assert attempt.outcome is AttemptOutcome.PERMANENT
        assert attempt.error == "the event was not kept with this delivery"
        assert target.requests == []


def test_an_event_that_fits_is_delivered(harness: Harness, tenant_id: str) -> None:
    with RecordingServer() as target:
        setup_hook(harness, tenant_id, target)
        envelope = harness.envelope(tenant_id, {"n": 1, "blob": "x" * 380_000})
        harness.publish(envelope)
        harness.pump()
        assert harness.delivery_of(envelope, "hook").state is DeliveryState.SUCCEEDED
        assert len(target.requests) == 1


@pytest.mark.parametrize("extra", [0, 1])
def test_item_size_counts_as_dynamodb_does(settings: Settings, extra: int) -> None:
    # An item of exactly the limit by item_size is stored; one byte more is refused by DynamoDB itself
    table = Table(settings.deliveries_table, dynamodb_client(settings.region))
    item = {"pk": f"SIZE#{uuid.uuid4().hex}", "sk": "DELIVERY", "blob": ""}
    room = MAX_ITEM_BYTES - item_size(item)
    item["blob"] = "é" * (room // 2) + "x" * (room % 2 + extra)  # "é" is 2 bytes in UTF-8
    assert item_size(item) == MAX_ITEM_BYTES + extra
    if extra:
        with pytest.raises(DependencyFailure):
            table.put(item)
    else:
        table.put(item)
        assert table.get({"pk": item["pk"], "sk": "DELIVERY"}) == item
