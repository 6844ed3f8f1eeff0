"""URL-based connectors on the embedded AWS: the URL is the credential.

A `none` connector whose URL path holds a canary: calls (direct, test connection, test action,
the action runner) reach the recording server at exactly that path, while the canary appears in
no DynamoDB item (config and deliveries tables), no log (eventrelay and urllib3 at DEBUG), no CLI
output, no report, outcome or error - including when the target answers 404 echoing the path, or
cannot be reached at all.
"""

from __future__ import annotations

import io
import json
import logging
import secrets
import socket
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from eventrelay.admin import connector_spec
from eventrelay.aws import dynamodb_client, secretsmanager_client, sqs_client
from eventrelay.connectors import urls
from eventrelay.connectors.errors import InvalidConnectorUrl
from eventrelay.connectors.models import AuthType, ConnectorSpec, Credentials
from eventrelay.connectors.store import connector_key
from eventrelay.delivery.models import AttemptOutcome, DeliveryState
from eventrelay.delivery.schedule import RetryPolicy
from eventrelay.outbound.client import OutboundClient
from eventrelay.outbound.outcome import OutcomeKind
from eventrelay.outbound.request import OutboundRequest
from eventrelay.outbound.ssrf import SsrfGuard
from eventrelay.roots.connectors import ConnectorServices
from eventrelay.settings import Settings
from eventrelay_cli.main import main
from tests.support.api import ControlledClock
from tests.support.delivery import Harness
from tests.support.http_servers import RecordedRequest, RecordingServer, Reply
from tests.support.items import tenant_items
from tests.support.roots import admin_service


@pytest.fixture
def canary() -> str:
    return f"CANARY-URL-{secrets.token_hex(8)}"


@pytest.fixture
def secret_path(canary: str) -> str:
    """A Slack-like webhook path: the team and bot ids and the token are all part of the secret."""
    return f"/services/T0{secrets.token_hex(3)}/B0{secrets.token_hex(3)}/{canary}"


class EchoingTarget:
    """Answers with a status the test picks, echoing the request line as careless servers do."""

    def __init__(self) -> None:
        self.status = 200

    def __call__(self, request: RecordedRequest) -> Reply:
        body = {"error": f"Cannot {request.method} {request.path}", "path": request.path}
        return Reply(status=self.status, body=json.dumps(body).encode())


@pytest.fixture
def echo() -> EchoingTarget:
    return EchoingTarget()


@pytest.fixture
def target(echo: EchoingTarget) -> Iterator[RecordingServer]:
    with RecordingServer(echo) as server:
        yield server


@pytest.fixture(autouse=True)
def _verbose_logs(caplog: pytest.LogCaptureFixture) -> None:
    # Our logs, and the HTTP stack's request lines (which carry path and query), at their most verbose.
    caplog.set_level(logging.DEBUG, logger="eventrelay")
    caplog.set_level(logging.DEBUG, logger="urllib3")


def url_secret(settings: Settings, tenant_id: str, name: str) -> dict[str, Any] | None:
    client = secretsmanager_client(settings.region)
    try:
        value = client.get_secret_value(
            SecretId=f"{settings.secret_prefix}connectors/{tenant_id}/{name}/url", VersionStage="AWSCURRENT"
        )["SecretString"]
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceNotFoundException":
            raise
        return None
    document: dict[str, Any] = json.loads(value)
    return document


def whole_table(settings: Settings, table: str) -> str:
    client = dynamodb_client(settings.region)
    items = [
        item
        for page in client.get_paginator("scan").paginate(TableName=table)
        for item in page.get("Items", [])
    ]
    return json.dumps(items)


def test_a_call_reaches_the_secret_path_while_only_the_redacted_form_is_stored(
    connectors: ConnectorServices,
    settings: Settings,
    tenant_id: str,
    target: RecordingServer,
    secret_path: str,
    canary: str,
) -> None:
    # Given a URL-based connector whose URL path is the secret
    real = target.url(secret_path)
    created = connectors.store.create(tenant_id, ConnectorSpec(name="hook", base_url=real))
    # Then the config table and the connector show the redacted form; the real URL is in its secret
    assert created.base_url == urls.redacted_url(real)
    assert created.base_url.startswith(target.url("/[REDACTED:"))
    assert created.secret_id is None
    assert created.url_secret_id == f"{settings.secret_prefix}connectors/{tenant_id}/hook/url"
    assert url_secret(settings, tenant_id, "hook") == {"baseUrl": real}
    (item,) = [item for item in tenant_items(settings, tenant_id) if item["sk"]["S"] == "CONNECTOR#hook"]
    assert item["baseUrl"]["S"] == created.base_url
    assert canary not in json.dumps(item)
    assert connectors.store.get(tenant_id, "hook") == created
    assert connectors.store.list(tenant_id) == [created]
    assert connectors.store.load_credentials(created).base_url.get_secret_value() == real  # type: ignore[union-attr]

    # When calls are made as the runner makes them: the action's URL relative to the connector
    # (empty: the connector's URL itself), joined to the real URL the caller loads
    posted = connectors.caller.call(created, OutboundRequest("POST", "", {}, b"{}"), "idem-1")
    threaded = connectors.caller.call(
        connectors.store.get(tenant_id, "hook"), OutboundRequest("POST", "threads?x=1", {}, b"{}")
    )
    tested = connectors.caller.test_connection(created)
    # Then each reached the exact secret path, and reports show the redacted form
    assert [(r.method, r.path) for r in target.requests] == [
        ("POST", secret_path),
        ("POST", secret_path + "/threads?x=1"),
        ("GET", secret_path),
    ]
    assert posted.kind is threaded.kind is OutcomeKind.SUCCESS
    assert tested.ok
    assert tested.url == created.base_url
    for produced in (posted, threaded, tested):
        assert canary not in repr(produced)
        assert canary not in json.dumps(produced.to_dict())
    # And the redacted form is never mapped back to the real URL: given as a URL, it is refused unsent
    as_shown = connectors.caller.call(created, OutboundRequest("POST", created.base_url, {}, b"{}"))
    assert as_shown.kind is OutcomeKind.PERMANENT
    assert len(target.requests) == 3


def test_updates_keep_replace_or_refuse_the_secret_url(
    connectors: ConnectorServices,
    settings: Settings,
    tenant_id: str,
    target: RecordingServer,
    secret_path: str,
    canary: str,
) -> None:
    real = target.url(secret_path)
    created = connectors.store.create(tenant_id, ConnectorSpec(name="hook", base_url=real))

    # An update given the redacted form (as `connector update --description` builds it) keeps the URL
    described = connector_spec(created).model_copy(update={"description": "ops channel"})
    kept = connectors.store.update(tenant_id, described)
    assert (kept.revision, kept.base_url, kept.description) == (2, created.base_url, "ops channel")
    assert url_secret(settings, tenant_id, "hook") == {"baseUrl": real}
    # The same real URL again changes nothing
    again = connectors.store.update(
        tenant_id, ConnectorSpec(name="hook", base_url=real, description="ops channel")
    )
    assert again.revision == 2

    # A new real URL replaces it: a new fingerprint, and calls go to the new path
    rotated_path = secret_path + "-rotated"
    rotated = connectors.store.update(
        tenant_id, ConnectorSpec(name="hook", base_url=target.url(rotated_path), description="ops channel")
    )
    assert rotated.revision == 3
    assert rotated.base_url != created.base_url
    assert url_secret(settings, tenant_id, "hook") == {"baseUrl": target.url(rotated_path)}
    assert connectors.caller.call(rotated, OutboundRequest("POST", "")).ok
    assert target.requests[-1].path == rotated_path

    # A redacted form that is not the stored URL's cannot stand for a URL: refused, naming no URL
    with pytest.raises(InvalidConnectorUrl) as stale:
        connectors.store.update(tenant_id, ConnectorSpec(name="hook", base_url=created.base_url))
    with pytest.raises(InvalidConnectorUrl) as invented:
        connectors.store.create(tenant_id, ConnectorSpec(name="copy", base_url=rotated.base_url))
    # Nor can a redacted URL become a plain URL of another auth type
    with pytest.raises(InvalidConnectorUrl) as switched:
        connectors.store.update(
            tenant_id,
            ConnectorSpec(name="hook", base_url=rotated.base_url, auth_type=AuthType.BASIC),
            Credentials(username="svc", password="pw"),
        )
    for refused in (stale, invented, switched):
        assert "redacted" in refused.value.message
        assert canary not in str(refused.value)
    assert connectors.store.get(tenant_id, "hook").revision == 3

    # Given in full, another auth type keeps it as a plain URL (no secret URL any more) ...
    basic = connectors.store.update(
        tenant_id,
        ConnectorSpec(name="hook", base_url=target.url(rotated_path), auth_type=AuthType.BASIC),
        Credentials(username="svc", password="pw"),
    )
    assert (basic.base_url, basic.url_secret_id) == (target.url(rotated_path), None)
    assert url_secret(settings, tenant_id, "hook") is None
    # ... and back to URL-based, the URL is a secret again; delete removes it
    back = connectors.store.update(tenant_id, ConnectorSpec(name="hook", base_url=target.url(rotated_path)))
    assert (back.base_url, back.secret_id) == (rotated.base_url, None)
    assert url_secret(settings, tenant_id, "hook") == {"baseUrl": target.url(rotated_path)}
    connectors.store.delete(tenant_id, "hook")
    assert url_secret(settings, tenant_id, "hook") is None


def test_an_absolute_test_url_is_a_secret_too_and_a_relative_one_is_appended(
    connectors: ConnectorServices,
    settings: Settings,
    tenant_id: str,
    target: RecordingServer,
    secret_path: str,
    canary: str,
) -> None:
    real, test_url = target.url(secret_path), target.url(secret_path + "/ping")
    hook = connectors.store.create(tenant_id, ConnectorSpec(name="hook", base_url=real, test_url=test_url))
    assert hook.test_url == urls.redacted_url(test_url)
    assert url_secret(settings, tenant_id, "hook") == {"baseUrl": real, "testUrl": test_url}
    relative = connectors.store.create(
        tenant_id, ConnectorSpec(name="relative", base_url=real, test_url="health")
    )
    assert relative.test_url == "health"
    first, second = connectors.caller.test_connection(hook), connectors.caller.test_connection(relative)
    assert [r.path for r in target.requests] == [secret_path + "/ping", secret_path + "/health"]
    assert (first.url, second.url) == (hook.test_url, relative.base_url + "/health")
    assert canary not in json.dumps(tenant_items(settings, tenant_id)) + repr(first) + repr(second)


def test_a_stale_or_missing_url_secret_stops_the_call_before_anything_is_sent(
    connectors: ConnectorServices,
    settings: Settings,
    tenant_id: str,
    target: RecordingServer,
    secret_path: str,
) -> None:
    hook = connectors.store.create(tenant_id, ConnectorSpec(name="hook", base_url=target.url(secret_path)))
    secret_id = f"{settings.secret_prefix}connectors/{tenant_id}/hook/url"
    client = secretsmanager_client(settings.region)
    # The secret no longer holds the URL the configuration names (changed behind its back)
    client.put_secret_value(
        SecretId=secret_id, SecretString=json.dumps({"baseUrl": target.url("/elsewhere")})
    )
    stale = connectors.caller.call(hook, OutboundRequest("POST", ""))
    assert stale.kind is OutcomeKind.RETRYABLE
    assert stale.error is not None
    assert "does not match" in stale.error
    # The secret is gone
    client.delete_secret(SecretId=secret_id, ForceDeleteWithoutRecovery=True)
    missing = connectors.caller.call(hook, OutboundRequest("POST", ""))
    assert missing.kind is OutcomeKind.PERMANENT
    assert missing.error is not None
    assert "missing from Secrets Manager" in missing.error
    # A redacted form that is not this connector's is never sent either
    other = urls.redacted_url(target.url("/another/hook/123456"))
    foreign = connectors.caller.call(hook, OutboundRequest("POST", other))
    assert foreign.kind is OutcomeKind.PERMANENT
    assert target.requests == []


def test_a_connector_stored_before_urls_were_secret_works_and_is_migrated_on_update(
    connectors: ConnectorServices,
    settings: Settings,
    tenant_id: str,
    target: RecordingServer,
    secret_path: str,
    canary: str,
) -> None:
    # Given an item written with the real URL in the config table (as before this change)
    real = target.url(secret_path)
    item = {
        **connector_key(tenant_id, "legacy"),
        "kind": {"S": "CONNECTOR"},
        "tenantId": {"S": tenant_id},
        "name": {"S": "legacy"},
        "baseUrl": {"S": real},
        "authType": {"S": "none"},
        "headers": {"M": {}},
        "description": {"S": ""},
        "testUrl": {"S": ""},
        "revision": {"N": "1"},
        "createdAt": {"S": "2026-01-01T00:00:00.000Z"},
        "updatedAt": {"S": "2026-01-01T00:00:00.000Z"},
        "healthState": {"S": "AUTHORIZED"},
        "healthReason": {"NULL": True},
        "healthChangedAt": {"S": "2026-01-01T00:00:00.000Z"},
        "authFailures": {"N": "0"},
    }
    dynamodb_client(settings.region).put_item(TableName=settings.config_table, Item=item)
    # Then it is shown redacted and still called at its URL (held in memory only)
    legacy = connectors.store.get(tenant_id, "legacy")
    assert legacy.base_url == urls.redacted_url(real)
    assert canary not in repr(legacy) + legacy.model_dump_json()
    assert connectors.caller.call(legacy, OutboundRequest("POST", "x")).ok
    assert target.requests[-1].path == secret_path + "/x"
    # When any update is made (even one that changes nothing), the URL moves to its secret
    migrated = connectors.store.update(tenant_id, connector_spec(legacy))
    assert migrated.revision == 2
    assert url_secret(settings, tenant_id, "legacy") == {"baseUrl": real}
    assert canary not in json.dumps(tenant_items(settings, tenant_id))


# ---- everything an admin sees: CLI, test connection, test action, apply


@pytest.fixture
def in_tmp_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settings: Settings) -> Path:
    # A developer's running local stack writes .eventrelay/local.json in the checkout: don't target it.
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    return tmp_path


def cli(capsys: pytest.CaptureFixture[str], printed: list[str], *argv: str) -> tuple[int, Any]:
    code = main(["--json", *argv])
    out, err = capsys.readouterr()
    printed += [out, err]
    lines = out.strip().splitlines()  # our JSON logs share stdout; the answer is the last line
    return code, json.loads(lines[-1]) if code == 0 and lines else err


def test_the_secret_url_never_reaches_dynamodb_logs_cli_reports_or_errors(
    connectors: ConnectorServices,
    settings: Settings,
    tenant_id: str,
    target: RecordingServer,
    echo: EchoingTarget,
    secret_path: str,
    canary: str,
    in_tmp_dir: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    admin_service(settings).tenants.create(tenant_id, "URL secrets")
    real = target.url(secret_path)
    hook = connectors.store.create(tenant_id, ConnectorSpec(name="hook", base_url=real, description="ops"))
    produced: list[str] = []
    printed: list[str] = []

    # The target answers 404 echoing the path: direct calls, test connection, preview
    echo.status = 404
    for request in (
        OutboundRequest("POST", "", {}, b"{}"),
        OutboundRequest("GET", "missing/page"),
    ):
        outcome = connectors.caller.call(hook, request)
        assert outcome.status == 404
        assert "[REDACTED]" in outcome.body_text()  # the echoed path, redacted
        produced += [repr(outcome), json.dumps(outcome.to_dict())]
    tested = connectors.caller.test_connection(hook)
    produced += [repr(tested), json.dumps(tested.to_dict())]
    preview = connectors.caller.preview(hook, OutboundRequest("POST", "chat"))
    assert preview.url == hook.base_url + "/chat"
    produced.append(repr(preview))

    # CLI: show, list (JSON and human), test, update (description), action create and test
    code, shown = cli(capsys, printed, "connector", "show", tenant_id, "hook")
    assert code == 0
    assert shown["baseUrl"] == hook.base_url
    code, listed = cli(capsys, printed, "connector", "list", tenant_id)
    assert [c["baseUrl"] for c in listed] == [hook.base_url]
    assert main(["connector", "list", tenant_id]) == 0
    printed.append(capsys.readouterr().out)
    assert hook.base_url in printed[-1]
    code, _ = cli(capsys, printed, "connector", "test", tenant_id, "hook")
    assert code == 1  # the target answered 404 (what it printed is searched below)
    code, updated = cli(capsys, printed, "connector", "update", tenant_id, "hook", "--description", "alerts")
    assert code == 0
    assert (updated["changed"], updated["baseUrl"], updated["description"]) == (True, hook.base_url, "alerts")
    assert url_secret(settings, tenant_id, "hook") == {"baseUrl": real}
    code, _ = cli(
        capsys, printed, "action", "create", tenant_id, "notify", "--connector", "hook", "--method", "POST",
        "--payload", '{"text": "{{text}}"}',
    )  # fmt: skip
    assert code == 0
    echo.status = 200
    code, report = cli(capsys, printed, "action", "test", tenant_id, "notify", "--value", "text=hello")
    assert code == 0
    assert report["request"]["url"] == hook.base_url
    assert report["curl"].startswith(f"curl -sS -i -X POST '{hook.base_url}'")
    assert json.loads(report["response"]["body"])["path"] == "[REDACTED]"
    # Test action in-process too
    tester = admin_service(settings, connectors=connectors).actions.tester
    in_process = tester.run(tenant_id, "notify", {"text": "again"})
    produced += [repr(in_process), json.dumps(in_process.to_dict())]

    # Errors: a refused update; a target that cannot be reached any more
    try:
        connectors.store.update(tenant_id, ConnectorSpec(name="hook", base_url=urls.redacted_url(real + "x")))
    except InvalidConnectorUrl as refused:
        produced.append(str(refused))
    with socket.socket() as probe:  # a port nobody listens on any more
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    gone = connectors.store.create(
        tenant_id, ConnectorSpec(name="gone", base_url=f"http://127.0.0.1:{closed_port}{secret_path}")
    )
    unreachable = connectors.caller.call(gone, OutboundRequest("POST", ""))
    assert unreachable.kind is OutcomeKind.RETRYABLE
    assert (unreachable.error or "").startswith("connection error")
    produced += [repr(unreachable), json.dumps(unreachable.to_dict())]

    # Every call reached the secret path
    assert {r.path.split("?")[0][: len(secret_path)] for r in target.requests} == {secret_path}
    assert len(target.requests) == 6
    # And the canary is nowhere: outputs, CLI output, logs (urllib3's request lines too), DynamoDB
    assert any(r.name.startswith("urllib3") and "HTTP/1.1" in r.getMessage() for r in caplog.records)
    places = {
        "outputs": "\n".join(produced),
        "cli output": "\n".join(printed),
        "logs": caplog.text,
        "config table": whole_table(settings, settings.config_table),
    }
    for place, text in places.items():
        assert canary not in text, f"the URL secret leaked into {place}"
        assert secret_path not in text, f"the URL secret leaked into {place}"


def test_apply_stores_only_the_redacted_url_and_a_second_run_changes_nothing(
    connectors: ConnectorServices,
    settings: Settings,
    tenant_id: str,
    target: RecordingServer,
    secret_path: str,
    canary: str,
    in_tmp_dir: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    admin_service(settings).tenants.create(tenant_id, "URL secrets")
    printed: list[str] = []
    config = in_tmp_dir / "config.yaml"

    def apply(url: str) -> dict[str, Any]:
        # A secret URL is never written in the file: it comes from the environment.
        monkeypatch.setenv("HOOK_URL", url)
        config.write_text(
            f"tenant: {tenant_id}\nconnectors:\n  - name: hook\n    baseUrl: {{env: HOOK_URL}}\n"
        )
        code, report = cli(capsys, printed, "apply", "-f", str(config))
        assert code == 0, report
        (change,) = report["changes"]
        return dict(change)

    assert apply(target.url(secret_path))["result"] == "created"
    assert apply(target.url(secret_path)) == {"kind": "connector", "name": "hook", "result": "unchanged"}
    changed = apply(target.url(secret_path + "-rotated"))
    assert (changed["result"], changed["changed"]) == ("updated", ["baseUrl"])
    assert url_secret(settings, tenant_id, "hook") == {"baseUrl": target.url(secret_path + "-rotated")}
    hook = connectors.store.get(tenant_id, "hook")
    assert connectors.caller.call(hook, OutboundRequest("POST", "")).ok
    assert target.requests[-1].path == secret_path + "-rotated"
    for place, text in {
        "cli output": "\n".join(printed),
        "logs": caplog.text,
        "config table": json.dumps(tenant_items(settings, tenant_id)),
    }.items():
        assert canary not in text, f"the URL secret leaked into {place}"


# ---- the action runner


@pytest.fixture
def harness(settings: Settings) -> Iterator[Harness]:
    sqs = sqs_client(settings.region)
    queue_url = sqs.create_queue(
        QueueName=f"url-secrets-{uuid.uuid4().hex[:12]}", Attributes={"VisibilityTimeout": "30"}
    )["QueueUrl"]
    client = OutboundClient(SsrfGuard("127.0.0.0/8"), connect_timeout=10, read_timeout=10, deadline=20)
    built = Harness(
        settings, ControlledClock(time.time()), queue_url, RetryPolicy(random=lambda: 0.5), client
    )
    try:
        yield built
    finally:
        built.runner.close()
        client.close()
        sqs.delete_queue(QueueUrl=queue_url)


def test_deliveries_reach_the_secret_path_and_their_records_hold_no_secret(
    harness: Harness,
    settings: Settings,
    tenant_id: str,
    target: RecordingServer,
    echo: EchoingTarget,
    secret_path: str,
    canary: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Given a rule whose action posts to a URL-based connector (a relative URL under the hook)
    harness.connector(tenant_id, target.url(secret_path))
    harness.action(
        tenant_id, name="notify", url="threads/{{thread}}", payload='{"text": "{{text}}"}', maxRetries=0
    )
    harness.rule(tenant_id, name="to-hook", action="notify", mapping={"text": "$.text", "thread": "$.thread"})
    # When one event is delivered while the target answers 404 echoing the path, and one with 200
    echo.status = 404
    failing = harness.envelope(tenant_id, {"text": "first", "thread": "t1"})
    harness.handle(failing)
    echo.status = 200
    succeeding = harness.envelope(tenant_id, {"text": "second", "thread": "t2"})
    harness.handle(succeeding)
    # Then both reached the secret path
    assert [r.path for r in target.requests] == [secret_path + "/threads/t1", secret_path + "/threads/t2"]
    assert harness.delivery_of(failing, "to-hook").state is DeliveryState.FAILED
    assert harness.delivery_of(succeeding, "to-hook").state is DeliveryState.SUCCEEDED
    (attempt,) = harness.attempts_of(failing, "to-hook")
    assert attempt.outcome is AttemptOutcome.PERMANENT
    assert attempt.response_body is not None
    assert "[REDACTED]" in attempt.response_body
    # And neither the deliveries table, the config table nor the logs hold the secret
    for place, text in {
        "deliveries table": whole_table(settings, settings.deliveries_table),
        "config table": json.dumps(tenant_items(settings, tenant_id)),
        "logs": caplog.text,
    }.items():
        assert canary not in text, f"the URL secret leaked into {place}"
        assert secret_path not in text, f"the URL secret leaked into {place}"


def test_a_webhook_url_with_a_query_is_called_as_it_is_and_never_appended_to(
    harness: Harness,
    settings: Settings,
    tenant_id: str,
    target: RecordingServer,
    canary: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Given a URL-based connector whose secret is in the query (as Google Chat webhooks are), one
    # action that uses its URL as it is and one that would append a path to it
    secret_path = f"/v1/spaces/AAA/messages?key=k-{canary}&token=t-{canary}"
    harness.connector(tenant_id, target.url(secret_path))
    harness.action(tenant_id, name="as-is", url="", payload='{"text": "{{text}}"}', maxRetries=0)
    harness.action(tenant_id, name="appended", url="more", payload='{"text": "{{text}}"}', maxRetries=0)
    harness.rule(tenant_id, name="as-is", action="as-is", mapping={"text": "$.text"})
    harness.rule(tenant_id, name="appended", action="appended", mapping={"text": "$.text"})
    # When an event is delivered
    envelope = harness.envelope(tenant_id, {"text": "hello"})
    harness.handle(envelope)
    # Then the URL was called exactly as configured, and the appending action failed without a call
    assert [r.path for r in target.requests] == [secret_path]
    assert harness.delivery_of(envelope, "as-is").state is DeliveryState.SUCCEEDED
    assert harness.delivery_of(envelope, "appended").state is DeliveryState.FAILED
    (refused,) = harness.attempts_of(envelope, "appended")
    assert refused.outcome is AttemptOutcome.PERMANENT
    assert "query or fragment" in (refused.error or "")
    # And the secret query is in no record and no log
    for place, text in {
        "deliveries table": whole_table(settings, settings.deliveries_table),
        "config table": json.dumps(tenant_items(settings, tenant_id)),
        "logs": caplog.text,
    }.items():
        assert canary not in text, f"the URL secret leaked into {place}"
