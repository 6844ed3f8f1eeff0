"""Test action against real HTTP servers on 127.0.0.1: exact request sent, redacted report, curl.

Each credential kind has a canary: basic password, token header value, OAuth client secret, and the
access and refresh tokens the local authorization server issues. The servers echo what they
receive, so the responses carry the secrets back; the report must still never show one.
"""

from __future__ import annotations

import base64
import json
import shlex
import subprocess
from typing import Any

import pytest

from eventrelay.actions import ActionNotFound, ActionStore, InvalidAction, RenderError
from eventrelay.admin import ActionTester, AdminService, MissingFieldValues, UnknownFields
from eventrelay.connectors.errors import ConnectorNotFound
from eventrelay.connectors.models import (
    AuthType,
    ClientAuthMethod,
    ConnectorSpec,
    Credentials,
    OAuth2Grant,
    OAuth2Settings,
)
from eventrelay.outbound.client import USER_AGENT
from eventrelay.roots.connectors import ConnectorServices
from eventrelay.settings import Settings
from tests.support.http_servers import RecordedRequest, RecordingServer, Reply
from tests.support.items import assert_absent, tenant_items
from tests.support.oauth import OAUTH_CLIENT_ID, REDIRECT_URL, callback, consent
from tests.support.oauth_server import AuthorizationServer

REDACTED = "[REDACTED]"


def echo(status: int = 201) -> Any:
    """A server answering with everything it received (headers and body), like a careless API."""

    def respond(request: RecordedRequest) -> Reply:
        document = {
            "method": request.method,
            "path": request.path,
            "headers": request.headers,
            "body": request.body.decode("utf-8", errors="replace"),
        }
        return Reply(
            status=status,
            headers={"Content-Type": "application/json", "X-Request-Id": "req-42"},
            body=json.dumps(document, ensure_ascii=False).encode(),
        )

    return respond


def places(
    report: Any, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> dict[str, str]:
    captured = capsys.readouterr()
    return {
        "report": json.dumps(report.to_dict(), ensure_ascii=False),
        "report repr": repr(report),
        "curl": report.curl,
        "logs": caplog.text,
        "stdout": captured.out,
        "stderr": captured.err,
    }


# Replays the curl line with the curl program (a process).
@pytest.mark.slow
def test_basic_auth_action_is_sent_exactly_and_reported_redacted(
    tester: ActionTester,
    services: ConnectorServices,
    actions: ActionStore,
    tenant_id: str,
    canaries: dict[str, str],
    settings: Settings,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    password = canaries["basic password"]
    with RecordingServer(echo()) as server:
        # Given a basic-auth connector and an action using URL, header and payload fields
        services.store.create(
            tenant_id,
            ConnectorSpec(
                name="jira",
                base_url=server.url("/rest/api/3"),
                auth_type=AuthType.BASIC,
                headers={"Accept": "application/json"},
            ),
            Credentials(username="bot@acme.example", password=password),
        )
        actions.create(
            tenant_id,
            {
                "connector": "jira",
                "name": "create-issue",
                "method": "POST",
                "url": "issue/{{project}}?notify={{notify}}",
                "headers": {"X-Request-Source": "{{source}}"},
                "payload": '{"fields": {"summary": "{{summary}}", "priority": {{priority}}, '
                '"note": "{{note}}"}}',
                "fields": [
                    {"name": "priority", "type": "Number", "default": 3},
                    {"name": "notify", "type": "Boolean", "default": False},
                ],
            },
        )

        # When the admin tests it with sample values (one of them happens to be the password)
        report = tester.run(
            tenant_id,
            "create-issue",
            {
                "project": "OPS 1/2",
                "source": "eventrelay test",
                "summary": 'Disk "full" \\ café',
                "note": password,
            },
        )

        # Then the server got exactly the rendered request, with the real credentials
        assert len(server.requests) == 1
        received = server.requests[0]
        sent_body = (
            '{"fields": {"summary": '
            + json.dumps('Disk "full" \\ café', ensure_ascii=False)
            + ', "priority": 3, "note": '
            + json.dumps(password, ensure_ascii=False)
            + "}}"
        )
        assert received.method == "POST"
        assert received.path == "/rest/api/3/issue/OPS%201%2F2?notify=false"
        basic = base64.b64encode(f"bot@acme.example:{password}".encode()).decode()
        assert received.header("Authorization") == f"Basic {basic}"
        assert received.header("X-Request-Source") == "eventrelay test"
        assert received.header("Accept") == "application/json"
        assert received.header("Content-Type") == "application/json"
        assert received.header("User-Agent") == USER_AGENT
        assert received.header("Idempotency-Key") == report.idempotency_key
        assert report.idempotency_key.startswith("eventrelay-test-")
        assert received.body == sent_body.encode("utf-8")

        # And the report shows that request with every credential redacted
        view = report.to_dict()
        assert view["ok"] is True
        assert view["request"] == {
            "method": "POST",
            "url": server.url("/rest/api/3/issue/OPS%201%2F2?notify=false"),
            "headers": {
                "User-Agent": USER_AGENT,
                "Accept": "application/json",
                "X-Request-Source": "eventrelay test",
                "Content-Type": "application/json",
                "Authorization": REDACTED,
                "Idempotency-Key": report.idempotency_key,
            },
            "body": sent_body.replace(password, REDACTED),
        }
        assert view["values"] == {
            "project": {"type": "String", "value": "OPS 1/2", "source": "given"},
            "notify": {"type": "Boolean", "value": "false", "source": "default"},
            "source": {"type": "String", "value": "eventrelay test", "source": "given"},
            "summary": {"type": "String", "value": 'Disk "full" \\ café', "source": "given"},
            "priority": {"type": "Number", "value": "3", "source": "default"},
            "note": {"type": "String", "value": REDACTED, "source": "given"},
        }
        # And the response: status, selected headers, the (echoed, redacted) body and a duration
        response = view["response"]
        assert (response["outcome"], response["status"], response["error"]) == ("SUCCESS", 201, None)
        assert response["headers"]["x-request-id"] == "req-42"
        assert response["durationMs"] >= 0
        echoed = json.loads(response["body"])
        assert echoed["headers"]["Authorization"] == f"Basic {REDACTED}"
        assert echoed["path"] == "/rest/api/3/issue/OPS%201%2F2?notify=false"

        # And the curl line is that redacted request, argument for argument
        argv = shlex.split(report.curl)
        assert argv[:6] == ["curl", "-sS", "-i", "-X", "POST", view["request"]["url"]]
        headers = [argv[i + 1] for i, part in enumerate(argv) if part == "-H"]
        assert headers == [f"{name}: {value}" for name, value in view["request"]["headers"].items()]
        assert argv[argv.index("--data-raw") + 1] == view["request"]["body"]
        assert argv[argv.index("--max-time") + 1] == "3"

        # And with the placeholders filled in, curl sends the same request as the service did
        filled = [
            part.replace(f"Authorization: {REDACTED}", f"Authorization: Basic {basic}").replace(
                REDACTED, password
            )
            for part in argv
        ]
        replay = subprocess.run(filled, capture_output=True, timeout=10, check=False)
        assert replay.returncode == 0
        again = server.requests[1]
        assert (again.method, again.path, again.body) == (received.method, received.path, received.body)
        for name in (
            "Authorization",
            "X-Request-Source",
            "Accept",
            "Content-Type",
            "User-Agent",
            "Idempotency-Key",
        ):
            assert again.header(name) == received.header(name)

    assert_absent(
        {"basic password": password, "basic credentials": basic},
        {**places(report, caplog, capsys), "dynamodb": json.dumps(tenant_items(settings, tenant_id))},
    )


def test_token_auth_uses_field_defaults_and_redacts_token_headers(
    tester: ActionTester,
    services: ConnectorServices,
    actions: ActionStore,
    tenant_id: str,
    canaries: dict[str, str],
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    token = canaries["token header value"]
    with RecordingServer(echo(200)) as server:
        services.store.create(
            tenant_id,
            ConnectorSpec(name="slack", base_url=server.url("/api"), auth_type=AuthType.TOKEN),
            Credentials(token_headers={"Authorization": f"Bearer {token}", "X-Api-Key": token}),
        )
        actions.create(
            tenant_id,
            {
                "connector": "slack",
                "name": "post-message",
                "method": "POST",
                "url": "chat.postMessage",
                "payload": {"type": "form", "pairs": {"channel": "{{channel}}", "text": "{{text}}"}},
                "fields": [
                    {"name": "channel", "default": "#ops"},
                    {"name": "text", "default": "hello & bye"},
                ],
            },
        )
        # When tested without values: the defaults are used
        report = tester.run(tenant_id, "post-message", {})

        received = server.requests[0]
        assert received.header("Authorization") == f"Bearer {token}"
        assert received.header("X-Api-Key") == token
        assert received.body == b"channel=%23ops&text=hello+%26+bye"
        view = report.to_dict()
        assert view["request"]["headers"]["Authorization"] == REDACTED
        assert view["request"]["headers"]["X-Api-Key"] == REDACTED
        assert view["request"]["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
        assert view["request"]["body"] == "channel=%23ops&text=hello+%26+bye"
        assert {name: value["source"] for name, value in view["values"].items()} == {
            "channel": "default",
            "text": "default",
        }
        echoed = json.loads(view["response"]["body"])
        assert echoed["headers"]["Authorization"] == REDACTED  # the whole configured value is the secret
        assert echoed["headers"]["X-Api-Key"] == REDACTED
        assert f"-H 'X-Api-Key: {REDACTED}'" in report.curl
    assert_absent({"token header value": token}, places(report, caplog, capsys))


def test_missing_unknown_and_invalid_values_are_refused_before_any_call(
    tester: ActionTester, services: ConnectorServices, actions: ActionStore, tenant_id: str
) -> None:
    with RecordingServer(echo()) as server:
        services.store.create(tenant_id, ConnectorSpec(name="api", base_url=server.url("/")))
        actions.create(
            tenant_id,
            {
                "connector": "api",
                "name": "update",
                "method": "PUT",
                "url": "items/{{id}}",
                "payload": '{"count": {{count}}, "owner": "{{owner}}", "when": "{{when}}"}',
                "fields": [
                    {"name": "count", "type": "Number"},
                    {"name": "when", "type": "Date", "default": "2026-11-23"},
                ],
            },
        )
        with pytest.raises(MissingFieldValues) as missing:
            tester.run(tenant_id, "update", {"id": "7"})
        assert missing.value.fields == ["count", "owner"]
        assert str(missing.value) == "action 'update': no value and no default for fields 'count', 'owner'"

        with pytest.raises(UnknownFields) as unknown:
            tester.run(tenant_id, "update", {"id": "7", "count": 1, "owner": "x", "cuont": 2})
        assert "'cuont'" in str(unknown.value)
        assert "its fields: id, count, owner, when" in str(unknown.value)

        with pytest.raises(RenderError) as invalid:
            tester.run(tenant_id, "update", {"id": "7", "count": "many", "owner": "x"})
        assert str(invalid.value) == "field 'count': is not a Number"
        assert "many" not in str(invalid.value)

        with pytest.raises(ActionNotFound):
            tester.run(tenant_id, "no-such-action", {})
        assert server.requests == []  # nothing was sent

        # A value typed for its field: Number and Date rendered canonically
        report = tester.run(tenant_id, "update", {"id": "7", "count": " 12 ", "owner": "ann"})
        assert server.requests[0].body == b'{"count": 12, "owner": "ann", "when": "2026-11-23"}'
        assert report.to_dict()["values"]["count"] == {"type": "Number", "value": "12", "source": "given"}


@pytest.mark.parametrize("value", ["..", ".", "%2e%2E", ""])
def test_action_test_refuses_a_value_that_would_change_the_path_called(
    admin: AdminService, services: ConnectorServices, actions: ActionStore, tenant_id: str, value: str
) -> None:
    # Issue 8 item 1: `items/{{id}}` with `..` would call the connector's base URL itself.
    with RecordingServer(echo()) as server:
        services.store.create(tenant_id, ConnectorSpec(name="api", base_url=server.url("/api")))
        actions.create(
            tenant_id, {"connector": "api", "name": "update", "method": "PUT", "url": "items/{{id}}"}
        )
        with pytest.raises(InvalidAction) as refused:
            admin.actions.test(tenant_id, "update", {"id": value})
        assert refused.value.problems == [
            "field 'id': would make a URL path segment '.', '..' or empty, which changes the path "
            "called; refused"
        ]
        assert server.requests == []


def test_an_action_whose_connector_is_gone_is_refused(
    tester: ActionTester, actions: ActionStore, tenant_id: str
) -> None:
    actions.create(tenant_id, {"connector": "deleted", "name": "orphan", "method": "GET"})
    with pytest.raises(ConnectorNotFound):
        tester.run(tenant_id, "orphan", {})


def test_a_failed_call_is_reported_with_its_outcome_and_the_ssrf_guard_applies(
    tester: ActionTester, services: ConnectorServices, actions: ActionStore, tenant_id: str
) -> None:
    with RecordingServer(
        lambda _request: Reply(status=503, headers={"Retry-After": "7"}, body=b"busy")
    ) as server:
        services.store.create(tenant_id, ConnectorSpec(name="flaky", base_url=server.url("/")))
        actions.create(tenant_id, {"connector": "flaky", "name": "ping", "method": "GET", "url": "ping"})
        report = tester.run(tenant_id, "ping", {})
    assert not report.ok
    response = report.to_dict()["response"]
    assert (response["outcome"], response["status"], response["body"]) == ("RETRYABLE", 503, "busy")
    assert response["retryAfterSeconds"] == 7
    assert response["error"] == "HTTP 503"

    # An absolute action URL to the metadata address is refused by the guard: no connection at all
    actions.create(
        tenant_id,
        {"connector": "flaky", "name": "metadata", "method": "GET", "url": "http://169.254.169.254/latest"},
    )
    refused = tester.run(tenant_id, "metadata", {}).to_dict()["response"]
    assert refused["outcome"] == "PERMANENT"
    assert refused["status"] is None
    assert refused["error"].startswith("refused by SSRF guard")


def _oauth_connector(
    services: ConnectorServices, tenant_id: str, server: AuthorizationServer, secret: str, grant: OAuth2Grant
) -> None:
    code = grant is OAuth2Grant.AUTHORIZATION_CODE
    services.store.create(
        tenant_id,
        ConnectorSpec(
            name="helpdesk",
            base_url=server.resource_url("/api"),
            auth_type=AuthType.OAUTH2,
            oauth2=OAuth2Settings(
                grant=grant,
                token_url=server.token_url,
                scope="tickets",
                client_auth=ClientAuthMethod.CLIENT_SECRET_POST
                if code
                else ClientAuthMethod.CLIENT_SECRET_BASIC,
                authorization_url=server.authorize_url if code else None,
                redirect_url=REDIRECT_URL if code else None,
            ),
        ),
        Credentials(client_id=OAUTH_CLIENT_ID, client_secret=secret),
    )


def test_oauth_tokens_and_client_secret_never_appear_in_the_report(
    tester: ActionTester,
    services: ConnectorServices,
    actions: ActionStore,
    tenant_id: str,
    canaries: dict[str, str],
    oauth_server: AuthorizationServer,
    settings: Settings,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    secret = canaries["oauth client secret"]
    # Given an authorization-code connector an admin has authorized (refresh token stored)
    _oauth_connector(services, tenant_id, oauth_server, secret, OAuth2Grant.AUTHORIZATION_CODE)
    start = services.authorizer.start(tenant_id, "helpdesk")
    assert callback(services, consent(start.url))[0] == 200
    actions.create(
        tenant_id,
        {
            "connector": "helpdesk",
            "name": "open-ticket",
            "method": "POST",
            "url": "tickets",
            "payload": '{"subject": "{{subject}}"}',
        },
    )
    oauth_server.rotate_refresh_tokens = True
    oauth_server.echo_request_in_errors = True

    # When the access token is revoked: the call gets a 401, the token is refreshed once, then 200
    oauth_server.revoke_access_tokens()
    report = tester.run(tenant_id, "open-ticket", {"subject": "printer on fire"})
    assert report.ok
    assert oauth_server.resource_statuses() == [401, 200]
    last_request = oauth_server.resource_requests[-1][0]
    assert last_request.body == b'{"subject": "printer on fire"}'
    assert (last_request.header("Authorization") or "").startswith("Bearer CANARY-ACCESS-")
    assert report.to_dict()["request"]["headers"]["Authorization"] == REDACTED

    # And when every token is refused and echoed back, the report still shows none of them
    oauth_server.reject_all_tokens = True
    refused = tester.run(tenant_id, "open-ticket", {"subject": "again"})
    assert refused.to_dict()["response"]["status"] == 401
    assert "Bearer [REDACTED]" in refused.to_dict()["response"]["body"]

    issued = oauth_server.issued_tokens()
    assert any(token.startswith("CANARY-REFRESH-") for token in issued)
    secrets_ = {"oauth client secret": secret} | {f"token {i}": token for i, token in enumerate(issued)}
    outputs = places(report, caplog, capsys)
    outputs["second report"] = json.dumps(refused.to_dict())
    outputs["dynamodb"] = json.dumps(tenant_items(settings, tenant_id))
    assert_absent(secrets_, outputs)


def test_client_credentials_token_is_obtained_once_and_redacted(
    tester: ActionTester,
    services: ConnectorServices,
    actions: ActionStore,
    tenant_id: str,
    canaries: dict[str, str],
    oauth_server: AuthorizationServer,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    secret = canaries["oauth client secret"]
    _oauth_connector(services, tenant_id, oauth_server, secret, OAuth2Grant.CLIENT_CREDENTIALS)
    actions.create(tenant_id, {"connector": "helpdesk", "name": "me", "method": "GET", "url": "me"})
    reports = [tester.run(tenant_id, "me", {}) for _ in range(3)]
    assert all(report.ok for report in reports)
    assert len(oauth_server.token_requests_of("client_credentials")) == 1
    token = oauth_server.issued_tokens()[0]
    for report in reports:
        assert_absent({"client secret": secret, "access token": token}, places(report, caplog, capsys))
