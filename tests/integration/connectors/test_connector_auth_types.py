"""Each auth type against a recording server: exactly the right headers arrive, the secret nowhere else."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import pytest

from eventrelay.connectors.models import AuthType, ConnectorSpec, Credentials, HealthState
from eventrelay.outbound.outcome import OutcomeKind
from eventrelay.outbound.request import OutboundRequest
from eventrelay.roots.connectors import ConnectorServices
from eventrelay.settings import Settings
from tests.support.http_servers import RecordedRequest, RecordingServer, Reply
from tests.support.items import tenant_items

PASSWORD = "CANARY-basic-password-Zq9"
API_KEY = "CANARY-token-api-key-7Hw"
SECOND_TOKEN = "CANARY-token-second-Kp2"


@pytest.fixture
def api() -> Iterator[RecordingServer]:
    with RecordingServer() as server:
        yield server


def without(request: RecordedRequest, header_names: set[str]) -> str:
    """The request as text, leaving out the named headers (where the secret is meant to be)."""
    kept = {name: value for name, value in request.headers.items() if name.lower() not in header_names}
    return json.dumps([request.method, request.path, kept, request.body.decode("utf-8", "replace")])


def test_none_sends_no_credentials_and_keeps_connector_headers(
    connectors: ConnectorServices, tenant_id: str, api: RecordingServer
) -> None:
    spec = ConnectorSpec(name="plain", base_url=api.url("/base"), headers={"X-Team": "ops"})
    connector = connectors.store.create(tenant_id, spec)
    outcome = connectors.caller.call(connector, OutboundRequest("POST", "items", {}, b"{}"), "idem-1")
    assert outcome.kind is OutcomeKind.SUCCESS
    (received,) = api.requests
    assert received.path == "/base/items"
    assert received.header("Authorization") is None
    assert received.header("X-Team") == "ops"
    assert received.header("Idempotency-Key") == "idem-1"


def test_basic_sends_the_exact_authorization_header_and_nothing_else_carries_the_password(
    connectors: ConnectorServices, settings: Settings, tenant_id: str, api: RecordingServer
) -> None:
    spec = ConnectorSpec(name="crm", base_url=api.url("/"), auth_type=AuthType.BASIC)
    connector = connectors.store.create(tenant_id, spec, Credentials(username="svc-user", password=PASSWORD))
    outcome = connectors.caller.call(connector, OutboundRequest("GET", api.url("/contacts?page=1")))
    assert outcome.kind is OutcomeKind.SUCCESS
    (received,) = api.requests
    expected = "Basic " + base64.b64encode(f"svc-user:{PASSWORD}".encode()).decode()
    assert received.header("Authorization") == expected
    assert PASSWORD not in received.everything()
    assert base64.b64encode(f"svc-user:{PASSWORD}".encode()).decode() not in without(
        received, {"authorization"}
    )
    assert PASSWORD not in json.dumps(tenant_items(settings, tenant_id))


def test_token_sends_every_configured_header_exactly(
    connectors: ConnectorServices, settings: Settings, tenant_id: str, api: RecordingServer
) -> None:
    spec = ConnectorSpec(name="tickets", base_url=api.url("/"), auth_type=AuthType.TOKEN)
    credentials = Credentials(token_headers={"X-Api-Key": API_KEY, "X-Api-Secret": SECOND_TOKEN})
    connector = connectors.store.create(tenant_id, spec, credentials)
    outcome = connectors.caller.call(connector, OutboundRequest("POST", "/tickets", {}, b'{"t": 1}'))
    assert outcome.kind is OutcomeKind.SUCCESS
    (received,) = api.requests
    assert received.header("X-Api-Key") == API_KEY
    assert received.header("X-Api-Secret") == SECOND_TOKEN
    assert received.header("Authorization") is None
    rest = without(received, {"x-api-key", "x-api-secret"})
    assert API_KEY not in rest
    assert SECOND_TOKEN not in rest
    items = json.dumps(tenant_items(settings, tenant_id))
    assert API_KEY not in items
    assert SECOND_TOKEN not in items


def test_auth_headers_win_over_an_action_header_of_the_same_name(
    connectors: ConnectorServices, tenant_id: str, api: RecordingServer
) -> None:
    spec = ConnectorSpec(
        name="crm", base_url=api.url("/"), auth_type=AuthType.BASIC, headers={"Accept": "application/xml"}
    )
    connector = connectors.store.create(tenant_id, spec, Credentials(username="u", password=PASSWORD))
    connectors.caller.call(
        connector,
        OutboundRequest("GET", "/", {"authorization": "Bearer forged", "Accept": "application/json"}),
    )
    (received,) = api.requests
    assert received.header("Authorization") == "Basic " + base64.b64encode(f"u:{PASSWORD}".encode()).decode()
    assert received.header("Accept") == "application/json"


def test_an_echoed_secret_is_redacted_from_the_outcome(connectors: ConnectorServices, tenant_id: str) -> None:
    def echo(request: RecordedRequest) -> Reply:
        return Reply(body=json.dumps({"youSent": request.headers}).encode())

    with RecordingServer(echo) as server:
        spec = ConnectorSpec(name="echo", base_url=server.url("/"), auth_type=AuthType.TOKEN)
        connector = connectors.store.create(
            tenant_id, spec, Credentials(token_headers={"X-Api-Key": API_KEY})
        )
        outcome = connectors.caller.call(connector, OutboundRequest("GET", "/"))
    assert API_KEY.encode() in server.requests[0].everything().encode()
    assert API_KEY not in outcome.body_text()
    assert "[REDACTED]" in outcome.body_text()


def test_repeated_401s_deauthorize_a_basic_connector_and_it_is_then_not_called(
    connectors: ConnectorServices, tenant_id: str
) -> None:
    with RecordingServer(lambda _r: Reply(status=401, body=b"{}")) as server:
        spec = ConnectorSpec(name="crm", base_url=server.url("/"), auth_type=AuthType.BASIC)
        connectors.store.create(tenant_id, spec, Credentials(username="u", password=PASSWORD))
        for attempt in range(1, 4):
            connector = connectors.store.get(tenant_id, "crm")
            outcome = connectors.caller.call(connector, OutboundRequest("GET", "/"))
            assert outcome.kind is OutcomeKind.PERMANENT
            assert outcome.status == 401
            assert connectors.store.get(tenant_id, "crm").health.auth_failures == attempt
        stored = connectors.store.get(tenant_id, "crm")
        assert stored.health.state is HealthState.DEAUTHORIZED
        assert stored.health.reason == "3 consecutive calls were refused with HTTP 401"
        refused = connectors.caller.call(stored, OutboundRequest("GET", "/"))
    assert refused.kind is OutcomeKind.PERMANENT
    assert refused.error == "connector is deauthorized: 3 consecutive calls were refused with HTTP 401"
    assert len(server.requests) == 3


def test_a_success_clears_earlier_401s(connectors: ConnectorServices, tenant_id: str) -> None:
    statuses = iter([401, 200])
    with RecordingServer(lambda _r: Reply(status=next(statuses))) as server:
        spec = ConnectorSpec(name="crm", base_url=server.url("/"), auth_type=AuthType.BASIC)
        connectors.store.create(tenant_id, spec, Credentials(username="u", password=PASSWORD))
        connectors.caller.call(connectors.store.get(tenant_id, "crm"), OutboundRequest("GET", "/"))
        assert connectors.store.get(tenant_id, "crm").health.auth_failures == 1
        connectors.caller.call(connectors.store.get(tenant_id, "crm"), OutboundRequest("GET", "/"))
    health = connectors.store.get(tenant_id, "crm").health
    assert health.state is HealthState.AUTHORIZED
    assert health.auth_failures == 0


def test_preview_shows_the_request_as_sent_with_credentials_redacted(
    connectors: ConnectorServices, tenant_id: str, api: RecordingServer
) -> None:
    spec = ConnectorSpec(
        name="tickets", base_url=api.url("/v1"), auth_type=AuthType.TOKEN, headers={"X-Team": "ops"}
    )
    connector = connectors.store.create(tenant_id, spec, Credentials(token_headers={"X-Api-Key": API_KEY}))
    body = json.dumps({"note": f"key is {API_KEY}"}).encode()
    preview = connectors.caller.preview(connector, OutboundRequest("POST", f"/tickets?k={API_KEY}", {}, body))
    assert preview.url == api.url("/v1/tickets?k=[REDACTED]")
    assert preview.headers == {"X-Team": "ops", "X-Api-Key": "[REDACTED]"}
    assert preview.body == b'{"note": "key is [REDACTED]"}'
    assert api.requests == []
