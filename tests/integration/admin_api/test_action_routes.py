"""The action routes of the admin API through `AdminApi.handle`, on the embedded AWS, with a real
HTTP server on 127.0.0.1 behind a basic-auth connector: create, fields, update, test (redacted),
delete (in use, forced), not found, refused bodies, and another tenant answering as an unknown one."""

from __future__ import annotations

import base64
import json
import secrets
import uuid
from typing import Any

import pytest
from pydantic import SecretStr

from eventrelay.admin import AdminService, CredentialChanges
from eventrelay.admin_api.edge import AdminApi, AdminResponse
from eventrelay.admin_api.routes import all_routes
from eventrelay.admin_api.routing import AdminRequest, admin_path
from eventrelay.admin_auth import Principal
from eventrelay.connectors.models import AuthType, ConnectorSpec
from eventrelay.roots import AwsClients
from eventrelay.roots.admin import build_admin_service
from eventrelay.settings import Settings
from tests.support.http_servers import RecordedRequest, RecordingServer
from tests.support.http_servers import Reply as ServerReply

OPERATOR = Principal("user:operator", is_operator=True)
USERNAME = "bot@acme.example"
REDACTED = "[REDACTED]"


class Caller:
    """Calls the admin API as one principal; `authenticate` ignores the token and answers it."""

    def __init__(self, service: AdminService, principal: Principal) -> None:
        self._api = AdminApi(service, lambda _authorization: principal, all_routes())

    def __call__(
        self,
        method: str,
        *segments: str,
        body: object | None = None,
        query: dict[str, str] | None = None,
    ) -> AdminResponse:
        return self._api.handle(
            AdminRequest(
                method=method,
                path=admin_path(*segments),
                request_id=f"req-{uuid.uuid4()}",
                headers={"authorization": "Bearer test", "content-type": "application/json"},
                query=query or {},
                body=b"" if body is None else json.dumps(body).encode(),
            )
        )

    def data(self, method: str, *segments: str, **kwargs: Any) -> Any:
        response = self(method, *segments, **kwargs)
        assert response.body["result"] is True, response.body
        return response.body["data"]


def _error(response: AdminResponse) -> tuple[int, str, list[str]]:
    assert response.body["result"] is False, response.body
    return response.status, response.body["errorCode"], response.body["messages"]


@pytest.fixture
def service(settings: Settings) -> AdminService:
    return build_admin_service(settings, AwsClients.for_settings(settings))


@pytest.fixture
def tenant(service: AdminService, tenant_id: str) -> str:
    service.tenants.create(tenant_id, "Action routes")
    return tenant_id


@pytest.fixture
def operator(service: AdminService) -> Caller:
    return Caller(service, OPERATOR)


@pytest.fixture
def password() -> str:
    return f"CANARY-BASIC-PW-{secrets.token_hex(6)}-é/+=&"


def _echo(request: RecordedRequest) -> ServerReply:
    """A careless API: it answers with the headers it received, the credentials among them."""
    document = {"path": request.path, "headers": request.headers, "body": request.body.decode()}
    return ServerReply(status=201, body=json.dumps(document, ensure_ascii=False).encode())


def _basic_connector(service: AdminService, tenant: str, base_url: str, password: str) -> None:
    service.connectors.create(
        tenant,
        ConnectorSpec(name="jira", base_url=base_url, auth_type=AuthType.BASIC),
        CredentialChanges(username=USERNAME, password=SecretStr(password)),
    )


ISSUE = {
    "name": "create-issue",
    "connector": "jira",
    "method": "post",
    "url": "issue",
    "headers": {"Accept": "application/json"},
    "payload": {"type": "plain", "text": '{"summary": "{{title}}", "due": "{{due}}"}'},
    "maxRetries": 2,
}


def test_create_fields_update_test_and_delete(
    service: AdminService, operator: Caller, tenant: str, password: str
) -> None:
    with RecordingServer(_echo) as server:
        _basic_connector(service, tenant, server.url("/rest"), password)

        # create: the fields are parsed from the {{tokens}}, String without default
        created = operator("POST", "tenants", tenant, "actions", body=ISSUE)
        assert (created.status, created.body["message"]) == (201, "Action created")
        action = created.body["data"]
        assert action["fields"] == [
            {"name": "title", "type": "String", "default": None},
            {"name": "due", "type": "String", "default": None},
        ]
        assert (action["method"], action["maxRetries"], action["version"]) == ("POST", 2, 1)
        assert action["payload"] == ISSUE["payload"]
        assert operator.data("GET", "tenants", tenant, "actions", "create-issue") == action
        assert operator.data("GET", "tenants", tenant, "actions") == [action]
        assert operator.data("GET", "tenants", tenant, "actions", query={"connector": "jira"}) == [action]
        assert operator.data("GET", "tenants", tenant, "actions", query={"connector": "other"}) == []
        assert operator.data("GET", "tenants", tenant, "actions", "create-issue", "fields") == action

        # fields: `due` becomes a Date with a default; `title` keeps its choices
        fields = operator.data(
            "PATCH", "tenants", tenant, "actions", "create-issue", "fields",
            body={"fields": [{"name": "due", "type": "date", "default": "2026-12-01"}]},
        )  # fmt: skip
        assert fields["fields"] == [
            {"name": "title", "type": "String", "default": None},
            {"name": "due", "type": "Date", "default": "2026-12-01"},
        ]
        assert operator.data("GET", "tenants", tenant, "actions", "create-issue", "fields") == fields

        # update: only what the body names changes; the fields keep their choices
        updated = operator.data(
            "PATCH", "tenants", tenant, "actions", "create-issue", body={"url": "issue?notify={{notify}}"}
        )
        assert (updated["url"], updated["maxRetries"], updated["headers"]) == (
            "issue?notify={{notify}}",
            2,
            {"Accept": "application/json"},
        )
        assert updated["fields"] == [  # the URL's tokens come first
            {"name": "notify", "type": "String", "default": None},
            {"name": "title", "type": "String", "default": None},
            {"name": "due", "type": "Date", "default": "2026-12-01"},
        ]
        emptied = operator.data(
            "PATCH", "tenants", tenant, "actions", "create-issue", body={"url": "issue", "description": None}
        )
        assert [f["name"] for f in emptied["fields"]] == ["title", "due"]

        # test: the values given, the default for the rest; a real call, answered redacted
        answer = operator(
            "POST", "tenants", tenant, "actions", "create-issue", "test",
            body={"values": {"title": "Printer on fire"}, "bodyLimit": 10000},
        )  # fmt: skip
        assert answer.status == 200
        report = answer.body["data"]
        sent = server.requests[-1]
        basic = "Basic " + base64.b64encode(f"{USERNAME}:{password}".encode()).decode()
        assert sent.header("Authorization") == basic
        assert sent.body == b'{"summary": "Printer on fire", "due": "2026-12-01"}'

    assert report["ok"] is True
    assert report["values"] == {
        "title": {"type": "String", "value": "Printer on fire", "source": "given"},
        "due": {"type": "Date", "value": "2026-12-01", "source": "default"},
    }
    request = report["request"]
    assert (request["method"], request["url"]) == ("POST", server.url("/rest/issue"))
    assert request["headers"]["Authorization"] == REDACTED
    assert request["body"] == '{"summary": "Printer on fire", "due": "2026-12-01"}'
    response = report["response"]
    assert (response["outcome"], response["status"]) == ("SUCCESS", 201)
    assert json.loads(response["body"])["headers"]["Authorization"] == "Basic [REDACTED]"
    assert report["curl"].startswith("curl -sS -i -X POST " + server.url("/rest/issue"))
    assert "'Authorization: [REDACTED]'" in report["curl"]
    answer_text = answer.json()
    for secret in (password, basic.removeprefix("Basic "), json.dumps(password)[1:-1]):
        assert secret not in answer_text

    # delete: refused while a rule uses the action, then forced; then it is gone
    service.rules.create(
        tenant,
        {
            "name": "r1",
            "eventName": "IssueRaised",
            "eventVersion": "v01",
            "action": "create-issue",
            "mapping": {"title": "$.title"},
        },
    )
    assert _error(operator("DELETE", "tenants", tenant, "actions", "create-issue")) == (
        409,
        "1012",
        ["action 'create-issue' is used by rule(s) r1: delete them first, or delete with ?force=true"],
    )
    forced = operator("DELETE", "tenants", tenant, "actions", "create-issue", query={"force": "true"})
    assert (forced.status, forced.body["data"]) == (200, {"deleted": True, "name": "create-issue"})
    assert _error(operator("GET", "tenants", tenant, "actions", "create-issue"))[:2] == (404, "1011")

    # every change through the routes is the token subject's in the audit log
    changes = [
        (entry.operation, entry.attributes, entry.subject)
        for entry in reversed(service.audit.list(tenant, limit=100).entries)
        if entry.resource_kind == "action"
    ]
    assert changes == [
        ("created", ("connector", "method", "url", "headers", "payload", "maxRetries"), OPERATOR.subject),
        ("updated", ("fields.due",), OPERATOR.subject),
        ("updated", ("url", "fields"), OPERATOR.subject),  # a field came, then went
        ("updated", ("url", "fields"), OPERATOR.subject),
        ("deleted", (), OPERATOR.subject),
    ]


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("GET", (), None),
        ("PATCH", (), {"url": "x"}),
        ("DELETE", (), None),
        ("GET", ("fields",), None),
        ("PATCH", ("fields",), {"fields": [{"name": "title", "default": "x"}]}),
        ("POST", ("test",), {"values": {}}),
    ],
)
def test_an_unknown_action_is_not_found(
    operator: Caller, tenant: str, method: str, suffix: tuple[str, ...], body: object
) -> None:
    response = operator(method, "tenants", tenant, "actions", "ghost", *suffix, body=body)
    assert _error(response) == (404, "1011", ["action 'ghost' not found"])


CREATE: tuple[str, ...] = ()
SCALAR = "must be a string, a number, a boolean or null"
FIELD_TYPES = "must be one of String, Number, Boolean, Date, DateTime"
NOT_A_DATE = {"name": "due", "type": "Date", "default": "soon"}
BAD_TEMPLATE = {"type": "plain", "text": '{"a": "{{x"}'}
FIELDS = ("create-issue", "fields")
TEST = ("create-issue", "test")
UPDATE = ("create-issue",)


@pytest.mark.parametrize(
    ("method", "suffix", "body", "problem"),
    [
        ("POST", CREATE, {**ISSUE, "maxRetry": 2}, "maxRetry: unknown field"),
        ("POST", CREATE, {**ISSUE, "maxRetries": "2"}, "maxRetries: must be an integer"),
        ("POST", CREATE, {**ISSUE, "headers": {"X-Count": 1}}, "headers: every value must be a string"),
        ("POST", CREATE, {**ISSUE, "payload": "{{title}}"}, "payload: must be an object or null"),
        ("POST", CREATE, {**ISSUE, "payload": {"type": "xml"}}, "payload.type: must be plain or form"),
        ("POST", CREATE, {**ISSUE, "payload": {"type": "form", "pairs": [{"k": ""}]}}, "pairs[0].k: unknown"),
        ("POST", CREATE, {k: v for k, v in ISSUE.items() if k != "method"}, "method: required"),
        ("POST", CREATE, {**ISSUE, "fields": [{"name": "due", "typ": "D"}]}, "fields[0].typ: unknown field"),
        ("POST", CREATE, {**ISSUE, "maxRetries": 9}, "max retries must be between 0 and 5, got 9"),
        ("POST", CREATE, {**ISSUE, "payload": BAD_TEMPLATE}, "payload: unclosed '{{'"),
        ("POST", CREATE, {**ISSUE, "method": "TRACE"}, "method: Input should be 'GET'"),
        ("PATCH", UPDATE, {"payload": BAD_TEMPLATE}, "line 1, column"),
        ("PATCH", UPDATE, {"name": "renamed"}, "name: an action cannot be renamed"),
        ("PATCH", UPDATE, {"method": 5}, "method: must be a string"),
        ("PATCH", FIELDS, {"fields": [{"name": "due", "type": "Integer"}]}, f"fields[0].type: {FIELD_TYPES}"),
        ("PATCH", FIELDS, {"fields": [{"name": "due", "default": {"d": 1}}]}, f"fields[0].default: {SCALAR}"),
        ("PATCH", FIELDS, {"fields": {"due": "Date"}}, "fields: must be a list of"),
        ("PATCH", FIELDS, {"fields": [{"name": "due"}] * 2}, "fields[1].name: field 'due' is listed more"),
        ("PATCH", FIELDS, {"fields": [{"name": "cuont", "default": 1}]}, "has no field 'cuont'"),
        ("PATCH", FIELDS, {"fields": [NOT_A_DATE]}, "default of field 'due' is not an ISO 8601 Date"),
        ("PATCH", FIELDS, {"fieldz": []}, "fieldz: unknown field"),
        ("POST", TEST, {"values": ["title"]}, "values: must be an object"),
        ("POST", TEST, {"values": {"title": {"t": 1}}}, f"values.title: {SCALAR}"),
        ("POST", TEST, {"value": {}}, "value: unknown field"),
        ("POST", TEST, {"bodyLimit": -1}, "bodyLimit: must be 0 or more"),
        ("POST", TEST, {"values": {"titel": "x"}}, "has no field 'titel'"),
    ],
)  # fmt: skip
def test_a_bad_body_is_refused_naming_the_problem(
    service: AdminService,
    operator: Caller,
    tenant: str,
    method: str,
    suffix: tuple[str, ...],
    body: object,
    problem: str,
) -> None:
    _basic_connector(service, tenant, "https://jira.example/rest", "pw")
    service.actions.create(tenant, ISSUE)
    status, code, messages = _error(operator(method, "tenants", tenant, "actions", *suffix, body=body))
    assert (status, code) == (400, "1004")
    assert any(problem in message for message in messages), messages
    # Nothing changed: the action is still the one created first.
    assert operator.data("GET", "tenants", tenant, "actions") == [
        operator.data("GET", "tenants", tenant, "actions", "create-issue")
    ]
    assert operator.data("GET", "tenants", tenant, "actions", "create-issue")["version"] == 1


def _same_but_for(response: AdminResponse, tenant_id: str) -> str:
    """The answer's body with the tenant id and the request id left out."""
    body = {key: value for key, value in response.body.items() if key != "requestId"}
    return json.dumps(body, sort_keys=True).replace(tenant_id, "TENANT")


def test_another_tenants_admin_gets_what_an_unknown_tenant_gets(
    service: AdminService, operator: Caller, tenant: str
) -> None:
    other = f"t-{uuid.uuid4().hex[:12]}"
    service.tenants.create(other, "Someone else")
    _basic_connector(service, other, "https://jira.example/rest", "pw")
    operator.data("POST", "tenants", other, "actions", body=ISSUE)
    unknown = f"t-{uuid.uuid4().hex[:12]}"
    admin_of_tenant = Caller(
        service, Principal("user:tenant-admin", is_operator=False, tenants=frozenset({tenant}))
    )

    assert admin_of_tenant.data("GET", "tenants", tenant, "actions") == []
    calls: list[tuple[str, tuple[str, ...], object]] = [
        ("GET", ("actions",), None),
        ("POST", ("actions",), ISSUE),
        ("GET", ("actions", "create-issue"), None),
        ("PATCH", ("actions", "create-issue"), {"url": "elsewhere"}),
        ("DELETE", ("actions", "create-issue"), None),
        ("GET", ("actions", "create-issue", "fields"), None),
        ("PATCH", ("actions", "create-issue", "fields"), {"fields": [{"name": "due", "type": "Date"}]}),
        ("POST", ("actions", "create-issue", "test"), {"values": {"title": "x", "due": "y"}}),
    ]
    for method, suffix, body in calls:
        theirs = admin_of_tenant(method, "tenants", other, *suffix, body=body)
        nobodys = admin_of_tenant(method, "tenants", unknown, *suffix, body=body)
        assert _error(theirs) == (404, "1011", [f"tenant '{other}' not found"])
        assert _same_but_for(theirs, other) == _same_but_for(nobodys, unknown)
    # Nothing of the other tenant's changed.
    action = operator.data("GET", "tenants", other, "actions", "create-issue")
    assert (action["url"], action["version"], action["fields"][1]["type"]) == ("issue", 1, "String")


def test_a_create_needs_the_connector(operator: Caller, tenant: str) -> None:
    response = operator("POST", "tenants", tenant, "actions", body={**ISSUE, "connector": "ghost"})
    assert _error(response)[:2] == (404, "1011")
    assert operator.data("GET", "tenants", tenant, "actions") == []
