"""The admin API on the running local stack, over HTTP: who may call which route, the CLI's --api
mode with the stack's own tokens, and the OpenAPI document it serves.

The table covers every route of `all_routes()`, so routes added later are covered as they land.
"""

from __future__ import annotations

import json
import re
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from eventrelay.admin_api.http_event import openapi_document
from eventrelay.admin_api.routes import all_routes
from eventrelay.admin_api.routing import Route
from tests.support.admin_api import (
    Answer,
    call,
    expired_token,
    foreign_key_token,
    operator_token,
    tenant_admin_token,
    wrong_audience_token,
)
from tests.support.local_stack import REPO_ROOT, RunningStack, descendants

ROUTE_TENANT = "acme"
OTHER_TENANT = "globex"
UNKNOWN_TENANT = "no-such-tenant"
BODY_METHODS = {"POST", "PUT", "PATCH"}

OPERATOR = "operator"
TENANT_ADMIN = "tenant admin of the route's tenant"
OTHER_TENANT_ADMIN = "tenant admin of another tenant"
NO_TOKEN = "no token"
EXPIRED = "expired token"
FOREIGN_KEY = "token signed by another key"
WRONG_AUDIENCE = "token for another audience"
UNAUTHENTICATED = (NO_TOKEN, EXPIRED, FOREIGN_KEY, WRONG_AUDIENCE)
CALLERS = (OPERATOR, TENANT_ADMIN, OTHER_TENANT_ADMIN, *UNAUTHENTICATED)

TOKENS: dict[str, Callable[[RunningStack], str | None]] = {
    OPERATOR: operator_token,
    TENANT_ADMIN: lambda stack: tenant_admin_token(stack, ROUTE_TENANT),
    OTHER_TENANT_ADMIN: lambda stack: tenant_admin_token(stack, OTHER_TENANT),
    NO_TOKEN: lambda stack: None,
    EXPIRED: expired_token,
    FOREIGN_KEY: foreign_key_token,
    WRONG_AUDIENCE: wrong_audience_token,
}

_PARAMETER = re.compile(r"\{([A-Za-z]+)\}")


def _placeholder(parameter: str) -> str:
    # Well-formed names that do not exist: the call reaches the service, which answers 1011.
    return "v99" if parameter.lower().endswith("version") else f"no-such-{parameter.lower()}"


def route_path(route: Route, tenant_id: str) -> str:
    return _PARAMETER.sub(
        lambda found: tenant_id if found.group(1) == "tenantId" else _placeholder(found.group(1)),
        route.template,
    )


def request(stack: RunningStack, route: Route, tenant_id: str, token: str | None) -> Answer:
    body: dict[str, Any] | None = {} if route.method in BODY_METHODS else None
    return call(stack, route.method, route_path(route, tenant_id), token, body)


def tenant_not_found(answer: Answer, tenant_id: str) -> bool:
    return answer.status == 404 and f"tenant '{tenant_id}' not found" in answer.text


@pytest.fixture(scope="module")
def tenants(local_stack: RunningStack) -> RunningStack:
    """The route's tenant and another one, created through the API by an operator."""
    for tenant_id in (ROUTE_TENANT, OTHER_TENANT):
        created = call(
            local_stack, "POST", "/v1/admin/tenants", operator_token(local_stack), {"tenantId": tenant_id}
        )
        assert created.status == 201, created.text
        assert created.document["data"]["sharedSecret"]
    return local_stack


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("route", all_routes(), ids=lambda route: f"{route.method} {route.template}")
def test_every_route_answers_each_caller_as_its_role_allows(
    tenants: RunningStack, route: Route, caller: str
) -> None:
    stack = tenants
    # When the caller calls the route for the route's tenant
    answer = request(stack, route, ROUTE_TENANT, TOKENS[caller](stack))
    document = answer.document
    if caller in UNAUTHENTICATED:
        # Then a token that is missing, expired, forged or meant for another API is 401 / 1013
        assert (answer.status, document["errorCode"]) == (401, "1013"), answer.text
        assert document["result"] is False
        assert document["requestId"]
    elif route.operator_only and caller != OPERATOR:
        # Then a tenant admin may not do an operator's work: 403 / 1014
        assert (answer.status, document["errorCode"]) == (403, "1014"), answer.text
    elif caller == OTHER_TENANT_ADMIN and route.tenant_scoped:
        # Then another tenant answers exactly as a tenant that does not exist (no hint it exists)
        assert (answer.status, document["errorCode"]) == (404, "1011"), answer.text
        unknown = request(stack, route, UNKNOWN_TENANT, operator_token(stack))
        assert unknown.status == answer.status
        assert json.dumps(answer.without_request_id()).replace(ROUTE_TENANT, "<tenant>") == json.dumps(
            unknown.without_request_id()
        ).replace(UNKNOWN_TENANT, "<tenant>")
    else:
        # Then an allowed caller is let through (its empty body or placeholder name may be refused)
        assert answer.status not in (401, 403), answer.text
        assert not tenant_not_found(answer, ROUTE_TENANT), answer.text
        assert answer.status < 500, answer.text


def test_the_printed_operator_token_and_the_served_keys_are_the_stack_s_own(
    local_stack: RunningStack,
) -> None:
    # Given the operator token the stack printed once at start
    [line] = [line for line in local_stack.output if "export EVENTRELAY_TOKEN=" in line]
    token = line.split("=", 1)[1].strip()
    # Then it is an operator's token the admin API accepts
    me = call(local_stack, "GET", "/v1/admin/me", token)
    assert me.status == 200, me.text
    assert me.document["data"] == {"subject": "local-operator", "operator": True, "tenants": []}
    # And the banner says how to mint a tenant admin's token
    assert local_stack.printed("eventrelay token TENANT")
    # And the key behind it is readable by its owner only, its public half served as a JWKS
    key_file = local_stack.state_dir / ".eventrelay" / "token-key.json"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    keys = call(local_stack, "GET", "/.well-known/jwks.json", None)
    assert keys.status == 200
    [key] = keys.document["keys"]
    assert key["kid"] == json.loads(key_file.read_text())["keyId"]
    assert "d" not in key  # the private part never leaves the state folder


def test_the_openapi_document_is_served_as_shipped(local_stack: RunningStack) -> None:
    answer = call(local_stack, "GET", "/v1/openapi.json", None)
    assert answer.status == 200
    assert answer.document == json.loads(openapi_document())
    assert answer.document["openapi"].startswith("3.1")


def test_eventrelay_token_mints_a_tenant_admin_token_the_stack_accepts(tenants: RunningStack) -> None:
    # When a tenant admin's token is minted with the CLI, from the folder of the stack's state
    minted = tenants.cli("token", ROUTE_TENANT)
    assert minted.returncode == 0, minted.stderr
    token = minted.stdout.strip()
    # Then the stack knows it as that tenant's admin, and nothing more
    me = call(tenants, "GET", "/v1/admin/me", token)
    assert me.status == 200, me.text
    assert me.document["data"] == {"subject": "local-admin", "operator": False, "tenants": [ROUTE_TENANT]}
    assert call(tenants, "GET", "/v1/admin/tenants", token).status == 403


def test_the_cli_administers_through_the_api_with_the_stack_s_tokens(
    tenants: RunningStack, tmp_path: Path
) -> None:
    stack = tenants
    config = {"XDG_CONFIG_HOME": str(tmp_path / "config")}
    operator = {**config, "EVENTRELAY_TOKEN": operator_token(stack)}
    tenant_admin = {**config, "EVENTRELAY_TOKEN": tenant_admin_token(stack, ROUTE_TENANT)}
    # An operator lists the tenants through the API
    listed = stack.cli("--api", stack.api_url, "tenant", "list", "--json", env=operator)
    assert listed.returncode == 0, listed.stderr
    assert {ROUTE_TENANT, OTHER_TENANT} <= {tenant["tenantId"] for tenant in json.loads(listed.stdout)}
    # A tenant admin registers an event and lists the tenant's registrations
    registered = stack.cli(
        "--api", stack.api_url, "event", "register", ROUTE_TENANT, "InvoicePaid", "v01", env=tenant_admin
    )
    assert registered.returncode == 0, registered.stderr
    assert "registered InvoicePaid/v01 (open) for acme" in registered.stdout
    events = stack.cli("--api", stack.api_url, "event", "list", ROUTE_TENANT, "--json", env=tenant_admin)
    assert events.returncode == 0, events.stderr
    listed_events = {(row["eventName"], row["eventVersion"]) for row in json.loads(events.stdout)}
    assert ("InvoicePaid", "v01") in listed_events
    # But not another tenant's: exactly as a tenant that does not exist (exit code 3: not found)
    other = stack.cli("--api", stack.api_url, "event", "list", OTHER_TENANT, env=tenant_admin)
    assert other.returncode == 3, other.stderr
    assert f"tenant '{OTHER_TENANT}' not found" in other.stderr


def test_login_saves_a_token_that_api_mode_then_uses(tenants: RunningStack, tmp_path: Path) -> None:
    stack = tenants
    config = {"XDG_CONFIG_HOME": str(tmp_path / "config")}
    # Given no token yet: --api says how to get one
    refused = stack.cli("--api", stack.api_url, "event", "list", ROUTE_TENANT, env=config)
    assert refused.returncode == 2
    assert "eventrelay login" in refused.stderr
    # When a tenant admin logs in with a token from `eventrelay token`
    token = stack.cli("token", ROUTE_TENANT).stdout.strip()
    login = stack.cli(
        "login", "--api", stack.api_url, "--token-env", "ADMIN_TOKEN", env={**config, "ADMIN_TOKEN": token}
    )
    assert login.returncode == 0, login.stderr
    assert "tenant admin of acme" in login.stderr
    saved = tmp_path / "config" / "eventrelay" / "tokens.json"
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    # Then --api uses the saved token without EVENTRELAY_TOKEN: the answer is the route's data
    events = stack.cli("--api", stack.api_url, "event", "list", ROUTE_TENANT, "--json", env=config)
    assert events.returncode == 0, events.stderr
    direct = call(stack, "GET", f"/v1/admin/tenants/{ROUTE_TENANT}/registrations", token)
    assert json.loads(events.stdout) == direct.document["data"]


def test_a_percent_encoded_path_reaches_the_same_route_through_the_gateway(tenants: RunningStack) -> None:
    # API Gateway decodes the path before the function sees it (`rawPath`); the admin API
    # encodes its segments again, so an encoded request and a plain one are the same request.
    token = tenant_admin_token(tenants, ROUTE_TENANT)
    plain = call(tenants, "GET", f"/v1/admin/tenants/{ROUTE_TENANT}/registrations", token)
    encoded = call(tenants, "GET", "/v1/admin/tenants/%61cme/registrations", token)
    assert plain.status == encoded.status == 200, encoded.text
    assert plain.document["data"] == encoded.document["data"]


def test_the_admin_function_runs_in_its_own_worker_with_the_local_issuer(tenants: RunningStack) -> None:
    # Given the admin function has served a request (its instance is started on demand)
    assert call(tenants, "GET", "/v1/admin/me", operator_token(tenants)).status == 200
    # Then a worker process of the stack runs from functions/admin_api, configured for the local
    # issuer, its audience, and the JWKS the stack's gateway serves
    workers = [pid for pid in descendants(tenants.pid) if _cwd(pid) == REPO_ROOT / "functions" / "admin_api"]
    assert workers
    environment = _environ(workers[0])
    assert environment["EVENTRELAY_ADMIN_TOKEN_ISSUER"] == "urn:eventrelay:local"
    assert environment["EVENTRELAY_ADMIN_TOKEN_AUDIENCES"] == "eventrelay-admin"
    assert environment["EVENTRELAY_ADMIN_JWKS_URL"] == f"{tenants.api_url}/.well-known/jwks.json"


def _cwd(pid: int) -> Path | None:
    try:
        return Path(f"/proc/{pid}/cwd").resolve(strict=True)
    except OSError:
        return None


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    pairs = (entry.decode(errors="replace").partition("=") for entry in raw if entry)
    return {name: value for name, _, value in pairs}
