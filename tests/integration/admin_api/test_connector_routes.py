"""The connector routes of the admin API, through `AdminApi.handle` on the embedded AWS.

Each test is a caller with a fixed principal (an operator, or a tenant admin); targets are real
HTTP servers on 127.0.0.1. Credentials go in and never come out: every answer is searched whole
(as JSON text) for the canary secrets, and so are the logs.
"""

from __future__ import annotations

import json
import logging
import secrets
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from eventrelay.admin import AdminService
from eventrelay.admin_api.edge import AdminApi, AdminResponse
from eventrelay.admin_api.routes import all_routes
from eventrelay.admin_api.routing import AdminRequest, admin_path
from eventrelay.admin_auth import Principal
from eventrelay.settings import Settings
from tests.support.http_servers import RecordedRequest, RecordingServer, Reply
from tests.support.roots import admin_service

OPERATOR = Principal("operator@example", is_operator=True)


@pytest.fixture
def admin(settings: Settings) -> AdminService:
    return admin_service(settings)


@pytest.fixture
def tenant(admin: AdminService, tenant_id: str) -> str:
    admin.tenants.create(tenant_id, "Connector routes")
    return tenant_id


@pytest.fixture
def canary() -> str:
    return f"CANARY-PW-{secrets.token_hex(6)}-é/+=&"


@pytest.fixture
def echo_target() -> Iterator[RecordingServer]:
    """Answers every request with its headers in the body, as a careless API might."""

    def echo(request: RecordedRequest) -> Reply:
        return Reply(body=json.dumps({"seen": request.headers}).encode("utf-8"))

    with RecordingServer(echo) as server:
        yield server


@pytest.fixture(autouse=True)
def _verbose_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="eventrelay")
    caplog.set_level(logging.DEBUG, logger="urllib3")


def call(
    admin: AdminService,
    method: str,
    *segments: str,
    body: Any = None,
    query: dict[str, str] | None = None,
    principal: Principal = OPERATOR,
) -> AdminResponse:
    api = AdminApi(admin, lambda _authorization: principal, all_routes())
    request = AdminRequest(
        method=method,
        path=admin_path(*segments),
        request_id=f"test-{uuid.uuid4()}",
        headers={"authorization": "Bearer test", "content-type": "application/json"},
        query=query or {},
        body=json.dumps(body).encode("utf-8") if body is not None else b"",
    )
    return api.handle(request)


def basic_connector(canary: str, name: str = "jira") -> dict[str, Any]:
    return {
        "name": name,
        "baseUrl": "https://jira.example/rest/api/2",
        "authType": "basic",
        "headers": {"Accept": "application/json"},
        "description": "Jira Cloud",
        "credentials": {"username": "svc-relay", "password": canary},
    }


def test_create_answers_201_with_the_view_and_no_credential_value(
    admin: AdminService, tenant: str, canary: str, caplog: pytest.LogCaptureFixture
) -> None:
    # When an operator creates a basic-auth connector with a canary password
    created = call(admin, "POST", "tenants", tenant, "connectors", body=basic_connector(canary))

    # Then the answer is 201 with the connector's view: the password is `set`, never its value
    assert created.status == 201, created.body
    data = created.body["data"]
    assert (data["tenantId"], data["name"], data["authType"]) == (tenant, "jira", "basic")
    assert data["credentials"] == {"username": "svc-relay", "password": "set"}
    assert data["headers"] == {"Accept": "application/json"}
    assert canary not in created.json()

    # And list and show answer it, still without the value
    listed = call(admin, "GET", "tenants", tenant, "connectors")
    shown = call(admin, "GET", "tenants", tenant, "connectors", "jira")
    assert [row["name"] for row in listed.body["data"]] == ["jira"]
    assert shown.body["data"]["credentials"] == {"username": "svc-relay", "password": "set"}
    assert shown.body["data"]["description"] == "Jira Cloud"
    for answer in (listed, shown):
        assert answer.status == 200
        assert canary not in answer.json()
    assert canary not in caplog.text


def test_patch_changes_only_what_is_given(admin: AdminService, tenant: str, canary: str) -> None:
    call(admin, "POST", "tenants", tenant, "connectors", body=basic_connector(canary))

    # When a PATCH changes the description, adds a header, removes one and sets a new password
    new_password = canary + "-2"
    patched = call(
        admin,
        "PATCH",
        "tenants",
        tenant,
        "connectors",
        "jira",
        body={
            "description": "Jira (prod)",
            "headers": {"X-Team": "ops"},
            "removeHeaders": ["accept"],
            "credentials": {"password": new_password},
        },
    )

    # Then only those change, the answer says so, and the username stays
    assert patched.status == 200, patched.body
    data = patched.body["data"]
    assert data["changed"] is True
    assert data["description"] == "Jira (prod)"
    assert data["headers"] == {"X-Team": "ops"}
    assert data["baseUrl"] == "https://jira.example/rest/api/2"
    assert data["credentials"] == {"username": "svc-relay", "password": "set"}
    assert new_password not in patched.json()

    # And the same PATCH again changes nothing
    again = call(admin, "PATCH", "tenants", tenant, "connectors", "jira", body={"description": "Jira (prod)"})
    assert again.body["data"]["changed"] is False
    assert again.body["message"] == "Connector unchanged"


def test_test_connection_calls_the_target_with_the_credentials_and_answers_redacted(
    admin: AdminService, tenant: str, canary: str, echo_target: RecordingServer
) -> None:
    # Given a token-auth connector whose target echoes the request's headers in its body
    body = {
        "name": "erp",
        "baseUrl": echo_target.url("/api/"),
        "authType": "token",
        "testUrl": "health",
        "credentials": {"tokenHeaders": {"X-Api-Key": canary}},
    }
    assert call(admin, "POST", "tenants", tenant, "connectors", body=body).status == 201

    # When the connection is tested
    tested = call(admin, "POST", "tenants", tenant, "connectors", "erp", "test", body={"bodyLimit": 4096})

    # Then the target got the token header, and the answer tells the outcome without the token
    assert tested.status == 200, tested.body
    data = tested.body["data"]
    assert (data["ok"], data["status"], data["outcome"]) == (True, 200, "SUCCESS")
    assert data["url"] == echo_target.url("/api/health")
    assert isinstance(data["durationMs"], int)
    assert "seen" in data["body"]
    assert [request.path for request in echo_target.requests] == ["/api/health"]
    assert echo_target.requests[0].header("X-Api-Key") == canary
    assert canary not in tested.json()

    # And a small body limit shows the start of the body, marked truncated
    short = call(admin, "POST", "tenants", tenant, "connectors", "erp", "test", body={"bodyLimit": 5})
    assert (short.body["data"]["body"], short.body["data"]["bodyTruncated"]) == ('{"see…', True)


def test_delete_in_use_answers_1012_until_forced(admin: AdminService, tenant: str, canary: str) -> None:
    call(admin, "POST", "tenants", tenant, "connectors", body=basic_connector(canary))
    admin.actions.create(tenant, {"name": "create-issue", "connector": "jira", "method": "POST"})

    refused = call(admin, "DELETE", "tenants", tenant, "connectors", "jira")
    assert refused.status == 409
    assert refused.body["errorCode"] == "1012"
    assert "create-issue" in refused.body["message"]
    assert "?force=true" in refused.body["message"]

    forced = call(admin, "DELETE", "tenants", tenant, "connectors", "jira", query={"force": "true"})
    assert (forced.status, forced.body["data"]) == (200, {"deleted": True, "name": "jira"})
    assert call(admin, "GET", "tenants", tenant, "connectors", "jira").body["errorCode"] == "1011"


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("GET", (), None),
        ("PATCH", (), {"description": "x"}),
        ("DELETE", (), None),
        ("POST", ("test",), {}),
        ("POST", ("authorize",), None),
    ],
)
def test_an_unknown_connector_answers_1011(
    admin: AdminService, tenant: str, method: str, suffix: tuple[str, ...], body: Any
) -> None:
    answer = call(admin, method, "tenants", tenant, "connectors", "ghost", *suffix, body=body)
    assert (answer.status, answer.body["errorCode"]) == (404, "1011")
    assert "ghost" in answer.body["message"]


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({**basic_connector("pw"), "baseURL": "https://x.example"}, "baseURL: unknown field"),
        ({**basic_connector("pw"), "description": 5}, "description: must be a string"),
        ({**basic_connector("pw"), "headers": ["Accept"]}, "headers: must be an object"),
        ({**basic_connector("pw"), "headers": {"X-N": 1}}, "headers: every value must be a string"),
        ({**basic_connector("pw"), "authType": "kerberos"}, "authType: must be one of"),
        ({**basic_connector("pw"), "credentials": {"passwd": "pw"}}, "credentials.passwd: unknown field"),
        ({**basic_connector("pw"), "credentials": {"password": 7}}, "credentials.password: must be a string"),
        ({**basic_connector("pw"), "oauth2": {"tokenURL": "https://t.example"}}, "oauth2.tokenURL: unknown"),
        ({**basic_connector("pw"), "removeHeaders": ["Accept"]}, "removeHeaders: unknown field"),
        ({"baseUrl": "https://x.example"}, "name: required"),
    ],
)
def test_a_bad_create_body_answers_1004_naming_the_field(
    admin: AdminService, tenant: str, body: dict[str, Any], problem: str
) -> None:
    answer = call(admin, "POST", "tenants", tenant, "connectors", body=body)
    assert (answer.status, answer.body["errorCode"]) == (400, "1004")
    assert any(message.startswith(problem) for message in answer.body["messages"]), answer.body
    assert call(admin, "GET", "tenants", tenant, "connectors").body["data"] == []


def test_a_bad_patch_or_test_body_answers_1004(admin: AdminService, tenant: str, canary: str) -> None:
    call(admin, "POST", "tenants", tenant, "connectors", body=basic_connector(canary))
    unknown = call(admin, "PATCH", "tenants", tenant, "connectors", "jira", body={"name": "other"})
    wrong_type = call(
        admin, "PATCH", "tenants", tenant, "connectors", "jira", body={"removeHeaders": "Accept"}
    )
    limit = call(admin, "POST", "tenants", tenant, "connectors", "jira", "test", body={"bodyLimit": "10"})
    assert [a.body["messages"] for a in (unknown, wrong_type, limit)] == [
        ["name: unknown field"],
        ["removeHeaders: must be a list of strings"],
        ["bodyLimit: must be an integer"],
    ]
    assert {a.body["errorCode"] for a in (unknown, wrong_type, limit)} == {"1004"}


def test_a_service_rule_answers_1004_with_its_problem(admin: AdminService, tenant: str) -> None:
    # A password on an auth-none connector: the service's rule, named by the body's field
    body = {"name": "hook", "baseUrl": "https://h.example", "credentials": {"password": "pw"}}
    answer = call(admin, "POST", "tenants", tenant, "connectors", body=body)
    assert (answer.status, answer.body["errorCode"]) == (400, "1004")
    assert answer.body["messages"] == ["credentials.password: does not apply to auth type none"]


def test_another_tenants_admin_gets_what_an_unknown_tenant_gets(
    admin: AdminService, tenant: str, canary: str
) -> None:
    call(admin, "POST", "tenants", tenant, "connectors", body=basic_connector(canary))
    stranger = Principal("admin@other", is_operator=False, tenants=frozenset({"other-tenant"}))
    unknown_tenant = f"t-{uuid.uuid4().hex[:12]}"

    for segments in ((), ("jira",)):
        theirs = call(admin, "GET", "tenants", tenant, "connectors", *segments, principal=stranger)
        unknown = call(admin, "GET", "tenants", unknown_tenant, "connectors", *segments, principal=OPERATOR)
        assert (theirs.status, theirs.body["errorCode"]) == (404, "1011")
        without_ids = [{k: v for k, v in a.body.items() if k != "requestId"} for a in (theirs, unknown)]
        assert without_ids[0] == {
            **without_ids[1],
            "message": without_ids[1]["message"].replace(unknown_tenant, tenant),
            "messages": [m.replace(unknown_tenant, tenant) for m in without_ids[1]["messages"]],
        }

    # And the tenant's own admin reaches the connector
    own = Principal("admin@tenant", is_operator=False, tenants=frozenset({tenant}))
    mine = call(admin, "GET", "tenants", tenant, "connectors", "jira", principal=own)
    assert (mine.status, mine.body["data"]["name"]) == (200, "jira")
