"""Connector specs and credentials: what is refused at the edge, and how secrets stay hidden."""

from __future__ import annotations

import json

import pytest
from pydantic import SecretStr, ValidationError

from eventrelay.connectors.auth import (
    authenticated_request,
    basic_authorization,
    merge_headers,
    static_auth_headers,
)
from eventrelay.connectors.models import (
    AuthType,
    ConnectorSpec,
    Credentials,
    OAuth2Grant,
    OAuth2Settings,
    credential_problems,
)
from eventrelay.outbound.request import OutboundRequest

SECRET = "s3cr3t-value-for-tests"


def errors_of(call: object) -> str:
    with pytest.raises(ValidationError) as refused:
        call()  # type: ignore[operator]
    return str(refused.value)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"base_url": "ftp://files.example"}, "must be an absolute http(s) URL"),
        ({"base_url": "/relative"}, "must be an absolute http(s) URL"),
        ({"base_url": "https://user:pw@api.example"}, "must not carry credentials"),
        ({"base_url": "https://api.example:99999"}, "must be an absolute http(s) URL"),
        ({"name": "bad name"}, "String should match pattern"),
        ({"headers": {"X-A": "ok\r\nX-B: injected"}}, "control characters"),
        ({"headers": {"Bad Header": "x"}}, "String should match pattern"),
        ({"auth_type": "oauth2"}, "auth_type oauth2 needs oauth2 settings"),
        ({"auth_type": "kerberos"}, "Input should be 'none', 'basic', 'token' or 'oauth2'"),
        ({"test_url": "/ping\n"}, "control characters"),
        ({"surprise": 1}, "Extra inputs are not permitted"),
    ],
)
def test_invalid_specs_are_refused_with_a_clear_message(fields: dict[str, object], message: str) -> None:
    arguments: dict[str, object] = {"name": "crm", "base_url": "https://api.example", **fields}
    assert message in errors_of(lambda: ConnectorSpec.model_validate(arguments))


def test_the_authorization_code_grant_needs_its_urls() -> None:
    message = errors_of(
        lambda: OAuth2Settings(grant=OAuth2Grant.AUTHORIZATION_CODE, token_url="https://idp.example/token")
    )
    assert "needs authorization_url and redirect_url" in message


def test_oauth2_settings_are_refused_for_other_auth_types() -> None:
    oauth2 = OAuth2Settings(grant=OAuth2Grant.CLIENT_CREDENTIALS, token_url="https://idp.example/token")
    message = errors_of(lambda: ConnectorSpec(name="a", base_url="https://a.example", oauth2=oauth2))
    assert "only allowed with auth_type oauth2" in message


@pytest.mark.parametrize(
    ("url", "resolved"),
    [
        ("", "https://api.example/v2/"),
        ("issues", "https://api.example/v2/issues"),
        ("/issues?x=1", "https://api.example/v2/issues?x=1"),
        ("?page=2", "https://api.example/v2/?page=2"),
        ("https://other.example/x", "https://other.example/x"),
    ],
)
def test_relative_urls_are_appended_to_the_base_url(url: str, resolved: str) -> None:
    # Auth type token: the URL is no secret (a URL-based connector shows it redacted: test_connector_urls)
    spec = ConnectorSpec(name="a", base_url="https://api.example/v2/", auth_type=AuthType.TOKEN)
    assert spec.resolve_url(url) == resolved


def test_credentials_never_show_their_secrets_in_repr_or_validation_errors() -> None:
    credentials = Credentials(
        username="svc",
        password=SECRET,
        token_headers={"X-Key": SECRET},
        client_id="id",
        client_secret=SECRET,
        access_token=SECRET,
        refresh_token=SECRET,
    )
    assert SECRET not in repr(credentials)
    assert SECRET not in str(credentials)
    message = errors_of(lambda: Credentials(token_headers={"X-Key": SECRET + "\n"}))
    assert SECRET not in message
    assert "control characters" in message


def test_credentials_round_trip_through_the_secret_document() -> None:
    credentials = Credentials(
        username="svc",
        password=SECRET,
        token_headers={"X-Key": "k"},
        client_id="id",
        client_secret="cs",
        access_token="at",
        access_token_expires_at=123.5,
        refresh_token="rt",
    )
    document = json.loads(credentials.to_secret_json())
    assert document == {
        "username": "svc",
        "password": SECRET,
        "tokenHeaders": {"X-Key": "k"},
        "clientId": "id",
        "clientSecret": "cs",
        "accessToken": "at",
        "accessTokenExpiresAt": 123.5,
        "refreshToken": "rt",
    }
    assert (
        Credentials.from_secret_json(credentials.to_secret_json()).to_secret_json()
        == credentials.to_secret_json()
    )


def test_tokens_obtained_from_a_provider_are_not_part_of_the_configured_fingerprint() -> None:
    configured = Credentials(client_id="id", client_secret="cs")
    with_tokens = configured.with_tokens("at", 10.0, "rt")
    assert with_tokens.configured_fingerprint() == configured.configured_fingerprint()
    assert Credentials(client_id="id", client_secret="other").configured_fingerprint() != (
        configured.configured_fingerprint()
    )
    # A provider that does not return a new refresh token keeps the old one
    assert with_tokens.with_tokens("at2", 20.0, None).refresh_token == SecretStr("rt")


@pytest.mark.parametrize(
    ("auth_type", "credentials", "problems"),
    [
        (AuthType.NONE, None, []),
        (AuthType.BASIC, None, ["basic auth needs a username", "basic auth needs a password"]),
        (AuthType.BASIC, Credentials(username="u", password=""), ["basic auth needs a password"]),
        (AuthType.TOKEN, Credentials(token_headers={"X-Key": ""}), ["token header X-Key has an empty value"]),
    ],
)
def test_credential_problems_name_fields_only(
    auth_type: AuthType, credentials: Credentials | None, problems: list[str]
) -> None:
    spec = ConnectorSpec(name="a", base_url="https://a.example", auth_type=auth_type)
    assert credential_problems(spec, credentials) == problems


def test_basic_authorization_is_rfc_7617() -> None:
    assert basic_authorization("Aladdin", "open sesame") == "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
    assert basic_authorization("us\u00e9r", "p\u00e4ss") == "Basic dXPDqXI6cMOkc3M="


def test_auth_headers_override_request_and_connector_headers_case_insensitively() -> None:
    spec = ConnectorSpec(
        name="a",
        base_url="https://a.example/api",
        auth_type=AuthType.TOKEN,
        headers={"Accept": "text/xml", "X-Team": "ops"},
    )
    auth = static_auth_headers(spec, Credentials(token_headers={"x-api-key": SECRET}))
    # The URL is resolved before auth is applied (LoadedConnector.resolve_url), and kept as it is
    request = OutboundRequest(
        "POST", spec.resolve_url("items"), {"accept": "application/json", "X-API-KEY": "forged"}, b"{}"
    )
    sent = authenticated_request(spec, request, auth)
    assert sent.url == "https://a.example/api/items"
    assert sent.headers == {"accept": "application/json", "X-Team": "ops", "x-api-key": SECRET}
    assert sent.body == b"{}"


def test_merge_headers_keeps_the_last_spelling() -> None:
    assert merge_headers({"A": "1", "b": "2"}, {"a": "3"}) == {"a": "3", "b": "2"}
