"""The local HTTP API under load: the real publish function, in worker processes, behind werkzeug.

Every publish below goes over a real socket to the gateway on 127.0.0.1, into an instance of the
project's PublishFunction (template.yaml's handler, timeout and environment), whose events queue
is a queue of this module alone: what is on it afterwards is exactly what the publishes enqueued.
Once every publisher has its answer every invocation has ended (a killed one can do nothing more),
so the queue is read once, with no waiting for stragglers.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from eventrelay.aws import sqs_client
from eventrelay_cli.local.environment import LocalAws, unique_name
from eventrelay_cli.local.http_gateway import HttpGateway
from eventrelay_cli.local.lambda_runtime import LocalFunction, read_function_specs
from tests.conftest import TEMPLATE
from tests.support.publishers import (
    Publication,
    create_publishers,
    publish_all_at_once,
    publish_concurrently,
)
from tests.support.queues import drain

SIMULTANEOUS_CONNECTIONS = 300
POOL_SIZE = 8  # PublishFunction instances (worker processes) at most
# Tenants share the load so that no tenant passes its default limit (100 publishes a minute).
TENANTS = 5
SOAK_TENANTS = 4
SOAK_PUBLISHES_PER_TENANT = 40
SOAK_REPLAYS_PER_TENANT = 10
SOAK_CONCURRENCY = 24


@pytest.fixture(scope="module")
def publish_api(local_aws: LocalAws) -> Iterator[tuple[str, str]]:
    """(API URL, events queue URL): the publish routes served by PublishFunction in worker processes."""
    sqs = sqs_client(local_aws.settings.region)
    events_queue = sqs.create_queue(QueueName=unique_name("local-load-events"))["QueueUrl"]
    spec = read_function_specs(TEMPLATE)["PublishFunction"]
    environment = {**local_aws.function_environment(spec), "EVENTRELAY_EVENTS_QUEUE_URL": events_queue}
    function = LocalFunction.from_spec(spec, environment=environment, max_instances=POOL_SIZE)
    gateway = HttpGateway()
    gateway.add_routes([route.route_key for route in spec.http_routes], function)
    gateway.start()
    # Start the instances and take them through their first publish (the handlers build their
    # clients lazily) before the load: these tests are about connections and delivery, not about
    # how long eight cold starts take on a shared two-core machine. Their events are removed.
    warm_up = create_publishers(local_aws.settings, 1) * POOL_SIZE
    for round_ in range(5):  # a round that starts no new instance leaves them all warm
        started = function.cold_starts
        publish_all_at_once(gateway.url, [(p, f"warm-up-{round_}-{n}") for n, p in enumerate(warm_up)])
        if function.cold_starts == started and function.instance_count == POOL_SIZE:
            break
    drain(events_queue, max_rounds=200)
    try:
        yield gateway.url, events_queue
    finally:
        gateway.stop()
        sqs.delete_queue(QueueUrl=events_queue)


def envelopes_by_marker(events_queue: str) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for message in drain(events_queue, max_rounds=200):
        envelope = message["body"]
        found.setdefault(str(envelope["payload"].get("marker")), []).append(envelope)
    return found


def assert_each_accepted_event_delivered_once_under_its_tenant(
    publications: list[Publication], delivered: dict[str, list[dict[str, Any]]]
) -> None:
    for publication in publications:
        envelopes = delivered.get(publication.marker, [])
        if publication.status != 200:
            assert envelopes == [], f"{publication.marker} was refused ({publication.status}) yet delivered"
            continue
        assert len(envelopes) == 1, f"{publication.marker}: delivered {len(envelopes)} times"
        [envelope] = envelopes
        tenant = publication.publisher.tenant_id
        assert envelope["eventId"] == publication.event_id
        assert envelope["tenantId"] == tenant
        assert envelope["payload"] == {"tenant": tenant, "marker": publication.marker}
        assert envelope["requestId"] == publication.request_id


def test_300_simultaneous_connections_get_300_answers_and_each_accepted_event_once(
    local_aws: LocalAws, publish_api: tuple[str, str]
) -> None:
    api_url, events_queue = publish_api
    publishers = create_publishers(local_aws.settings, TENANTS)
    senders = [
        (publishers[index % TENANTS], f"conn-{index}-{publishers[index % TENANTS].tenant_id}")
        for index in range(SIMULTANEOUS_CONNECTIONS)
    ]
    # When 300 publishers connect, then all send at the same moment
    publications = publish_all_at_once(api_url, senders)
    # Then each got an HTTP answer: no reset, no timeout, no 5xx, all accepted
    assert Counter(p.failure for p in publications if p.failure) == Counter()
    statuses = Counter(p.status for p in publications)
    assert sum(count for status, count in statuses.items() if status and status >= 500) == 0, statuses
    assert statuses == Counter({200: SIMULTANEOUS_CONNECTIONS})
    # And every accepted event is on the events queue exactly once, under its publisher's tenant
    delivered = envelopes_by_marker(events_queue)
    assert_each_accepted_event_delivered_once_under_its_tenant(publications, delivered)
    assert sum(len(envelopes) for envelopes in delivered.values()) == SIMULTANEOUS_CONNECTIONS


def test_a_soak_of_concurrent_tenants_keeps_every_event_with_the_tenant_that_sent_it(
    local_aws: LocalAws, publish_api: tuple[str, str]
) -> None:
    api_url, events_queue = publish_api
    publishers = create_publishers(local_aws.settings, SOAK_TENANTS)
    senders = [
        (publisher, f"soak-{publisher.tenant_id}-{n}")
        for n in range(SOAK_PUBLISHES_PER_TENANT)
        for publisher in publishers
    ]
    # When the tenants publish concurrently, each event with an Idempotency-Key (stored per tenant)
    publications = publish_concurrently(api_url, senders, SOAK_CONCURRENCY, idempotency_keys=True)
    assert Counter(p.status for p in publications) == Counter({200: len(senders)})
    # And some of them are retried with the same key, concurrently too
    retried = [
        (p.publisher, p.marker)
        for p in publications
        if int(p.marker.rsplit("-", 1)[1]) < SOAK_REPLAYS_PER_TENANT
    ]
    replays = publish_concurrently(api_url, retried, SOAK_CONCURRENCY, idempotency_keys=True)
    # Then each retry found the event stored under its own tenant: the same eventId, nothing enqueued
    first_answer = {p.marker: p.event_id for p in publications}
    assert len(replays) == SOAK_TENANTS * SOAK_REPLAYS_PER_TENANT
    for replay in replays:
        assert replay.status == 200
        assert replay.event_id == first_answer[replay.marker]
    # And every event is on the queue once, with its tenant, its payload and its request's id
    delivered = envelopes_by_marker(events_queue)
    assert_each_accepted_event_delivered_once_under_its_tenant(publications, delivered)
    assert sum(len(envelopes) for envelopes in delivered.values()) == len(senders)
    tenants_seen = Counter(envelopes[0]["tenantId"] for envelopes in delivered.values())
    assert tenants_seen == Counter({p.tenant_id: SOAK_PUBLISHES_PER_TENANT for p in publishers})
