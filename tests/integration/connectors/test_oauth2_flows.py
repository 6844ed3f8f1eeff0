"""OAuth 2.0 connectors against a local RFC 6749 authorization server.

Client credentials (both client authentication methods), token caching, proactive refresh on a
controlled clock, refresh on 401, invalid_grant -> DEAUTHORIZED, the authorization-code flow with
its state check through the real callback route, and refresh-token rotation.
"""

from __future__ import annotations

import base64
import json
from urllib.parse import parse_qs, quote_plus, urlsplit

import pytest

from eventrelay.connectors.caller import ConnectorCaller
from eventrelay.connectors.errors import NotAuthorizationCode
from eventrelay.connectors.models import (
    AuthType,
    ClientAuthMethod,
    ConnectorSpec,
    Credentials,
    HealthState,
    OAuth2Grant,
    OAuth2Settings,
)
from eventrelay.outbound.outcome import OutcomeKind
from eventrelay.outbound.request import OutboundRequest
from eventrelay.roots.connectors import ConnectorServices
from eventrelay.settings import Settings
from tests.support.api import ControlledClock
from tests.support.items import tenant_items
from tests.support.oauth import (
    CLIENT_ID,
    REDIRECT_URL,
    authorization_code_connector,
    authorize,
    callback,
    client_credentials_connector,
    consent,
    secret_of,
)
from tests.support.oauth_server import AuthorizationServer

# Client credentials


def test_client_credentials_with_basic_client_authentication(
    connectors: ConnectorServices, tenant_id: str, oauth_server: AuthorizationServer, client_secret: str
) -> None:
    connector = client_credentials_connector(connectors, tenant_id, oauth_server, client_secret)
    outcome = connectors.caller.call(connector, OutboundRequest("GET", "/orders"))
    assert outcome.kind is OutcomeKind.SUCCESS
    (token_request,) = oauth_server.token_requests
    assert token_request.client_auth == "basic"
    assert token_request.form == {"grant_type": "client_credentials", "scope": "orders.write orders.read"}
    raw = oauth_server.http.requests[0]
    expected_basic = base64.b64encode(f"{CLIENT_ID}:{quote_plus(client_secret)}".encode()).decode()
    assert raw.header("Authorization") == f"Basic {expected_basic}"
    assert client_secret not in raw.body.decode()
    (access_token,) = oauth_server.access_tokens
    resource_request, status = oauth_server.resource_requests[0]
    assert status == 200
    assert resource_request.header("Authorization") == f"Bearer {access_token}"
    assert resource_request.path == "/api/orders"


def test_client_credentials_with_client_secret_in_the_body(
    connectors: ConnectorServices, tenant_id: str, oauth_server: AuthorizationServer, client_secret: str
) -> None:
    connector = client_credentials_connector(
        connectors, tenant_id, oauth_server, client_secret, ClientAuthMethod.CLIENT_SECRET_POST
    )
    assert connectors.caller.call(connector, OutboundRequest("GET", "/orders")).ok
    (token_request,) = oauth_server.token_requests
    assert token_request.client_auth == "post"
    assert token_request.form["client_id"] == CLIENT_ID
    assert token_request.form["client_secret"] == client_secret
    assert oauth_server.http.requests[0].header("Authorization") is None


def test_one_token_request_serves_many_calls(
    connectors: ConnectorServices, tenant_id: str, oauth_server: AuthorizationServer, client_secret: str
) -> None:
    connector = client_credentials_connector(connectors, tenant_id, oauth_server, client_secret)
    for _ in range(5):
        assert connectors.caller.call(connector, OutboundRequest("GET", "/orders")).ok
    assert len(oauth_server.token_requests) == 1
    assert oauth_server.resource_statuses() == [200] * 5


def test_the_cached_token_is_shared_through_the_secret_with_a_fresh_instance(
    connectors: ConnectorServices,
    settings: Settings,
    tenant_id: str,
    oauth_server: AuthorizationServer,
    client_secret: str,
    connector_clock: ControlledClock,
) -> None:
    connector = client_credentials_connector(connectors, tenant_id, oauth_server, client_secret)
    assert connectors.caller.call(connector, OutboundRequest("GET", "/orders")).ok
    # A new process (cold Lambda) reads the token from the secret instead of asking again
    other = ConnectorCaller(connectors.store, connectors.client, clock=connector_clock)
    assert other.call(connector, OutboundRequest("GET", "/orders")).ok
    assert len(oauth_server.token_requests) == 1
    assert secret_of(settings, connector)["accessToken"] in oauth_server.access_tokens


def test_the_token_is_renewed_before_it_expires(
    connectors: ConnectorServices,
    tenant_id: str,
    oauth_server: AuthorizationServer,
    client_secret: str,
    connector_clock: ControlledClock,
) -> None:
    connector = client_credentials_connector(connectors, tenant_id, oauth_server, client_secret)
    assert connectors.caller.call(connector, OutboundRequest("GET", "/orders")).ok
    # 59 minutes later the token still has 60 s to live: it is used again
    connector_clock.advance(3600 - 61)
    assert connectors.caller.call(connector, OutboundRequest("GET", "/orders")).ok
    assert len(oauth_server.token_requests) == 1
    # 2 s later it is within a minute of expiry: renewed before the call, the server never says 401
    connector_clock.advance(2)
    assert connectors.caller.call(connector, OutboundRequest("GET", "/orders")).ok
    assert len(oauth_server.token_requests) == 2
    assert oauth_server.resource_statuses() == [200, 200, 200]
    tokens_used = [request.header("Authorization") for request, _ in oauth_server.resource_requests]
    assert tokens_used[0] == tokens_used[1] != tokens_used[2]


def test_a_401_renews_the_token_once_and_the_call_succeeds(
    connectors: ConnectorServices, tenant_id: str, oauth_server: AuthorizationServer, client_secret: str
) -> None:
    connector = client_credentials_connector(connectors, tenant_id, oauth_server, client_secret)
    assert connectors.caller.call(connector, OutboundRequest("GET", "/orders")).ok
    oauth_server.revoke_access_tokens()
    outcome = connectors.caller.call(connector, OutboundRequest("POST", "/orders", {}, b"{}"), "delivery-9")
    assert outcome.kind is OutcomeKind.SUCCESS
    assert oauth_server.resource_statuses() == [200, 401, 200]
    assert len(oauth_server.token_requests) == 2
    retried = [request for request, _ in oauth_server.resource_requests[1:]]
    assert [request.header("Idempotency-Key") for request in retried] == ["delivery-9", "delivery-9"]
    assert connectors.store.get(tenant_id, "erp").health.auth_failures == 0


def test_a_401_after_renewal_fails_the_call_without_a_second_renewal(
    connectors: ConnectorServices, tenant_id: str, client_secret: str
) -> None:
    with AuthorizationServer(clients={CLIENT_ID: client_secret}, reject_all_tokens=True) as server:
        connector = client_credentials_connector(connectors, tenant_id, server, client_secret)
        outcome = connectors.caller.call(connector, OutboundRequest("GET", "/orders"))
    assert outcome.kind is OutcomeKind.PERMANENT
    assert outcome.status == 401
    assert server.resource_statuses() == [401, 401]
    assert len(server.token_requests) == 2
    assert connectors.store.get(tenant_id, "erp").health.auth_failures == 1


def test_a_wrong_client_secret_deauthorizes_the_connector(
    connectors: ConnectorServices, tenant_id: str, oauth_server: AuthorizationServer
) -> None:
    connector = client_credentials_connector(connectors, tenant_id, oauth_server, "not-the-secret")
    outcome = connectors.caller.call(connector, OutboundRequest("GET", "/orders"))
    assert outcome.kind is OutcomeKind.PERMANENT
    assert outcome.error == "connector deauthorized: the token endpoint refused the grant (invalid_client)"
    health = connectors.store.get(tenant_id, "erp").health
    assert health.state is HealthState.DEAUTHORIZED
    assert health.reason == "the token endpoint refused the grant (invalid_client)"
    assert oauth_server.resource_requests == []


def test_an_unavailable_token_endpoint_is_retryable_and_leaves_health_alone(
    connectors: ConnectorServices, tenant_id: str, oauth_server: AuthorizationServer, client_secret: str
) -> None:
    connector = client_credentials_connector(connectors, tenant_id, oauth_server, client_secret)
    oauth_server.token_endpoint_status = 503
    outcome = connectors.caller.call(connector, OutboundRequest("GET", "/orders"))
    assert outcome.kind is OutcomeKind.RETRYABLE
    assert outcome.error == "could not obtain an access token: HTTP 503"
    assert connectors.store.get(tenant_id, "erp").health.state is HealthState.AUTHORIZED
    oauth_server.token_endpoint_status = None
    assert connectors.caller.call(connector, OutboundRequest("GET", "/orders")).ok


# Authorization code


def test_authorization_code_flow_stores_the_refresh_token_as_a_secret(
    connectors: ConnectorServices,
    settings: Settings,
    tenant_id: str,
    oauth_server: AuthorizationServer,
    client_secret: str,
) -> None:
    # Given an authorization-code connector: pending until an admin authorizes it
    connector = authorization_code_connector(connectors, tenant_id, oauth_server, client_secret)
    assert connector.health.state is HealthState.PENDING_AUTHORIZATION
    not_yet = connectors.caller.call(connector, OutboundRequest("GET", "/me"))
    assert not_yet.kind is OutcomeKind.PERMANENT
    assert not_yet.error == "connector is not authorized yet: run `eventrelay connector authorize`"
    # When the admin opens the authorization URL and the provider redirects to the callback
    start = connectors.authorizer.start(tenant_id, "helpdesk")
    query = parse_qs(urlsplit(start.url).query)
    assert query["response_type"] == ["code"]
    assert query["client_id"] == [CLIENT_ID]
    assert query["redirect_uri"] == [REDIRECT_URL]
    assert query["scope"] == ["tickets"]
    assert query["prompt"] == ["consent"]  # the provider's own parameters are kept
    assert len(query["state"][0]) >= 32
    status, page = callback(connectors, consent(start.url))
    # Then the connector is authorized, its refresh token is in the secret and only there
    assert status == 200
    assert "connector helpdesk is authorized" in page
    (code_request,) = oauth_server.token_requests
    assert code_request.grant_type == "authorization_code"
    assert code_request.form["redirect_uri"] == REDIRECT_URL
    (refresh_token,) = oauth_server.refresh_tokens
    assert secret_of(settings, connector)["refreshToken"] == refresh_token
    stored = connectors.store.get(tenant_id, "helpdesk")
    assert stored.health.state is HealthState.AUTHORIZED
    items = json.dumps(tenant_items(settings, tenant_id))
    assert refresh_token not in items
    assert query["state"][0] not in items
    # And calls work with the access token it obtained
    assert connectors.caller.call(stored, OutboundRequest("GET", "/me")).ok
    assert len(oauth_server.token_requests) == 1


def test_a_wrong_state_is_refused_and_no_code_is_exchanged(
    connectors: ConnectorServices, tenant_id: str, oauth_server: AuthorizationServer, client_secret: str
) -> None:
    authorization_code_connector(connectors, tenant_id, oauth_server, client_secret)
    start = connectors.authorizer.start(tenant_id, "helpdesk")
    answer = consent(start.url)
    status, page = callback(connectors, {**answer, "state": "forged-" + answer["state"][7:]})
    assert status == 400
    assert "invalid, already used or expired" in page
    status, _ = callback(connectors, {"code": answer["code"]})
    assert status == 400
    assert oauth_server.token_requests == []
    assert connectors.store.get(tenant_id, "helpdesk").health.state is HealthState.PENDING_AUTHORIZATION


def test_a_state_works_once_and_expires(
    connectors: ConnectorServices,
    tenant_id: str,
    oauth_server: AuthorizationServer,
    client_secret: str,
    connector_clock: ControlledClock,
) -> None:
    authorization_code_connector(connectors, tenant_id, oauth_server, client_secret)
    answer = consent(connectors.authorizer.start(tenant_id, "helpdesk").url)
    assert callback(connectors, answer)[0] == 200
    assert callback(connectors, answer)[0] == 400  # replayed
    late = consent(connectors.authorizer.start(tenant_id, "helpdesk").url)
    connector_clock.advance(601)
    assert callback(connectors, late)[0] == 400  # expired
    assert len(oauth_server.token_requests) == 1


def test_a_denied_consent_is_reported_without_echoing_the_providers_text(
    connectors: ConnectorServices, tenant_id: str, oauth_server: AuthorizationServer, client_secret: str
) -> None:
    authorization_code_connector(connectors, tenant_id, oauth_server, client_secret)
    start = connectors.authorizer.start(tenant_id, "helpdesk")
    state = parse_qs(urlsplit(start.url).query)["state"][0]
    status, page = callback(
        connectors, {"state": state, "error": "access_denied", "error_description": "<b>no</b>"}
    )
    assert status == 400
    assert "(access_denied)" in page
    assert "<b>" not in page


def test_authorize_is_refused_for_a_client_credentials_connector(
    connectors: ConnectorServices, tenant_id: str, oauth_server: AuthorizationServer, client_secret: str
) -> None:
    client_credentials_connector(connectors, tenant_id, oauth_server, client_secret)
    with pytest.raises(NotAuthorizationCode):
        connectors.authorizer.start(tenant_id, "erp")


def test_invalid_grant_on_refresh_deauthorizes_the_connector(
    connectors: ConnectorServices, tenant_id: str, oauth_server: AuthorizationServer, client_secret: str
) -> None:
    authorization_code_connector(connectors, tenant_id, oauth_server, client_secret)
    connector = authorize(connectors, tenant_id)
    assert connectors.caller.call(connector, OutboundRequest("GET", "/me")).ok
    # When the provider revokes the grant (user removed the app, password change, ...)
    oauth_server.revoke_access_tokens()
    oauth_server.revoke_refresh_tokens()
    outcome = connectors.caller.call(connector, OutboundRequest("GET", "/me"))
    # Then the call fails for good and the connector shows why
    assert outcome.kind is OutcomeKind.PERMANENT
    assert outcome.error == "connector deauthorized: the token endpoint refused the grant (invalid_grant)"
    stored = connectors.store.get(tenant_id, "helpdesk")
    assert stored.health.state is HealthState.DEAUTHORIZED
    assert stored.health.reason == "the token endpoint refused the grant (invalid_grant)"
    # And later calls are not attempted until an admin authorizes again
    requests_before = len(oauth_server.http.requests)
    assert connectors.caller.call(stored, OutboundRequest("GET", "/me")).kind is OutcomeKind.PERMANENT
    assert len(oauth_server.http.requests) == requests_before
    assert authorize(connectors, tenant_id).health.state is HealthState.AUTHORIZED


def test_rotated_refresh_tokens_replace_the_stored_one(
    connectors: ConnectorServices,
    settings: Settings,
    tenant_id: str,
    oauth_server: AuthorizationServer,
    client_secret: str,
    connector_clock: ControlledClock,
) -> None:
    oauth_server.rotate_refresh_tokens = True
    authorization_code_connector(connectors, tenant_id, oauth_server, client_secret)
    connector = authorize(connectors, tenant_id)
    first_refresh = secret_of(settings, connector)["refreshToken"]
    for _ in range(2):
        connector_clock.advance(3600)  # the access token expired: refresh
        assert connectors.caller.call(connector, OutboundRequest("GET", "/me")).ok
    refreshes = oauth_server.token_requests_of("refresh_token")
    assert len(refreshes) == 2
    assert refreshes[0].form["refresh_token"] == first_refresh
    second_refresh = refreshes[1].form["refresh_token"]
    assert second_refresh != first_refresh
    stored_refresh = secret_of(settings, connector)["refreshToken"]
    assert stored_refresh not in (first_refresh, second_refresh)
    assert oauth_server.refresh_tokens[str(stored_refresh)].active
    assert not oauth_server.refresh_tokens[str(first_refresh)].active


def test_an_instance_with_a_stale_refresh_token_uses_the_one_another_instance_stored(
    connectors: ConnectorServices,
    tenant_id: str,
    oauth_server: AuthorizationServer,
    client_secret: str,
    connector_clock: ControlledClock,
) -> None:
    oauth_server.rotate_refresh_tokens = True
    authorization_code_connector(connectors, tenant_id, oauth_server, client_secret)
    connector = authorize(connectors, tenant_id)
    # Two warm instances have both read the credentials
    first = ConnectorCaller(
        connectors.store, connectors.client, clock=connector_clock, credentials_cache_seconds=86400
    )
    second = ConnectorCaller(
        connectors.store, connectors.client, clock=connector_clock, credentials_cache_seconds=86400
    )
    assert first.call(connector, OutboundRequest("GET", "/me")).ok
    assert second.call(connector, OutboundRequest("GET", "/me")).ok
    connector_clock.advance(3600)
    # The first rotates the refresh token; the second still holds the old one
    assert first.call(connector, OutboundRequest("GET", "/me")).ok
    outcome = second.call(connector, OutboundRequest("GET", "/me"))
    assert outcome.kind is OutcomeKind.SUCCESS
    assert connectors.store.get(tenant_id, "helpdesk").health.state is HealthState.AUTHORIZED
    statuses = [request.status for request in oauth_server.token_requests_of("refresh_token")]
    assert statuses == [200, 400, 200]


def test_test_connection_reports_status_duration_and_body(
    connectors: ConnectorServices, tenant_id: str, oauth_server: AuthorizationServer, client_secret: str
) -> None:
    authorization_code_connector(connectors, tenant_id, oauth_server, client_secret)
    connector = authorize(connectors, tenant_id)
    result = connectors.caller.test_connection(connector)
    assert result.ok
    summary = result.to_dict()
    assert summary["url"] == oauth_server.resource_url("/api/me")
    assert summary["status"] == 200
    assert summary["health"] == "AUTHORIZED"
    assert isinstance(summary["durationMs"], int)
    assert json.loads(summary["body"]) == {"ok": True, "path": "/api/me"}
    assert oauth_server.resource_requests[-1][0].method == "GET"


def test_a_token_url_the_guard_refuses_deauthorizes_without_any_request(
    connectors: ConnectorServices, tenant_id: str, oauth_server: AuthorizationServer, client_secret: str
) -> None:
    spec = ConnectorSpec(
        name="metadata-thief",
        base_url=oauth_server.resource_url("/api"),
        auth_type=AuthType.OAUTH2,
        oauth2=OAuth2Settings(
            grant=OAuth2Grant.CLIENT_CREDENTIALS, token_url="http://169.254.169.254/latest/api/token"
        ),
    )
    connector = connectors.store.create(
        tenant_id, spec, Credentials(client_id=CLIENT_ID, client_secret=client_secret)
    )
    outcome = connectors.caller.call(connector, OutboundRequest("GET", "/orders"))
    assert outcome.kind is OutcomeKind.PERMANENT
    assert outcome.error == "connector deauthorized: the outbound SSRF guard refuses the token URL"
    assert oauth_server.http.requests == []


def test_reapplying_the_same_oauth_configuration_keeps_the_authorization(
    connectors: ConnectorServices,
    settings: Settings,
    tenant_id: str,
    oauth_server: AuthorizationServer,
    client_secret: str,
) -> None:
    created = authorization_code_connector(connectors, tenant_id, oauth_server, client_secret)
    authorized = authorize(connectors, tenant_id)
    refresh_token = secret_of(settings, authorized)["refreshToken"]
    spec = ConnectorSpec(**created.model_dump(include=set(ConnectorSpec.model_fields)))
    # Applying the same configuration again changes nothing
    again = connectors.store.update(
        tenant_id, spec, Credentials(client_id=CLIENT_ID, client_secret=client_secret)
    )
    assert again.revision == authorized.revision
    assert secret_of(settings, again)["refreshToken"] == refresh_token
    # A new client secret for the same client keeps the refresh token, drops the access token
    rotated = connectors.store.update(
        tenant_id, spec, Credentials(client_id=CLIENT_ID, client_secret="new-secret")
    )
    document = secret_of(settings, rotated)
    assert rotated.revision == authorized.revision + 1
    assert document["refreshToken"] == refresh_token
    assert "accessToken" not in document
    assert rotated.health.state is HealthState.AUTHORIZED
    # Another client id needs a new authorization
    other = connectors.store.update(tenant_id, spec, Credentials(client_id="other-client", client_secret="x"))
    assert "refreshToken" not in secret_of(settings, other)
    assert other.health.state is HealthState.PENDING_AUTHORIZATION
