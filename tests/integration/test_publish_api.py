"""The publish API end to end through the real handler, with AWS over HTTP (DynamoDB Local, moto server)."""

from __future__ import annotations

import json
import uuid

import boto3
import pytest
from botocore.config import Config

from eventrelay.admin import AdminService, TenantWithSecret
from eventrelay.envelopes import MessageQueue
from eventrelay.http_api import ACCEPTED_MESSAGE, build_app
from eventrelay.publishing import MAX_EVENT_BODY_BYTES
from eventrelay.ratelimit import LimitKind
from eventrelay.registrations import RegistrationKind
from eventrelay.roots import AwsClients
from eventrelay.roots.events import EventServices, build_event_services
from eventrelay.settings import Settings
from eventrelay.tenants import LimitOverrides
from eventrelay_cli.local.backends import free_port
from tests.support.api import ApiCaller, ControlledClock
from tests.support.queues import drain

ORDER = {"orderId": "o-1", "total": 12.5}


def envelopes_for(settings: Settings, tenant_id: str) -> list[dict[str, object]]:
    return [m["body"] for m in drain(settings.events_queue_url) if m["body"]["tenantId"] == tenant_id]


def usage(services: EventServices, admin: AdminService, tenant_id: str, kind: LimitKind) -> list[int]:
    return [w.count for w in admin.tenants.window_usage(tenant_id)[kind.value]]


def test_accepted_event_is_answered_with_its_id_and_lands_on_the_queue_as_an_envelope(
    api: ApiCaller, tenant: TenantWithSecret, settings: Settings
) -> None:
    # When a registered event is published
    answer = api.publish(tenant.tenant.tenant_id, tenant.shared_secret, ORDER)
    # Then the answer is the contract's success body
    assert answer.status == 200
    event_id = answer.body["data"]["eventId"]
    assert uuid.UUID(event_id)
    assert answer.body == {
        "result": True,
        "data": {"eventId": event_id},
        "message": ACCEPTED_MESSAGE,
        "messages": [ACCEPTED_MESSAGE],
    }
    assert answer.headers["ratelimit-limit"] == "100"
    assert answer.headers["ratelimit-remaining"] == "99"
    assert 1 <= int(answer.headers["ratelimit-reset"]) <= 60
    # And the queue holds exactly one envelope for it
    [envelope] = envelopes_for(settings, tenant.tenant.tenant_id)
    assert envelope["eventId"] == event_id
    assert envelope["eventName"] == "OrderPlaced"
    assert envelope["eventVersion"] == "v01"
    assert envelope["payload"] == ORDER
    assert envelope["requestId"].startswith("req-")  # type: ignore[union-attr]
    assert str(envelope["receivedAt"]).endswith("Z")


def test_unregistered_event_answers_the_exact_1001_body(api: ApiCaller, tenant: TenantWithSecret) -> None:
    answer = api.publish(tenant.tenant.tenant_id, tenant.shared_secret, ORDER, event_name="NotRegistered")
    assert answer.status == 400
    request_id = answer.body.pop("requestId")
    assert request_id
    assert answer.body == {
        "result": False,
        "errorCode": "1001",
        "errorDesc": "Oops, something went wrong! Please contact Tech Support to report. ",
        "message": "Event is not registered",
        "messages": ["Event is not registered"],
    }


@pytest.mark.parametrize("missing", ["eventName", "eventVersion", "sharedSecret", "tenantId"])
def test_each_missing_header_answers_1002_naming_it(
    api: ApiCaller, tenant: TenantWithSecret, missing: str
) -> None:
    from tests.support.api import PUBLISH_PATH, http_event

    headers = {
        "Content-Type": "application/json",
        "tenantId": tenant.tenant.tenant_id,
        "sharedSecret": tenant.shared_secret,
        "eventName": "OrderPlaced",
        "eventVersion": "v01",
    }
    del headers[missing]
    answer = api.call(http_event("POST", PUBLISH_PATH, headers, json.dumps(ORDER)))
    assert (answer.status, answer.error_code) == (400, "1002")
    assert answer.body["message"] == f"Missing required header: {missing}"
    assert answer.body["messages"] == [answer.body["message"]]
    assert answer.body["requestId"]


def test_malformed_headers_answer_1002(api: ApiCaller, tenant: TenantWithSecret) -> None:
    bad_version = api.publish(tenant.tenant.tenant_id, tenant.shared_secret, ORDER, event_version="1")
    bad_key = api.publish(
        tenant.tenant.tenant_id, tenant.shared_secret, ORDER, extra_headers={"Idempotency-Key": "has space"}
    )
    assert (bad_version.status, bad_version.error_code) == (400, "1002")
    assert "eventVersion" in bad_version.body["message"]
    assert (bad_key.status, bad_key.error_code) == (400, "1002")
    assert "Idempotency-Key" in bad_key.body["message"]


def test_header_names_are_case_insensitive(api: ApiCaller, tenant: TenantWithSecret) -> None:
    answer = api.publish(
        "ignored",
        "ignored",
        ORDER,
        extra_headers={"TENANTID": tenant.tenant.tenant_id, "SharedSecret": tenant.shared_secret},
    )
    assert answer.status == 200


@pytest.mark.parametrize(
    ("raw_body", "reason"),
    [
        (b'{"orderId": ', "not valid JSON"),
        (b"[1, 2, 3]", "must be a JSON object"),
        (b'"text"', "must be a JSON object"),
        (b"null", "must be a JSON object"),
        (b'{"a": NaN}', "not valid JSON"),
        (b'{"name": "\xff\xfe"}', "not valid UTF-8"),
        (b"[" * 10_000 + b"]" * 10_000, "nested too deeply"),
        (b'{"a":' * 10_000 + b"1" + b"}" * 10_000, "nested too deeply"),
        # Values json.loads takes but JSON cannot carry on: refused, never "retry" (1009) for ever
        (b'{"a": "\\ud800"}', "lone UTF-16 surrogate"),
        (b'{"a": ["ok", {"b": "x\\udfff"}]}', "lone UTF-16 surrogate"),
        (b'{"\\udc00": 1}', "lone UTF-16 surrogate"),
        (b'{"a": 1e999}', "out of range"),
        (b'{"a": [-1E400]}', "out of range"),
    ],
)
def test_bodies_that_are_not_json_objects_answer_1003(
    api: ApiCaller, tenant: TenantWithSecret, settings: Settings, raw_body: bytes, reason: str
) -> None:
    answer = api.publish(tenant.tenant.tenant_id, tenant.shared_secret, None, raw_body=raw_body)
    assert (answer.status, answer.error_code) == (400, "1003")
    assert reason in answer.body["message"]
    assert envelopes_for(settings, tenant.tenant.tenant_id) == []


def test_escaped_surrogate_pairs_and_large_finite_numbers_are_accepted_as_sent(
    api: ApiCaller, tenant: TenantWithSecret, settings: Settings
) -> None:
    # A well-formed pair is one character; 1e308 is still a finite float
    answer = api.publish(
        tenant.tenant.tenant_id,
        tenant.shared_secret,
        None,
        raw_body=b'{"emoji": "\\ud83d\\ude00", "n": 1e308}',
    )
    assert answer.status == 200
    [envelope] = envelopes_for(settings, tenant.tenant.tenant_id)
    assert envelope["payload"] == {"emoji": "\U0001f600", "n": 1e308}


def test_system_asset_types_spelled_as_the_original_documents_are_accepted_and_travel_as_sent(
    api: ApiCaller, admin: AdminService, tenant: TenantWithSecret, settings: Settings
) -> None:
    tenant_id = tenant.tenant.tenant_id
    admin.events.register(tenant_id, "SystemAssetEvent", "v01", RegistrationKind.SYSTEM_ASSET)
    sent = {"tenantId": tenant_id, "assetType": "Objects", "assetId": "a-1", "operation": "INSERT"}
    answer = api.publish(tenant_id, tenant.shared_secret, sent, event_name="SystemAssetEvent")
    assert answer.status == 200
    [envelope] = envelopes_for(settings, tenant_id)
    assert envelope["payload"] == sent


def test_system_asset_events_are_validated_field_by_field(
    api: ApiCaller, admin: AdminService, tenant: TenantWithSecret
) -> None:
    tenant_id = tenant.tenant.tenant_id
    admin.events.register(tenant_id, "SystemAssetEvent", "v01", RegistrationKind.SYSTEM_ASSET)
    valid = {
        "tenantId": tenant_id,
        "assetType": "OBJECTS",
        "assetId": "a-1",
        "operation": "UPSERT",
        "operationType": "DATA",
        "recordCount": 3,
        "customField": {"kept": True},
    }
    ok = api.publish(tenant_id, tenant.shared_secret, valid, event_name="SystemAssetEvent")
    assert ok.status == 200

    invalid = {
        "tenantId": tenant_id,
        "assetType": "TABLES",
        "operation": "MERGE",
        "operationType": "SCHEMA",
        "recordCount": -1,
        "objectName": 7,
    }
    answer = api.publish(tenant_id, tenant.shared_secret, invalid, event_name="SystemAssetEvent")
    assert (answer.status, answer.error_code) == (400, "1004")
    message = answer.body["message"]
    for field in ("assetType", "assetId", "operation", "operationType", "recordCount", "objectName"):
        assert field in message, field

    master = {**valid, "assetType": "COLLECTION_MASTER"}
    refused = api.publish(tenant_id, tenant.shared_secret, master, event_name="SystemAssetEvent")
    assert refused.error_code == "1004"
    assert "COLLECTION_MASTER" in refused.body["message"]

    master_any_case = {**valid, "assetType": "Collection_Master"}
    refused = api.publish(tenant_id, tenant.shared_secret, master_any_case, event_name="SystemAssetEvent")
    assert refused.error_code == "1004"

    other_tenant = api.publish(
        tenant_id, tenant.shared_secret, {**valid, "tenantId": "someone-else"}, event_name="SystemAssetEvent"
    )
    assert other_tenant.error_code == "1004"
    assert "tenantId" in other_tenant.body["message"]


def test_registrations_with_a_json_schema_validate_payloads(
    api: ApiCaller, admin: AdminService, tenant: TenantWithSecret
) -> None:
    tenant_id = tenant.tenant.tenant_id
    schema = {
        "type": "object",
        "required": ["invoiceId", "amount"],
        "properties": {"invoiceId": {"type": "string"}, "amount": {"type": "number", "minimum": 0}},
    }
    admin.events.register(tenant_id, "InvoicePaid", "v02", json_schema=schema)
    ok = api.publish(
        tenant_id, tenant.shared_secret, {"invoiceId": "i-1", "amount": 10}, "InvoicePaid", "v02"
    )
    bad = api.publish(tenant_id, tenant.shared_secret, {"amount": -5}, "InvoicePaid", "v02")
    assert ok.status == 200
    assert (bad.status, bad.error_code) == (400, "1004")
    assert "invoiceId" in bad.body["message"]
    assert "amount" in bad.body["message"]


def test_unknown_tenant_and_wrong_secret_get_the_same_1005_answer(
    api: ApiCaller, tenant: TenantWithSecret
) -> None:
    wrong_secret = api.publish(tenant.tenant.tenant_id, "not-the-secret", ORDER)
    unknown_tenant = api.publish("nobody-" + uuid.uuid4().hex[:8], "not-the-secret", ORDER)
    unregistered_unknown = api.publish("nobody-x", "x", ORDER, event_name="NotRegistered")
    for answer in (wrong_secret, unknown_tenant, unregistered_unknown):
        assert (answer.status, answer.error_code) == (401, "1005")
        answer.body.pop("requestId")
        # Unauthenticated callers learn nothing: no limits, no registration facts.
        assert "ratelimit-limit" not in answer.headers
    assert wrong_secret.body == unknown_tenant.body == unregistered_unknown.body
    assert tenant.shared_secret not in json.dumps(wrong_secret.body)


def test_calls_over_the_minute_limit_answer_1006_with_retry_after(
    api: ApiCaller, admin: AdminService, tenant: TenantWithSecret
) -> None:
    admin.tenants.set_limits(tenant.tenant.tenant_id, LimitOverrides(sync_per_minute=2))
    answers = [api.publish(tenant.tenant.tenant_id, tenant.shared_secret, ORDER) for _ in range(3)]
    assert [a.status for a in answers] == [200, 200, 429]
    refused = answers[2]
    assert refused.error_code == "1006"
    assert "minute" in refused.body["message"]
    assert refused.headers["retry-after"] == "30"  # the controlled clock stands 30 s into the minute
    assert refused.headers["ratelimit-remaining"] == "0"


def test_body_at_the_cap_is_accepted_and_one_byte_more_answers_1007(
    api: ApiCaller, tenant: TenantWithSecret
) -> None:
    def body_of_size(size: int) -> bytes:
        skeleton = b'{"pad":""}'
        return b'{"pad":"' + b"x" * (size - len(skeleton)) + b'"}'

    at_cap = api.publish(
        tenant.tenant.tenant_id, tenant.shared_secret, None, raw_body=body_of_size(MAX_EVENT_BODY_BYTES)
    )
    over = api.publish(
        tenant.tenant.tenant_id, tenant.shared_secret, None, raw_body=body_of_size(MAX_EVENT_BODY_BYTES + 1)
    )
    assert at_cap.status == 200
    assert (over.status, over.error_code) == (413, "1007")


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", ""])
def test_content_types_other_than_json_answer_1008(
    api: ApiCaller, tenant: TenantWithSecret, content_type: str
) -> None:
    answer = api.publish(
        tenant.tenant.tenant_id, tenant.shared_secret, ORDER, extra_headers={"Content-Type": content_type}
    )
    assert (answer.status, answer.error_code) == (415, "1008")


@pytest.mark.parametrize("declared", ["JSON", "json", " Json ", "application/json"])
def test_the_original_products_contenttype_json_header_alone_declares_a_json_body(
    api: ApiCaller, tenant: TenantWithSecret, settings: Settings, declared: str
) -> None:
    # Given a publisher following the original product's header table: `ContentType: JSON`, no Content-Type
    answer = api.publish(
        tenant.tenant.tenant_id,
        tenant.shared_secret,
        ORDER,
        extra_headers={"Content-Type": None, "ContentType": declared},
    )
    assert answer.status == 200
    [envelope] = envelopes_for(settings, tenant.tenant.tenant_id)
    assert envelope["payload"] == ORDER


@pytest.mark.parametrize(
    "headers",
    [
        {"Content-Type": None, "ContentType": "XML"},
        {"Content-Type": None},
        # Content-Type, when sent, decides
        {"Content-Type": "text/plain", "ContentType": "JSON"},
    ],
)
def test_a_body_not_declared_as_json_still_answers_1008(
    api: ApiCaller, tenant: TenantWithSecret, headers: dict[str, str | None]
) -> None:
    answer = api.publish(tenant.tenant.tenant_id, tenant.shared_secret, ORDER, extra_headers=headers)
    assert (answer.status, answer.error_code) == (415, "1008")


def test_json_content_type_with_charset_is_accepted(api: ApiCaller, tenant: TenantWithSecret) -> None:
    answer = api.publish(
        tenant.tenant.tenant_id,
        tenant.shared_secret,
        ORDER,
        extra_headers={"Content-Type": "Application/JSON; charset=utf-8"},
    )
    assert answer.status == 200


def test_failure_to_enqueue_answers_1009_and_refunds_every_window(
    settings: Settings, clock: ControlledClock, admin: AdminService, tenant: TenantWithSecret
) -> None:
    # Given SQS unreachable (nothing listens on the port)
    services = build_event_services(settings, AwsClients.for_settings(settings), clock)
    dead_sqs = boto3.client(
        "sqs",
        region_name=settings.region,
        endpoint_url=f"http://127.0.0.1:{free_port()}",
        config=Config(connect_timeout=0.5, read_timeout=0.5, retries={"total_max_attempts": 1}),
    )
    services.publish._events_queue = MessageQueue(settings.events_queue_url, dead_sqs)
    api = ApiCaller(lambda: build_app(lambda: services))
    tenant_id = tenant.tenant.tenant_id
    assert api.publish(tenant_id, tenant.shared_secret, ORDER, event_name="Missing").error_code == "1001"
    before = usage(services, admin, tenant_id, LimitKind.SYNC)
    # When a valid event cannot be enqueued
    answer = api.publish(tenant_id, tenant.shared_secret, ORDER)
    # Then the publisher is told to retry and the call consumed nothing
    assert (answer.status, answer.error_code) == (503, "1009")
    assert usage(services, admin, tenant_id, LimitKind.SYNC) == before == [1, 1]
    assert envelopes_for(settings, tenant_id) == []


def test_same_idempotency_key_and_body_returns_the_first_event_id_and_enqueues_once(
    api: ApiCaller, tenant: TenantWithSecret, settings: Settings
) -> None:
    key = {"Idempotency-Key": "order-o-1-attempt"}
    first = api.publish(tenant.tenant.tenant_id, tenant.shared_secret, ORDER, extra_headers=key)
    second = api.publish(tenant.tenant.tenant_id, tenant.shared_secret, ORDER, extra_headers=key)
    assert first.status == second.status == 200
    assert first.body == second.body
    assert len(envelopes_for(settings, tenant.tenant.tenant_id)) == 1


def test_same_idempotency_key_with_another_body_answers_1010(
    api: ApiCaller, tenant: TenantWithSecret
) -> None:
    key = {"Idempotency-Key": "k-1"}
    api.publish(tenant.tenant.tenant_id, tenant.shared_secret, ORDER, extra_headers=key)
    other = api.publish(
        tenant.tenant.tenant_id, tenant.shared_secret, {**ORDER, "total": 99}, extra_headers=key
    )
    assert (other.status, other.error_code) == (409, "1010")


def test_idempotency_records_expire_after_24_hours(
    api: ApiCaller, tenant: TenantWithSecret, clock: ControlledClock
) -> None:
    key = {"Idempotency-Key": "k-expiring"}
    first = api.publish(tenant.tenant.tenant_id, tenant.shared_secret, ORDER, extra_headers=key)
    clock.advance(24 * 3600 + 1)
    later = api.publish(
        tenant.tenant.tenant_id, tenant.shared_secret, {**ORDER, "total": 1}, extra_headers=key
    )
    assert later.status == 200
    assert later.body["data"]["eventId"] != first.body["data"]["eventId"]


def test_during_rotation_overlap_both_secrets_work_and_after_it_only_the_new_one(
    api: ApiCaller, admin: AdminService, tenant: TenantWithSecret, clock: ControlledClock
) -> None:
    tenant_id, old_secret = tenant.tenant.tenant_id, tenant.shared_secret
    assert api.publish(tenant_id, old_secret, ORDER).status == 200  # warms the instance's cache
    rotated = admin.tenants.rotate_secret(tenant_id, overlap_seconds=3600)
    clock.advance(5)
    assert api.publish(tenant_id, rotated.shared_secret, ORDER).status == 200
    assert api.publish(tenant_id, old_secret, ORDER).status == 200
    clock.advance(3600)
    assert api.publish(tenant_id, rotated.shared_secret, ORDER).status == 200
    assert api.publish(tenant_id, old_secret, ORDER).error_code == "1005"


def test_rotation_without_overlap_revokes_the_old_secret_within_the_secret_cache_time(
    api: ApiCaller, admin: AdminService, tenant: TenantWithSecret, clock: ControlledClock, settings: Settings
) -> None:
    tenant_id, old_secret = tenant.tenant.tenant_id, tenant.shared_secret
    # Given a warm instance that cached the tenant's secret
    assert api.publish(tenant_id, old_secret, ORDER).status == 200
    cached_at = clock()
    # When the secret is rotated with --overlap 0
    rotated = admin.tenants.rotate_secret(tenant_id, overlap_seconds=0)
    # Then the new secret works at once, and an instance that had not cached the old one refuses it
    assert api.publish(tenant_id, rotated.shared_secret, ORDER).status == 200
    cold_services = build_event_services(settings, AwsClients.for_settings(settings), clock)
    cold = ApiCaller(lambda: build_app(lambda: cold_services))
    assert cold.publish(tenant_id, old_secret, ORDER).error_code == "1005"
    # And the warm instance refuses it once its cached copy is secret_cache_seconds old (the README's bound)
    clock.advance(cached_at + settings.secret_cache_seconds - clock())
    assert api.publish(tenant_id, old_secret, ORDER).error_code == "1005"
    assert api.publish(tenant_id, rotated.shared_secret, ORDER).status == 200


def test_unknown_routes_answer_in_the_contract_shape(api: ApiCaller) -> None:
    from tests.support.api import http_event

    answer = api.call(http_event("POST", "/v1/eventManager/nothing", {}, "{}"))
    assert (answer.status, answer.error_code) == (404, "1011")
    assert answer.body["result"] is False
