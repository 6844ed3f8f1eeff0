"""The local stack's console sign-in: authorization code + PKCE (S256), tokens the admin API accepts."""

from __future__ import annotations

import base64
import json
import secrets
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from eventrelay.admin_auth import KeySet, TokenVerifier
from eventrelay_cli.local.local_auth import (
    CODE_TTL_SECONDS,
    CONSOLE_CLIENT_ID,
    LocalAuthorizationServer,
    pkce_challenge,
)
from eventrelay_cli.local.token_issuer import LocalTokenIssuer

ORIGIN = "http://127.0.0.1:3000"
REDIRECT = f"{ORIGIN}/console/"


class Clock:
    def __init__(self) -> None:
        self.now = 1_900_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def issuer() -> LocalTokenIssuer:
    return LocalTokenIssuer.generate()


@pytest.fixture
def server(issuer: LocalTokenIssuer, clock: Clock) -> LocalAuthorizationServer:
    return LocalAuthorizationServer(issuer=lambda: issuer, clock=clock)


def event(method: str, query: dict[str, str], form: dict[str, str] | None = None) -> dict[str, Any]:
    built: dict[str, Any] = {
        "rawQueryString": urlencode(query),
        "headers": {"host": "127.0.0.1:3000", "x-forwarded-proto": "http"},
        "requestContext": {"http": {"method": method}},
    }
    if form is not None:  # as the gateway passes a form: base64
        built["body"] = base64.b64encode(urlencode(form).encode()).decode()
        built["isBase64Encoded"] = True
    return built


def authorize_query(challenge: str, **overrides: str) -> dict[str, str]:
    return {
        "response_type": "code",
        "client_id": CONSOLE_CLIENT_ID,
        "redirect_uri": REDIRECT,
        "state": "st-1",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "scope": "openid",
        **overrides,
    }


def sign_in(server: LocalAuthorizationServer, challenge: str, **form: str) -> str:
    """The code the redirect carries after the form is posted."""
    answer = server.authorize(event("POST", {}, {**authorize_query(challenge), **form}))
    assert answer["statusCode"] == 302
    location = urlsplit(answer["headers"]["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
    query = parse_qs(location.query)
    assert query["state"] == ["st-1"]
    return query["code"][0]


def exchange(server: LocalAuthorizationServer, code: str, verifier: str, **overrides: str) -> tuple[int, Any]:
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "code_verifier": verifier,
        "redirect_uri": REDIRECT,
        "client_id": CONSOLE_CLIENT_ID,
        **overrides,
    }
    answer = server.token(event("POST", {}, form))
    return answer["statusCode"], json.loads(answer["body"])


def test_the_form_is_shown_escaped_with_the_request_carried(server: LocalAuthorizationServer) -> None:
    page = server.authorize(event("GET", authorize_query("c" * 43, state='"><script>alert(1)</script>')))
    assert page["statusCode"] == 200
    assert "<script>alert(1)" not in page["body"]
    assert "&lt;script&gt;" in page["body"]
    assert "unsafe-inline" not in page["headers"]["Content-Security-Policy"]
    assert '<label for="subject">Subject</label>' in page["body"]


def test_an_operator_signs_in_with_pkce_and_the_admin_api_accepts_the_token(
    server: LocalAuthorizationServer, issuer: LocalTokenIssuer
) -> None:
    verifier = secrets.token_urlsafe(48)
    code = sign_in(server, pkce_challenge(verifier), subject="ops@local", role="operator")
    status, tokens = exchange(server, code, verifier)
    assert status == 200
    assert tokens["token_type"] == "Bearer"
    assert tokens["expires_in"] > 0
    verifier_of_api = TokenVerifier(issuer.issuer, [issuer.audience], KeySet(issuer.jwks()))
    principal = verifier_of_api.verify(tokens["id_token"])
    assert principal.subject == "ops@local"
    assert principal.is_operator


def test_a_tenant_admin_gets_only_the_named_tenants(
    server: LocalAuthorizationServer, issuer: LocalTokenIssuer
) -> None:
    verifier = secrets.token_urlsafe(48)
    code = sign_in(server, pkce_challenge(verifier), subject="ann", role="tenant", tenants="acme, demo")
    _, tokens = exchange(server, code, verifier)
    principal = TokenVerifier(issuer.issuer, [issuer.audience], KeySet(issuer.jwks())).verify(
        tokens["access_token"]
    )
    assert not principal.is_operator
    assert principal.tenants == frozenset({"acme", "demo"})


def test_a_wrong_verifier_gets_no_token_and_burns_the_code(server: LocalAuthorizationServer) -> None:
    verifier = secrets.token_urlsafe(48)
    code = sign_in(server, pkce_challenge(verifier), subject="x", role="operator")
    status, answer = exchange(server, code, secrets.token_urlsafe(48))
    assert (status, answer["error"]) == (400, "invalid_grant")
    status, answer = exchange(server, code, verifier)  # a code is used once, right or wrong
    assert (status, answer["error"]) == (400, "invalid_grant")


def test_a_code_is_used_once(server: LocalAuthorizationServer) -> None:
    verifier = secrets.token_urlsafe(48)
    code = sign_in(server, pkce_challenge(verifier), subject="x", role="operator")
    assert exchange(server, code, verifier)[0] == 200
    assert exchange(server, code, verifier)[1]["error"] == "invalid_grant"


def test_an_expired_code_is_refused(server: LocalAuthorizationServer, clock: Clock) -> None:
    verifier = secrets.token_urlsafe(48)
    code = sign_in(server, pkce_challenge(verifier), subject="x", role="operator")
    clock.now += CODE_TTL_SECONDS + 1
    assert exchange(server, code, verifier)[1]["error"] == "invalid_grant"


def test_another_redirect_at_exchange_is_refused(server: LocalAuthorizationServer) -> None:
    verifier = secrets.token_urlsafe(48)
    code = sign_in(server, pkce_challenge(verifier), subject="x", role="operator")
    assert exchange(server, code, verifier, redirect_uri=f"{ORIGIN}/other/")[1]["error"] == "invalid_grant"


@pytest.mark.parametrize(
    "overrides",
    [
        {"redirect_uri": "https://evil.example/console/"},
        {"redirect_uri": "http://127.0.0.1:3001/console/"},
        {"client_id": "someone-else"},
        {"code_challenge_method": "plain"},
        {"code_challenge": ""},
        {"response_type": "token"},
    ],
)
def test_an_invalid_request_is_never_redirected(
    server: LocalAuthorizationServer, overrides: dict[str, str]
) -> None:
    form = {**authorize_query("c" * 43, **overrides), "subject": "x", "role": "operator"}
    answer = server.authorize(event("POST", {}, form))
    assert answer["statusCode"] == 400
    assert "Location" not in answer["headers"]


def test_a_tenant_admin_without_tenants_is_asked_again(server: LocalAuthorizationServer) -> None:
    answer = server.authorize(
        event("POST", {}, {**authorize_query("c" * 43), "subject": "x", "role": "tenant"})
    )
    assert answer["statusCode"] == 400
    assert "names at least one tenant" in answer["body"]
