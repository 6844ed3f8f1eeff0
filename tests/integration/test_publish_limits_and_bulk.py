"""Exact limits under concurrency through the handler, and bulk jobs end to end."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from eventrelay.admin import AdminService, TenantWithSecret
from eventrelay.aws import dynamodb_client
from eventrelay.bulk import JobStatus, JobStore
from eventrelay.ratelimit import LimitKind
from eventrelay.roots.events import EventServices
from eventrelay.settings import Settings
from tests.support.api import ApiAnswer, ApiCaller, ControlledClock
from tests.support.queues import drain


@pytest.mark.slow
def test_150_concurrent_publishes_admit_exactly_100_in_one_minute_window(
    api: ApiCaller, admin: AdminService, tenant: TenantWithSecret, settings: Settings
) -> None:
    # Given 150 publishers (threads, each its own handler instance) starting together in one minute window
    start = threading.Barrier(50)

    def publish(i: int) -> ApiAnswer:
        if i < 50:
            start.wait()
        return api.publish(tenant.tenant.tenant_id, tenant.shared_secret, {"n": i})

    with ThreadPoolExecutor(max_workers=50) as pool:
        answers = list(pool.map(publish, range(150)))
    # Then exactly 100 are admitted and 50 refused with Retry-After
    admitted = [a for a in answers if a.status == 200]
    refused = [a for a in answers if a.status == 429]
    assert (len(admitted), len(refused)) == (100, 50)
    assert all(a.error_code == "1006" and int(a.headers["retry-after"]) > 0 for a in refused)
    # And the minute counter ends at exactly 100, with 100 envelopes on the queue
    minute, day = admin.tenants.window_usage(tenant.tenant.tenant_id)[LimitKind.SYNC.value]
    assert (minute.count, day.count) == (100, 100)
    envelopes = [
        m for m in drain(settings.events_queue_url) if m["body"]["tenantId"] == tenant.tenant.tenant_id
    ]
    assert len(envelopes) == 100


def run_bulk_worker(settings: Settings, services: EventServices) -> int:
    """Process what the jobs queue holds, as the bulk worker Lambda would."""
    messages = drain(settings.jobs_queue_url)
    for message in messages:
        services.bulk_worker.process(json.dumps(message["body"]))
    return len(messages)


def test_bulk_with_valid_and_invalid_items_ends_partial_success_with_exact_counts(
    api: ApiCaller, admin: AdminService, tenant: TenantWithSecret, settings: Settings, services: EventServices
) -> None:
    tenant_id = tenant.tenant.tenant_id
    admin.events.register(
        tenant_id, "InvoicePaid", "v01", json_schema={"type": "object", "required": ["invoiceId"]}
    )
    events = [
        {"eventName": "OrderPlaced", "eventVersion": "v01", "payload": {"orderId": "1"}},
        {"eventName": "InvoicePaid", "eventVersion": "v01", "payload": {"invoiceId": "i-1"}},
        {"eventName": "InvoicePaid", "eventVersion": "v01", "payload": {"amount": 3}},
        {"eventName": "Unknown", "eventVersion": "v01", "payload": {}},
        {"eventName": "OrderPlaced", "payload": {}},
        "not an object",
    ]
    # When the bulk call is made
    accepted = api.bulk(tenant_id, tenant.shared_secret, events)
    assert accepted.status == 202
    job_id = accepted.body["data"]["jobId"]
    assert accepted.body["data"] == {"jobId": job_id, "status": "ACCEPTED", "totalCount": 6}
    assert accepted.headers["ratelimit-limit"] == "10"
    assert api.job(tenant_id, tenant.shared_secret, job_id).body["data"]["status"] == "ACCEPTED"
    # And the worker processes the job in the background
    assert run_bulk_worker(settings, services) == 1
    status = api.job(tenant_id, tenant.shared_secret, job_id)
    # Then the job reports exact counts and each failed item's error
    data = status.body["data"]
    assert (status.status, data["status"]) == (200, "PARTIAL_SUCCESS")
    assert (data["totalCount"], data["successCount"], data["failureCount"]) == (6, 2, 4)
    errors = {e["index"]: e for e in data["errors"]}
    assert sorted(errors) == [2, 3, 4, 5]
    assert (errors[2]["errorCode"], errors[3]["errorCode"], errors[4]["errorCode"]) == (
        "1004",
        "1001",
        "1004",
    )
    assert "invoiceId" in errors[2]["message"]
    assert errors[3]["message"] == "Event is not registered"
    assert "eventVersion" in errors[4]["message"]
    assert errors[5]["errorCode"] == "1004"
    # And exactly the two valid events are on the events queue, with the ids the job reports
    envelopes = [m["body"] for m in drain(settings.events_queue_url) if m["body"]["tenantId"] == tenant_id]
    assert sorted(e["eventId"] for e in envelopes) == sorted(a["eventId"] for a in data["accepted"])
    assert {e["source"] for e in envelopes} == {"bulk"}


def test_a_job_redelivered_after_a_crash_enqueues_the_same_event_ids_again(
    api: ApiCaller,
    tenant: TenantWithSecret,
    settings: Settings,
    services: EventServices,
    clock: ControlledClock,
) -> None:
    tenant_id = tenant.tenant.tenant_id
    events = [
        {"eventName": "OrderPlaced", "eventVersion": "v01", "payload": {"orderId": str(i)}} for i in range(3)
    ]
    api.bulk(tenant_id, tenant.shared_secret, events)
    [message] = drain(settings.jobs_queue_url)
    body = json.dumps(message["body"])
    first = services.bulk_worker.process(body)
    # Given a worker that died after enqueueing but before recording the result (the job is still PROCESSING)
    jobs = JobStore(settings.config_table, dynamodb_client(settings.region))
    jobs.put(first.model_copy(update={"status": JobStatus.PROCESSING}), clock())
    # When SQS redelivers the job message
    again = services.bulk_worker.process(body)
    # Then the same three eventIds are enqueued again (deliveries are keyed by eventId), not new events
    assert first.status is JobStatus.SUCCESS
    assert again.accepted == first.accepted
    envelope_ids = [m["body"]["eventId"] for m in drain(settings.events_queue_url)]
    assert len(envelope_ids) == 6
    assert sorted(set(envelope_ids)) == sorted(a.eventId for a in first.accepted)
    # And a finished job's message is not processed a third time
    assert services.bulk_worker.process(body).accepted == first.accepted
    assert drain(settings.events_queue_url) == []


def test_the_11th_bulk_call_in_an_hour_is_refused(
    api: ApiCaller, tenant: TenantWithSecret, settings: Settings
) -> None:
    events = [{"eventName": "OrderPlaced", "eventVersion": "v01", "payload": {}}]
    answers = [api.bulk(tenant.tenant.tenant_id, tenant.shared_secret, events) for _ in range(11)]
    assert [a.status for a in answers] == [202] * 10 + [429]
    assert answers[-1].error_code == "1006"
    assert "hour" in answers[-1].body["message"]
    assert int(answers[-1].headers["retry-after"]) > 0
    drain(settings.jobs_queue_url)


def test_bulk_shape_errors_answer_1004_at_once(api: ApiCaller, tenant: TenantWithSecret) -> None:
    empty = api.bulk(tenant.tenant.tenant_id, tenant.shared_secret, [])
    too_many = api.bulk(tenant.tenant.tenant_id, tenant.shared_secret, [{}] * 101)
    assert (empty.status, empty.error_code) == (400, "1004")
    assert (too_many.status, too_many.error_code) == (400, "1004")
    assert "at most 100" in too_many.body["message"]


def test_job_of_another_tenant_is_not_found(
    api: ApiCaller, admin: AdminService, tenant: TenantWithSecret, settings: Settings
) -> None:
    accepted = api.bulk(
        tenant.tenant.tenant_id,
        tenant.shared_secret,
        [{"eventName": "OrderPlaced", "eventVersion": "v01", "payload": {}}],
    )
    other = admin.tenants.create(tenant.tenant.tenant_id + "-other", "Other")
    answer = api.job(other.tenant.tenant_id, other.shared_secret, accepted.body["data"]["jobId"])
    assert (answer.status, answer.error_code) == (404, "1011")
    drain(settings.jobs_queue_url)


def test_a_bulk_item_that_cannot_travel_as_json_is_that_items_1003_not_the_requests(
    api: ApiCaller, tenant: TenantWithSecret, settings: Settings, services: EventServices
) -> None:
    tenant_id = tenant.tenant.tenant_id
    # Given items 1 and 2 hold a lone surrogate and an out-of-range number, items 0 and 3 are fine
    raw_body = (
        b'{"events": ['
        b'{"eventName": "OrderPlaced", "eventVersion": "v01", "payload": {"orderId": "1"}},'
        b'{"eventName": "OrderPlaced", "eventVersion": "v01", "payload": {"note": "\\ud800"}},'
        b'{"eventName": "OrderPlaced", "eventVersion": "v01", "payload": {"total": 1e999}},'
        b'{"eventName": "OrderPlaced", "eventVersion": "v01", "payload": {"orderId": "4"}}'
        b"]}"
    )
    # When the bulk call is made and the worker runs
    accepted = api.bulk(tenant_id, tenant.shared_secret, None, raw_body=raw_body)
    assert accepted.status == 202
    assert run_bulk_worker(settings, services) == 1
    data = api.job(tenant_id, tenant.shared_secret, accepted.body["data"]["jobId"]).body["data"]
    # Then only those two items failed, each with 1003 and the reason
    assert (data["status"], data["successCount"], data["failureCount"]) == ("PARTIAL_SUCCESS", 2, 2)
    assert [(e["index"], e["errorCode"], e["eventName"]) for e in data["errors"]] == [
        (1, "1003", "OrderPlaced"),
        (2, "1003", "OrderPlaced"),
    ]
    assert "lone UTF-16 surrogate" in data["errors"][0]["message"]
    assert "out of range" in data["errors"][1]["message"]
    # And the two good events are on the queue
    envelopes = [m["body"] for m in drain(settings.events_queue_url) if m["body"]["tenantId"] == tenant_id]
    assert sorted(e["payload"]["orderId"] for e in envelopes) == ["1", "4"]
