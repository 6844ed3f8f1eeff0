"""How token endpoint answers are read (RFC 6749 5.1 and 5.2), against a real local server."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest

from eventrelay.connectors.models import Credentials, HealthState, OAuth2Grant, OAuth2Settings
from eventrelay.connectors.oauth2 import (
    InvalidTokenResponse,
    TokenEndpoint,
    TokenEndpointUnavailable,
    TokenRequestRefused,
    authorization_url,
    client_basic_authorization,
)
from eventrelay.outbound.client import OutboundClient
from eventrelay.outbound.outcome import OutcomeKind
from eventrelay.outbound.ssrf import SsrfGuard
from eventrelay.roots.connectors import ConnectorServices
from eventrelay.settings import Settings
from tests.support.http_servers import RecordingServer, Reply
from tests.support.oauth import (
    authorization_code_connector,
    callback,
    client_credentials_connector,
    consent,
    secret_of,
)
from tests.support.oauth_server import AuthorizationServer
from tests.support.roots import admin_service

NOW = 1_800_000_000.0
CREDENTIALS = Credentials(client_id="id", client_secret="secret")


def endpoint() -> TokenEndpoint:
    return TokenEndpoint(OutboundClient(SsrfGuard("127.0.0.0/8"), deadline=3), clock=lambda: NOW)


def settings_for(url: str) -> OAuth2Settings:
    return OAuth2Settings(grant=OAuth2Grant.CLIENT_CREDENTIALS, token_url=url)


def answer(status: int, document: object, headers: dict[str, str] | None = None) -> Reply:
    body = document if isinstance(document, bytes) else json.dumps(document).encode()
    return Reply(status=status, headers={"Content-Type": "application/json", **(headers or {})}, body=body)


@pytest.mark.parametrize(
    ("document", "lifetime"),
    [
        ({"access_token": "tok-XYZ", "token_type": "Bearer", "expires_in": 120}, 120),
        ({"access_token": "tok-XYZ", "token_type": "bearer", "expires_in": "300"}, 300),
        ({"access_token": "tok-XYZ", "token_type": "BEARER"}, 3600),
        ({"access_token": "tok-XYZ"}, 3600),
        ({"access_token": "tok-XYZ", "expires_in": -5}, 3600),
    ],
)
def test_token_responses_are_read(document: dict[str, object], lifetime: int) -> None:
    with RecordingServer(lambda _r: answer(200, document)) as server:
        grant = endpoint().client_credentials(settings_for(server.url("/token")), CREDENTIALS)
    assert grant.access_token == "tok-XYZ"
    assert grant.expires_at == NOW + lifetime
    assert grant.refresh_token is None
    assert "tok-XYZ" not in repr(grant)


@pytest.mark.parametrize(
    ("status", "document", "code"),
    [
        (200, {"token_type": "Bearer"}, "invalid_token_response"),
        (200, {"access_token": "tok-XYZ", "token_type": "mac"}, "unsupported_token_type"),
        (200, b"<html>not json</html>", "invalid_token_response"),
        (200, ["a", "list"], "invalid_token_response"),
        (400, {"error": "invalid_scope", "error_description": "secret echoed here"}, "invalid_scope"),
        (400, {"error": 'bad"quote'}, "http_400"),
        (401, {"error": "invalid_client"}, "invalid_client"),
        (403, b"", "http_403"),
        (302, b"", "http_302"),
    ],
)
def test_refusals_carry_the_error_code_only(status: int, document: object, code: str) -> None:
    with (
        RecordingServer(lambda _r: answer(status, document)) as server,
        pytest.raises(TokenRequestRefused) as refused,
    ):
        endpoint().client_credentials(settings_for(server.url("/token")), CREDENTIALS)
    assert refused.value.error_code == code
    assert "secret" not in str(refused.value)


def test_an_unavailable_endpoint_is_retryable_with_its_retry_after() -> None:
    server = RecordingServer(lambda _r: answer(503, {}, {"Retry-After": "30"}))
    with server, pytest.raises(TokenEndpointUnavailable) as unavailable:
        endpoint().client_credentials(settings_for(server.url("/token")), CREDENTIALS)
    assert unavailable.value.detail == "HTTP 503"
    assert unavailable.value.retry_after_seconds == 30


def test_a_token_url_the_ssrf_guard_refuses_is_never_called() -> None:
    with pytest.raises(TokenRequestRefused) as refused:
        TokenEndpoint(OutboundClient(SsrfGuard(""))).client_credentials(
            settings_for("http://169.254.169.254/token"), CREDENTIALS
        )
    assert refused.value.error_code == "token_url_refused"


def test_client_basic_authentication_form_encodes_before_base64() -> None:
    # RFC 6749 2.3.1: "a b:c" and "p&s=w+" are application/x-www-form-urlencoded first
    assert client_basic_authorization("a b:c", "p&s=w+") == "Basic YStiJTNBYzpwJTI2cyUzRHclMkI="


def test_the_authorization_url_keeps_the_providers_parameters_and_adds_ours() -> None:
    settings = OAuth2Settings(
        grant=OAuth2Grant.AUTHORIZATION_CODE,
        token_url="https://idp.example/token",
        authorization_url="https://idp.example/authorize?audience=api&prompt=consent",
        redirect_url="https://events.example/oauth/callback",
        scope="read write",
    )
    url = authorization_url(settings, "client 1", "st@te")
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "idp.example", "/authorize")
    assert parse_qs(parts.query) == {
        "audience": ["api"],
        "prompt": ["consent"],
        "response_type": ["code"],
        "client_id": ["client 1"],
        "redirect_uri": ["https://events.example/oauth/callback"],
        "scope": ["read write"],
        "state": ["st@te"],
    }


# --- Issue 8 item 4: hostile token endpoint answers -------------------------------------------------


def nested(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (nested(5000), "nested deeper than 32 levels"),
        (b"[" * 5000 + b"]" * 5000, "nested deeper than 32 levels"),
        (json.dumps({"access_token": "x" * 100_000}).encode(), "larger than 65536 bytes"),
        (json.dumps({"access_token": "x" * 20_000}).encode(), "access_token is longer than 16384"),
        (json.dumps({"access_token": "tok\r\nX-Injected: 1"}).encode(), "access_token contains control"),
        (json.dumps({"access_token": "tok\x00"}).encode(), "access_token contains control"),
        (json.dumps({"access_token": "tok-é"}).encode(), "non-ASCII"),
        (json.dumps({"access_token": "tok", "refresh_token": "r\nx"}).encode(), "refresh_token contains"),
        (json.dumps({"access_token": 42}).encode(), "access_token is missing or not a string"),
        (b"\xff\xfe", "not UTF-8"),
    ],
)
def test_an_unusable_token_answer_is_refused_with_its_reason(body: bytes, reason: str) -> None:
    with (
        RecordingServer(lambda _r: answer(200, body)) as server,
        pytest.raises(InvalidTokenResponse) as refused,
    ):
        endpoint().client_credentials(settings_for(server.url("/token")), CREDENTIALS)
    assert refused.value.error_code == "invalid_token_response"
    assert reason in refused.value.reason
    assert "Injected" not in refused.value.reason  # a reason never repeats the answer


def test_a_deeply_nested_error_answer_is_refused_by_its_status() -> None:
    with (
        RecordingServer(lambda _r: answer(400, nested(5000))) as server,
        pytest.raises(TokenRequestRefused) as refused,
    ):
        endpoint().client_credentials(settings_for(server.url("/token")), CREDENTIALS)
    assert refused.value.error_code == "http_400"


def test_a_usable_token_at_the_length_limit_is_accepted() -> None:
    token = "t" * 16_384
    with RecordingServer(lambda _r: answer(200, {"access_token": token, "refresh_token": "r"})) as server:
        grant = endpoint().client_credentials(settings_for(server.url("/token")), CREDENTIALS)
    assert (grant.access_token, grant.refresh_token) == (token, "r")


HOSTILE_ANSWERS = {
    "nested 5,000 levels": nested(5000),
    "a token with CR/LF": json.dumps({"access_token": "tok\r\nSet-Cookie: x=1", "expires_in": 60}).encode(),
}


@pytest.mark.parametrize("hostile", list(HOSTILE_ANSWERS))
def test_connector_test_deauthorizes_on_an_unusable_token_answer_and_stores_nothing(
    connectors: ConnectorServices,
    settings: Settings,
    tenant_id: str,
    oauth_server: AuthorizationServer,
    client_secret: str,
    hostile: str,
) -> None:
    connector = client_credentials_connector(connectors, tenant_id, oauth_server, client_secret)
    oauth_server.token_reply = answer(200, HOSTILE_ANSWERS[hostile])
    admin = admin_service(settings, connectors=connectors)
    # `connector test` answers (no traceback) ...
    tested = admin.connectors.test_connection(tenant_id, connector.name)
    assert tested.outcome.kind is OutcomeKind.PERMANENT
    assert tested.outcome.error is not None
    unusable = "the token endpoint's answer is unusable: "
    assert tested.outcome.error.startswith(f"connector deauthorized: {unusable}")
    # ... the connector is DEAUTHORIZED with the reason, the resource was never called ...
    health = connectors.store.get(tenant_id, connector.name).health
    assert health.state is HealthState.DEAUTHORIZED
    assert health.reason is not None
    assert health.reason.startswith(unusable)
    assert oauth_server.resource_requests == []
    # ... and nothing from the answer was stored
    assert "accessToken" not in secret_of(settings, connector)


@pytest.mark.parametrize("hostile", list(HOSTILE_ANSWERS))
def test_the_callback_answers_400_deauthorizes_and_stores_nothing(
    connectors: ConnectorServices,
    settings: Settings,
    tenant_id: str,
    oauth_server: AuthorizationServer,
    client_secret: str,
    hostile: str,
) -> None:
    connector = authorization_code_connector(connectors, tenant_id, oauth_server, client_secret)
    query = consent(connectors.authorizer.start(tenant_id, connector.name).url)
    oauth_server.token_reply = answer(200, HOSTILE_ANSWERS[hostile])
    status, page = callback(connectors, query)
    assert status == 400
    assert "the token endpoint's answer is unusable" in page
    assert "Set-Cookie" not in page
    health = connectors.store.get(tenant_id, connector.name).health
    assert health.state is HealthState.DEAUTHORIZED
    assert health.reason is not None
    assert health.reason.startswith("the token endpoint's answer is unusable: ")
    stored = secret_of(settings, connector)
    assert "accessToken" not in stored
    assert "refreshToken" not in stored
