"""Issue 8 item 1 through the runner: an event's field value never changes which path is called.

Action URL `items/{{id}}` on a connector whose base URL is `…/api`, the rule mapping `id` from the
payload. Before the fix a payload `{"id": ".."}` made the runner call `POST /api/` with the
connector's credentials, and `"."` called `/api/items/`.
"""

from __future__ import annotations

import pytest

from eventrelay.connectors.models import AuthType, Credentials
from eventrelay.delivery.models import AttemptOutcome, DeliveryState
from eventrelay.delivery.runner import Step
from tests.support.delivery import Harness
from tests.support.http_servers import RecordingServer

TOKEN = "Token url-path-test-credential"


def setup_items_rule(harness: Harness, tenant_id: str, target: RecordingServer) -> None:
    harness.connector(
        tenant_id,
        target.url("/api"),
        auth_type=AuthType.TOKEN,
        credentials=Credentials(token_headers={"Authorization": TOKEN}),  # type: ignore[dict-item]
    )
    harness.action(tenant_id, name="update-item", url="items/{{id}}", payload='{"id": "{{id}}"}')
    harness.rule(tenant_id, name="items", action="update-item", mapping={"id": "$.id"})


@pytest.mark.parametrize("value", ["..", ".", "%2e%2e", "%2E.", ".%2e", "%252e%252e", ""])
def test_a_dot_segment_value_fails_the_delivery_and_calls_nothing(
    harness: Harness, tenant_id: str, target: RecordingServer, value: str
) -> None:
    setup_items_rule(harness, tenant_id, target)
    envelope = harness.envelope(tenant_id, {"id": value})
    report = harness.handle(envelope)
    # No request at all: not /api/, not /api/items/, not anything with the connector's credentials
    assert target.requests == []
    assert report.step_of("items") is Step.FAILED
    delivery = harness.delivery_of(envelope, "items")
    assert delivery.state is DeliveryState.FAILED
    assert delivery.last_error is not None
    assert "field 'id'" in delivery.last_error
    assert "'.', '..' or empty" in delivery.last_error
    [attempt] = harness.attempts_of(envelope, "items")
    assert attempt.outcome is AttemptOutcome.PERMANENT
    assert attempt.status_code is None
    assert harness.queue.sent == []  # permanent: never retried


def test_an_ordinary_value_still_calls_its_item(
    harness: Harness, tenant_id: str, target: RecordingServer
) -> None:
    setup_items_rule(harness, tenant_id, target)
    envelope = harness.envelope(tenant_id, {"id": "..42"})
    assert harness.handle(envelope).step_of("items") is Step.SUCCEEDED
    [request] = target.requests
    assert (request.method, request.path) == ("POST", "/api/items/..42")
    assert request.header("Authorization") == TOKEN
