"""Delivery ids, idempotency keys and the delivery message format."""

from __future__ import annotations

import json

import pytest

from eventrelay.delivery.models import Delivery, DeliveryMessage, DeliveryState, delivery_id_for


def test_delivery_ids_are_deterministic_per_tenant_event_and_rule() -> None:
    first = delivery_id_for("t1", "e1", "rule-a")
    assert first == delivery_id_for("t1", "e1", "rule-a")
    others = {
        delivery_id_for("t1", "e1", "rule-b"),
        delivery_id_for("t2", "e1", "rule-a"),
        delivery_id_for("t1", "e2", "rule-a"),
        delivery_id_for("t1", "e1rule", "-a"),
    }
    assert first not in others
    assert len(others) == 4
    assert first.startswith("d-")
    assert len(first) == 34


def test_the_idempotency_key_is_stable_within_a_round_and_new_for_each_replay() -> None:
    delivery = Delivery("d-1", "t", "e", "E", "v01", "r", "a", DeliveryState.PENDING, 0.0, 0.0)
    assert delivery.idempotency_key == "eventrelay-d-1"
    assert delivery.with_changes(attempts=3).idempotency_key == "eventrelay-d-1"
    assert delivery.with_changes(round=2).idempotency_key == "eventrelay-d-1-r2"


def test_delivery_messages_round_trip_and_refuse_garbage() -> None:
    message = DeliveryMessage("d-1", "t1", 3, "retry")
    data = json.loads(message.to_body())
    assert data["kind"] == "eventrelay.delivery"
    assert DeliveryMessage.from_dict(data) == message
    with pytest.raises(ValueError, match="needs deliveryId"):
        DeliveryMessage.from_dict({"kind": "eventrelay.delivery", "deliveryId": "d-1", "attempt": "3"})
