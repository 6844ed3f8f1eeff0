"""Delivery records are queryable by tenant and time, by event, and by state; attempts by delivery."""

from __future__ import annotations

from eventrelay.delivery.models import DeliveryState
from eventrelay.delivery.replay import DeliveryFilter, find_deliveries
from tests.support.delivery import Harness
from tests.support.http_servers import RecordedRequest, RecordingServer, Reply


def test_deliveries_by_tenant_and_time_by_event_and_by_state(harness: Harness, tenant_id: str) -> None:
    def answer(request: RecordedRequest) -> Reply:
        return Reply(status=400 if request.path.endswith("/bad") else 200)

    with RecordingServer(answer) as server:
        harness.connector(tenant_id, server.url())
        harness.action(tenant_id, name="hook", url="/{{kind}}", maxRetries=0)
        harness.action(tenant_id, name="audit", url="/audit")
        harness.rule(tenant_id, name="hook", action="hook", mapping={"kind": "$.kind"})
        harness.rule(tenant_id, name="audit", action="audit")
        first = harness.envelope(tenant_id, {"kind": "good"})
        harness.handle(first)
        harness.clock.advance(600)
        middle = harness.clock()
        second = harness.envelope(tenant_id, {"kind": "bad"})
        harness.handle(second)
    store = harness.deliveries
    # By tenant, newest first, optionally within a time range
    newest_first = [(d.event_id, d.rule_name) for d in store.list_by_tenant(tenant_id)]
    assert newest_first[:2] in (
        [(second.eventId, "audit"), (second.eventId, "hook")],
        [(second.eventId, "hook"), (second.eventId, "audit")],
    )
    assert {d.event_id for d in store.list_by_tenant(tenant_id, since=middle)} == {second.eventId}
    assert {d.event_id for d in store.list_by_tenant(tenant_id, until=middle - 1)} == {first.eventId}
    # By event, in rule order
    assert [d.rule_name for d in store.list_by_event(tenant_id, first.eventId)] == ["audit", "hook"]
    # By state
    failed = list(store.list_by_state(tenant_id, DeliveryState.FAILED))
    assert [(d.event_id, d.rule_name, d.last_status) for d in failed] == [(second.eventId, "hook", 400)]
    assert len(list(store.list_by_state(tenant_id, DeliveryState.SUCCEEDED))) == 3
    # Filters combine (what `delivery list` uses)
    assert [
        d.rule_name for d in find_deliveries(store, DeliveryFilter(tenant_id, action="audit", since=middle))
    ] == ["audit"]
    # Other tenants see nothing
    assert list(store.list_by_tenant("someone-else")) == []
    assert list(store.list_by_event("someone-else", first.eventId)) == []


def test_records_expire_after_the_documented_retention(harness: Harness, tenant_id: str) -> None:
    with RecordingServer() as server:
        harness.connector(tenant_id, server.url())
        harness.action(tenant_id, name="hook", url="/hook")
        harness.rule(tenant_id, name="hook", action="hook")
        envelope = harness.envelope(tenant_id, {})
        harness.handle(envelope)
    delivery = harness.delivery_of(envelope, "hook")
    # 30 days after the last write the items are gone (DynamoDB TTL; reads ignore expired items too)
    harness.clock.advance(30 * 24 * 3600 - 60)
    assert harness.deliveries.get(delivery.delivery_id) is not None
    harness.clock.advance(120)
    assert harness.deliveries.get(delivery.delivery_id) is None
    assert harness.deliveries.attempts(delivery.delivery_id) == []
