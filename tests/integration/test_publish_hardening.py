"""Issue 8 on the publish path, through the handler on the emulators: what unauthenticated callers
cost (item 3), what "not accepted" means when SQS stalls (item 8), and events that must travel as
received and fit where they are stored (item 7)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.config import Config

from eventrelay.admin import AdminService, TenantWithSecret
from eventrelay.aws import dynamodb_client, secretsmanager_client
from eventrelay.envelopes import MAX_ENVELOPE_BYTES, EventEnvelope, MessageQueue
from eventrelay.http_api import build_app
from eventrelay.idempotency import fingerprint
from eventrelay.publishing import keyed_event_id
from eventrelay.ratelimit import LimitKind
from eventrelay.roots import AwsClients
from eventrelay.roots.events import EventServices, build_event_services
from eventrelay.settings import Settings
from eventrelay_cli.local.environment import LocalAws
from tests.support.api import ApiCaller, ControlledClock
from tests.support.tcp_proxy import TcpProxy
from tests.support.waiting import wait_until

ORDER = {"orderId": "o-1", "total": 12.5}


class RequestCounter:
    """Counts the HTTP requests one real botocore client sends (every attempt), via its event hooks."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.requests: list[str] = []

    def _count(self, event_name: str, **_: Any) -> None:
        self.requests.append(event_name.rsplit(".", 1)[-1])  # before-send.<service>.<Operation>

    def __enter__(self) -> RequestCounter:
        self._client.meta.events.register("before-send", self._count, unique_id=f"count-{id(self)}")
        return self

    def __exit__(self, *_: object) -> None:
        self._client.meta.events.unregister("before-send", unique_id=f"count-{id(self)}")


def raw_messages(queue_url: str, region: str) -> list[str]:
    """Receive and delete every visible message; their bodies exactly as SQS holds them."""
    sqs = boto3.client("sqs", region_name=region)
    bodies: list[str] = []
    while batch := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
        bodies.extend(message["Body"] for message in batch)
        sqs.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)],
        )
    return bodies


def queued_for(settings: Settings, tenant_id: str) -> list[str]:
    return [
        body
        for body in raw_messages(settings.events_queue_url, settings.region)
        if json.loads(body)["tenantId"] == tenant_id
    ]


def sync_usage(admin: AdminService, tenant_id: str) -> list[int]:
    return [window.count for window in admin.tenants.window_usage(tenant_id)[LimitKind.SYNC.value]]


def without_request_id(body: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in body.items() if name != "requestId"}


# -- item 3: unauthenticated callers cost little ---------------------------------------------------


def test_unknown_tenants_cost_one_profile_read_and_never_a_secrets_manager_call(
    api: ApiCaller, tenant: TenantWithSecret, settings: Settings
) -> None:
    wrong_secret = api.publish(tenant.tenant.tenant_id, "not-the-secret", ORDER)
    assert (wrong_secret.status, wrong_secret.error_code) == (401, "1005")
    with (
        RequestCounter(secretsmanager_client(settings.region)) as secrets_manager,
        RequestCounter(dynamodb_client(settings.region)) as dynamodb,
    ):
        answers = [api.publish(f"nobody-{uuid.uuid4().hex}", "guess", ORDER) for _ in range(40)]
    # Unknown tenants and a wrong secret answer alike: nothing learned
    assert {json.dumps(without_request_id(answer.body)) for answer in answers} == {
        json.dumps(without_request_id(wrong_secret.body))
    }
    assert {answer.status for answer in answers} == {401}
    assert "ratelimit-limit" not in answers[0].headers
    # And they cost one profile read each, and nothing in Secrets Manager
    assert secrets_manager.requests == []
    assert dynamodb.requests == ["GetItem"] * 40


def test_a_tenant_created_after_an_unknown_tenant_refusal_publishes_at_once(
    api: ApiCaller, admin: AdminService, tenant_id: str
) -> None:
    assert api.publish(tenant_id, "guess", ORDER).error_code == "1005"
    created = admin.tenants.create(tenant_id, "Late tenant")
    admin.events.register(tenant_id, "OrderPlaced", "v01")
    assert api.publish(tenant_id, created.shared_secret, ORDER).status == 200


def test_a_known_tenant_with_warm_caches_costs_no_lookup_for_a_wrong_secret_within_the_refetch_time(
    api: ApiCaller, tenant: TenantWithSecret, settings: Settings
) -> None:
    tenant_id = tenant.tenant.tenant_id
    assert api.publish(tenant_id, tenant.shared_secret, ORDER).status == 200
    assert api.publish(tenant_id, "wrong-1", ORDER).error_code == "1005"  # refetches once
    with RequestCounter(secretsmanager_client(settings.region)) as secrets_manager:
        answers = [api.publish(tenant_id, f"wrong-{n}", ORDER).error_code for n in range(20)]
    assert answers == ["1005"] * 20
    assert secrets_manager.requests == []


# -- item 8: "not accepted" means not accepted -----------------------------------------------------


@pytest.fixture
def sqs_proxy(local_aws: LocalAws) -> Iterator[TcpProxy]:
    """A pausable proxy between the publish path and moto's SQS."""
    upstream = urlsplit(local_aws.moto.url)
    with TcpProxy(upstream.hostname or "127.0.0.1", upstream.port or 80) as proxy:
        yield proxy


@pytest.fixture
def proxied_services(settings: Settings, clock: ControlledClock, sqs_proxy: TcpProxy) -> EventServices:
    services = build_event_services(settings, AwsClients.for_settings(settings), clock)
    proxied_sqs = boto3.client(
        "sqs",
        region_name=settings.region,
        endpoint_url=sqs_proxy.url,
        config=Config(
            connect_timeout=1, read_timeout=1, retries={"mode": "standard", "total_max_attempts": 2}
        ),
    )
    services.publish._events_queue = MessageQueue(settings.events_queue_url, proxied_sqs)
    return services


@pytest.fixture
def proxied_api(proxied_services: EventServices) -> ApiCaller:
    return ApiCaller(lambda: build_app(lambda: proxied_services))


def test_a_keyed_publish_during_an_sqs_stall_is_refunded_and_its_retry_is_the_same_event(
    proxied_api: ApiCaller,
    sqs_proxy: TcpProxy,
    admin: AdminService,
    tenant: TenantWithSecret,
    settings: Settings,
) -> None:
    tenant_id, secret = tenant.tenant.tenant_id, tenant.shared_secret
    key = {"Idempotency-Key": "order-o-1"}
    # Given SQS accepts connections but does not answer
    sqs_proxy.stall()
    answer = proxied_api.publish(tenant_id, secret, ORDER, extra_headers=key)
    # Then the publisher hears 1009 saying the event may have been accepted, and the call is refunded
    # (a hung queue must not eat the tenant's quota)
    assert (answer.status, answer.error_code) == (503, "1009")
    assert "may have been accepted" in answer.body["message"]
    assert "ratelimit-remaining" in answer.headers
    assert sync_usage(admin, tenant_id) == [0, 0]
    # When SQS wakes up, the first send lands late
    sqs_proxy.resume()
    late: list[str] = []
    assert wait_until(lambda: bool(late.extend(queued_for(settings, tenant_id)) or late), timeout=15)
    late_ids = {json.loads(body)["eventId"] for body in late}
    # And the publisher's retry is the same event, not a second one
    retry = proxied_api.publish(tenant_id, secret, ORDER, extra_headers=key)
    assert retry.status == 200
    assert late_ids == {retry.body["data"]["eventId"]}
    assert {json.loads(body)["eventId"] for body in queued_for(settings, tenant_id)} == late_ids
    assert sync_usage(admin, tenant_id) == [1, 1]


def test_an_unkeyed_publish_whose_answer_is_lost_is_refunded_and_says_a_retry_may_duplicate(
    proxied_api: ApiCaller,
    sqs_proxy: TcpProxy,
    admin: AdminService,
    tenant: TenantWithSecret,
    settings: Settings,
) -> None:
    tenant_id = tenant.tenant.tenant_id
    sqs_proxy.lose_responses()
    answer = proxied_api.publish(tenant_id, tenant.shared_secret, ORDER)
    sqs_proxy.resume()
    assert (answer.status, answer.error_code) == (503, "1009")
    assert "Idempotency-Key" in answer.body["message"]
    # The send reached SQS although its answer was lost; the call is refunded all the same, as every
    # 1009 is (the refund errs for the tenant by the events that landed unanswered)
    landed: list[str] = []
    assert wait_until(lambda: bool(landed.extend(queued_for(settings, tenant_id)) or landed), timeout=10)
    assert sync_usage(admin, tenant_id) == [0, 0]


def test_an_error_answered_by_sqs_is_refunded_and_said_to_be_not_accepted(
    settings: Settings, clock: ControlledClock, admin: AdminService, tenant: TenantWithSecret
) -> None:
    services = build_event_services(settings, AwsClients.for_settings(settings), clock)
    missing_queue = settings.events_queue_url.rsplit("/", 1)[0] + "/no-such-queue"
    services.publish._events_queue = MessageQueue(
        missing_queue, boto3.client("sqs", region_name=settings.region)
    )
    api = ApiCaller(lambda: build_app(lambda: services))
    answer = api.publish(
        tenant.tenant.tenant_id, tenant.shared_secret, ORDER, extra_headers={"Idempotency-Key": "k"}
    )
    assert (answer.status, answer.error_code) == (503, "1009")
    assert "not accepted" in answer.body["message"]
    assert sync_usage(admin, tenant.tenant.tenant_id) == [0, 0]


def test_keyed_event_ids_derive_from_tenant_key_and_body(api: ApiCaller, tenant: TenantWithSecret) -> None:
    tenant_id = tenant.tenant.tenant_id
    body = json.dumps(ORDER).encode()
    answer = api.publish(
        tenant_id, tenant.shared_secret, None, raw_body=body, extra_headers={"Idempotency-Key": "k-9"}
    )

    expected = keyed_event_id(tenant_id, "k-9", fingerprint("OrderPlaced", "v01", body))
    assert answer.body["data"]["eventId"] == expected


# -- item 7: the payload travels as received and fits where it is stored -------------------------


def numbers_body(size: int) -> bytes:
    """A JSON object of `1E15` numbers, exactly `size` bytes."""
    head, tail = b'{"n":[', b"]}"
    count = (size - len(head) - len(tail) + 1) // 5
    body = head + b",".join([b"1E15"] * count) + tail
    return body + b" " * (size - len(body))


def test_the_payload_is_queued_exactly_as_received(
    api: ApiCaller, tenant: TenantWithSecret, settings: Settings
) -> None:
    body = '{ "n": [1E15, 1.50, -0, 2e-3],\n  "s": "caf\\u00e9 \\/ ok", "z": "\ufffe\uffff" }'.encode()
    answer = api.publish(tenant.tenant.tenant_id, tenant.shared_secret, None, raw_body=body)
    assert answer.status == 200
    [message] = queued_for(settings, tenant.tenant.tenant_id)
    # SQS refuses U+FFFE/U+FFFF in a message: only they are escaped, the rest is the received text
    expected_text = body.decode().strip().replace("\ufffe", "\\ufffe").replace("\uffff", "\\uffff")
    assert message.endswith(f',"payload":{expected_text}}}')
    assert json.loads(message)["payload"] == json.loads(body)
    assert EventEnvelope.from_message_body(message).to_message_body() == message


def test_numbers_do_not_grow_on_the_queue(
    api: ApiCaller, tenant: TenantWithSecret, settings: Settings
) -> None:
    body = numbers_body(40_000)
    answer = api.publish(tenant.tenant.tenant_id, tenant.shared_secret, None, raw_body=body)
    assert answer.status == 200
    [message] = queued_for(settings, tenant.tenant.tenant_id)
    assert len(message.encode()) < len(body) + 400


def test_an_event_that_would_not_fit_where_it_is_stored_is_refused_with_1007_saying_why(
    api: ApiCaller, admin: AdminService, tenant: TenantWithSecret, settings: Settings
) -> None:
    # The repro: 131,067 bytes of 1E15 numbers, written out in full when stored (~498 KB)
    body = numbers_body(131_067)
    answer = api.publish(tenant.tenant.tenant_id, tenant.shared_secret, None, raw_body=body)
    assert (answer.status, answer.error_code) == (413, "1007")
    assert str(MAX_ENVELOPE_BYTES) in answer.body["message"]
    assert "1E15" in answer.body["message"]
    assert queued_for(settings, tenant.tenant.tenant_id) == []
    assert sync_usage(admin, tenant.tenant.tenant_id) == [1, 1]  # a 4xx after authentication counts


def test_a_bulk_request_that_would_not_fit_on_the_jobs_queue_is_refused_with_1007_saying_why(
    api: ApiCaller, tenant: TenantWithSecret
) -> None:
    numbers = ",".join(["1E15"] * 30_000)  # 150 KB as sent, ~570 KB written out in full
    item = f'{{"eventName": "OrderPlaced", "eventVersion": "v01", "payload": {{"n": [{numbers}]}}}}'
    body = f'{{"events": [{item}]}}'
    answer = api.bulk(tenant.tenant.tenant_id, tenant.shared_secret, None, raw_body=body.encode())
    assert (answer.status, answer.error_code) == (413, "1007")
    assert str(MAX_ENVELOPE_BYTES) in answer.body["message"]
