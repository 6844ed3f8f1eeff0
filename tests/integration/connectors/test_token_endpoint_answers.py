"""How token endpoint answers are read (RFC 6749 5.1 and 5.2), against a real local server."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest

from eventrelay.connectors.models import Credentials, OAuth2Grant, OAuth2Settings
from eventrelay.connectors.oauth2 import (
    TokenEndpoint,
    TokenEndpointUnavailable,
    TokenRequestRefused,
    authorization_url,
    client_basic_authorization,
)
from eventrelay.outbound.client import OutboundClient
from eventrelay.outbound.ssrf import SsrfGuard
from tests.support.http_servers import RecordingServer, Reply

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
