"""Admin API tokens: the local issuer mints them, `admin_auth` verifies them and reads the roles.

One table of tokens, verified twice: with the issuer's key set given, and with its JWKS fetched
from a real HTTP server on 127.0.0.1 (PyJWKClient)."""

from __future__ import annotations

import dataclasses
import json
import socket
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread
from typing import Any

import jwt
import pytest

from eventrelay.admin_auth import (
    JwksUrlKeys,
    KeySet,
    Principal,
    SigningKeys,
    TokenVerifier,
    bearer_token,
    principal_from_claims,
)
from eventrelay.errors import DependencyFailure, ErrorCode, Forbidden, Unauthenticated
from eventrelay_cli.local.token_issuer import LOCAL_AUDIENCE, LOCAL_ISSUER, LocalTokenIssuer

ISSUER = LocalTokenIssuer.generate()
HOUR = 3600


def _at(offset_seconds: float) -> LocalTokenIssuer:
    """The same issuer, minting as if the clock were `offset_seconds` from now."""
    return dataclasses.replace(ISSUER, clock=lambda: time.time() + offset_seconds)


def _unsigned() -> str:
    claims = {"sub": "mallory", "iss": LOCAL_ISSUER, "aud": LOCAL_AUDIENCE, "exp": int(time.time()) + HOUR,
              "cognito:groups": ["operator"]}  # fmt: skip
    return jwt.encode(claims, None, algorithm="none", headers={"kid": ISSUER.key_id})


def _cognito_access_token(client_id: str) -> str:
    """A Cognito access token has no `aud`: its app client is in `client_id`."""
    now = int(time.time())
    claims = {"sub": "alice", "iss": LOCAL_ISSUER, "client_id": client_id, "token_use": "access",
              "iat": now, "exp": now + HOUR, "cognito:groups": ["tenant:acme"]}  # fmt: skip
    return jwt.encode(claims, ISSUER.private_key, algorithm="ES256", headers={"kid": ISSUER.key_id})


def _operator_token(issuer: LocalTokenIssuer = ISSUER) -> str:
    return issuer.mint("ops", operator=True)


def _other_key(same_kid: bool) -> LocalTokenIssuer:
    other = LocalTokenIssuer.generate()
    return dataclasses.replace(other, key_id=ISSUER.key_id) if same_kid else other


OPERATOR = "operator"
ADMINISTERS = "administers"
CANNOT_ADMINISTER = "cannot administer"
REFUSED = Unauthenticated

# (token, tenant asked about, expected: a role outcome, or REFUSED)
CASES = [
    pytest.param(_operator_token, "acme", OPERATOR, id="operator"),
    pytest.param(lambda: ISSUER.mint("alice", tenants=["acme"]), "acme", ADMINISTERS, id="tenant admin, own"),
    pytest.param(lambda: ISSUER.mint("a", tenants=["acme", "beta"]), "beta", ADMINISTERS, id="second tenant"),
    pytest.param(
        lambda: ISSUER.mint("a", tenants=["acme"]), "globex", CANNOT_ADMINISTER, id="another tenant"
    ),
    pytest.param(lambda: ISSUER.mint("nobody"), "acme", CANNOT_ADMINISTER, id="no groups"),
    pytest.param(
        lambda: _cognito_access_token(LOCAL_AUDIENCE), "acme", ADMINISTERS, id="cognito access token"
    ),
    pytest.param(lambda: None, "acme", REFUSED, id="no token"),
    pytest.param(lambda: "", "acme", REFUSED, id="empty token"),
    pytest.param(lambda: "not.a.jwt", "acme", REFUSED, id="garbage"),
    pytest.param(
        lambda: _at(-2 * HOUR).mint("ops", operator=True, ttl_seconds=60), "acme", REFUSED, id="expired"
    ),
    pytest.param(lambda: _operator_token(_at(2 * HOUR)), "acme", REFUSED, id="not yet valid"),
    pytest.param(
        lambda: _operator_token(_other_key(same_kid=True)), "acme", REFUSED, id="other key, same kid"
    ),
    pytest.param(
        lambda: _operator_token(_other_key(same_kid=False)), "acme", REFUSED, id="other key, unknown kid"
    ),
    pytest.param(
        lambda: _operator_token(dataclasses.replace(ISSUER, audience="someone-else")),
        "acme",
        REFUSED,
        id="wrong audience",
    ),
    pytest.param(
        lambda: _cognito_access_token("other-client"), "acme", REFUSED, id="access token, other client"
    ),
    pytest.param(
        lambda: _operator_token(dataclasses.replace(ISSUER, issuer="https://evil.example")),
        "acme",
        REFUSED,
        id="wrong issuer",
    ),
    pytest.param(_unsigned, "acme", REFUSED, id="alg none"),
]


class _JwksHandler(BaseHTTPRequestHandler):
    body = b""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output clean


@pytest.fixture(scope="module")
def jwks_url() -> Iterator[str]:
    handler = type("Handler", (_JwksHandler,), {"body": json.dumps(ISSUER.jwks()).encode()})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture(params=["key set", "JWKS URL"])
def verifier(request: pytest.FixtureRequest) -> TokenVerifier:
    keys: SigningKeys = (
        KeySet(ISSUER.jwks())
        if request.param == "key set"
        else JwksUrlKeys(request.getfixturevalue("jwks_url"))
    )
    return TokenVerifier(issuer=LOCAL_ISSUER, audiences=[LOCAL_AUDIENCE], keys=keys)


@pytest.mark.parametrize(("make_token", "tenant", "expected"), CASES)
def test_token_roles(
    verifier: TokenVerifier,
    make_token: Callable[[], str | None],
    tenant: str,
    expected: str | type[Exception],
) -> None:
    token = make_token()
    if isinstance(expected, type):
        with pytest.raises(expected) as raised:
            verifier.verify(token)
        assert isinstance(raised.value, Unauthenticated)
        assert raised.value.code is ErrorCode.UNAUTHENTICATED
        assert raised.value.code.http_status == 401
        assert not token or token not in str(raised.value)
        return
    principal = verifier.verify(token)
    assert principal.is_operator is (expected == OPERATOR)
    assert principal.can_administer(tenant) is (expected != CANNOT_ADMINISTER)


def test_the_subject_is_the_tokens_sub(verifier: TokenVerifier) -> None:
    principal = verifier.verify(ISSUER.mint("alice@example.com", tenants=["acme", "beta"]))
    assert principal == Principal("alice@example.com", is_operator=False, tenants=frozenset({"acme", "beta"}))


def test_a_small_clock_skew_is_tolerated(verifier: TokenVerifier) -> None:
    # Issued 10 s "in the future" by a fast issuer clock: within the leeway, accepted.
    assert verifier.verify(_at(10).mint("ops", operator=True)).is_operator


def test_operator_only_operations_refuse_a_tenant_admin() -> None:
    tenant_admin = Principal("alice", is_operator=False, tenants=frozenset({"acme"}))
    with pytest.raises(Forbidden) as raised:
        tenant_admin.require_operator("creating a tenant")
    assert raised.value.code is ErrorCode.FORBIDDEN
    assert raised.value.code.http_status == 403
    Principal("ops", is_operator=True).require_operator("creating a tenant")  # no error


@pytest.mark.parametrize(
    ("header", "token"),
    [("Bearer abc.def.ghi", "abc.def.ghi"), ("bearer  abc.def.ghi ", "abc.def.ghi")],
)
def test_bearer_token_reads_the_authorization_header(header: str, token: str) -> None:
    assert bearer_token(header) == token


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer  ", "Basic dXNlcjpwYXNz", "abc.def.ghi"])
def test_bearer_token_refuses_anything_else(header: str | None) -> None:
    with pytest.raises(Unauthenticated):
        bearer_token(header)


def test_groups_other_than_roles_are_ignored() -> None:
    principal = principal_from_claims(
        {"sub": "x", "cognito:groups": ["admins", "tenant:", "tenant:acme", "operators", 7]}
    )
    assert principal == Principal("x", is_operator=False, tenants=frozenset({"acme"}))


def test_new_error_codes_have_the_documented_statuses() -> None:
    assert {code.value: code.http_status for code in ErrorCode if code.value in {"1012", "1013", "1014"}} == {
        "1012": 409,
        "1013": 401,
        "1014": 403,
    }


def test_an_unreachable_jwks_url_is_a_dependency_failure_not_a_bad_token() -> None:
    with socket.socket() as placeholder:  # a port nothing listens on once closed
        placeholder.bind(("127.0.0.1", 0))
        port = placeholder.getsockname()[1]
    keys = JwksUrlKeys(f"http://127.0.0.1:{port}/jwks.json", timeout_seconds=2)
    verifier = TokenVerifier(issuer=LOCAL_ISSUER, audiences=[LOCAL_AUDIENCE], keys=keys)
    with pytest.raises(DependencyFailure):
        verifier.verify(_operator_token())
