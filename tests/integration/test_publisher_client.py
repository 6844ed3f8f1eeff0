"""The publisher client through the real publish handler behind the local gateway (AWS over HTTP)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import requests

from eventrelay.admin import TenantWithSecret
from eventrelay.publisher import Publisher, PublishRejected
from eventrelay.settings import Settings
from eventrelay_cli.local.http_gateway import HttpGateway
from eventrelay_cli.local.lambda_runtime import LocalFunction, load_handler
from tests.support.http_servers import RecordedRequest, RecordingServer, Reply
from tests.support.paths import REPO_ROOT
from tests.support.queues import drain

HOP_BY_HOP = {"host", "content-length", "connection", "accept-encoding"}


@pytest.fixture(scope="module")
def api_url(local_aws: object) -> Iterator[str]:
    gateway = HttpGateway()
    function = LocalFunction(
        "PublishFunction", lambda: load_handler(REPO_ROOT / "functions" / "publish"), timeout_seconds=10
    )
    gateway.add_route("POST /v1/eventManager/event", function)
    gateway.start()
    try:
        yield gateway.url
    finally:
        gateway.stop()


def envelopes_for(settings: Settings, tenant_id: str) -> list[dict[str, object]]:
    return [m["body"] for m in drain(settings.events_queue_url) if m["body"]["tenantId"] == tenant_id]


class LosesTheFirstAnswer:
    """A proxy in front of the API: forwards every request, but answers the first one 502, as a
    gateway does when the answer is lost on the way back (the event WAS accepted)."""

    def __init__(self, api_url: str) -> None:
        self.api_url = api_url
        self.forwarded = 0

    def __call__(self, request: RecordedRequest) -> Reply:
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        upstream = requests.post(self.api_url + request.path, data=request.body, headers=headers, timeout=30)
        self.forwarded += 1
        if self.forwarded == 1:
            return Reply(502, body=b'{"message": "Bad Gateway"}')
        return Reply(upstream.status_code, body=upstream.content)


def test_a_lost_answer_is_retried_with_the_same_key_and_the_event_is_accepted_once(
    api_url: str, tenant: TenantWithSecret, settings: Settings
) -> None:
    tenant_id = tenant.tenant.tenant_id
    sleeps: list[float] = []
    with RecordingServer(LosesTheFirstAnswer(api_url)) as proxy:
        proxy_url = proxy.url("/").rstrip("/")
        publisher = Publisher(proxy_url, tenant_id, tenant.shared_secret, sleep=sleeps.append)

        published = publisher.publish("OrderPlaced", "v01", {"orderId": "o-1"})

    assert published.attempts == 2
    assert len(sleeps) == 1
    [envelope] = envelopes_for(settings, tenant_id)  # the retry enqueued nothing new
    assert envelope["eventId"] == published.event_id
    assert envelope["payload"] == {"orderId": "o-1"}


def test_the_handler_s_refusals_come_back_as_typed_errors_without_retrying(
    api_url: str, tenant: TenantWithSecret
) -> None:
    sleeps: list[float] = []
    tenant_id = tenant.tenant.tenant_id
    publisher = Publisher(api_url, tenant_id, tenant.shared_secret, sleep=sleeps.append)

    with pytest.raises(PublishRejected) as unregistered:
        publisher.publish("NoSuchEvent", "v01", {"orderId": "o-1"})
    with pytest.raises(PublishRejected) as not_json:
        publisher.publish("OrderPlaced", "v01", b"{not json")
    wrong_secret = Publisher(api_url, tenant_id, tenant.shared_secret + "x", sleep=sleeps.append)
    with pytest.raises(PublishRejected) as refused:
        wrong_secret.publish("OrderPlaced", "v01", {"orderId": "o-1"})

    assert [(e.value.status, e.value.error_code) for e in (unregistered, not_json, refused)] == [
        (400, "1001"),
        (400, "1003"),
        (401, "1005"),
    ]
    assert all(e.value.request_id for e in (unregistered, not_json, refused))
    assert tenant.shared_secret not in json.dumps([str(e.value) for e in (unregistered, not_json, refused)])
    assert sleeps == []
