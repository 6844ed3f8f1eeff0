"""`eventrelay apply -f config.yaml` on the embedded AWS: idempotent, updates applied, secrets from
the environment reach Secrets Manager (and the wire) but never DynamoDB or the output."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from eventrelay.actions import ActionStore
from eventrelay.admin import ActionTester
from eventrelay.aws import dynamodb_client, secretsmanager_client
from eventrelay.registrations import RegistrationStore
from eventrelay.roots.connectors import ConnectorServices
from eventrelay.rules import RuleStore
from eventrelay.settings import Settings
from eventrelay_cli.main import main
from tests.support.http_servers import RecordingServer
from tests.support.items import assert_absent

EXIT_USAGE, EXIT_NOT_FOUND = 2, 3

CONFIG = """
tenant: {tenant}
events:
  - {{name: OrderPlaced, version: v01}}
  - name: TicketRequested
    version: v01
    schema: {{type: object, required: [title]}}
connectors:
  - name: jira
    baseUrl: {jira_url}
    headers: {{Accept: application/json}}
    auth: {{type: basic, username: bot@acme.example, password: {{env: APPLY_JIRA_PASSWORD}}}}
  - name: slack
    baseUrl: https://slack.example/api
    auth:
      type: token
      headers: {{Authorization: {{env: APPLY_SLACK_TOKEN}}}}
  - name: zendesk
    baseUrl: https://acme.zendesk.example/api/v2
    auth:
      type: oauth2
      tokenUrl: https://acme.zendesk.example/oauth/tokens
      scope: tickets
      clientId: {{env: APPLY_ZENDESK_CLIENT_ID}}
      clientSecret: {{env: APPLY_ZENDESK_SECRET}}
  - name: hooks
    baseUrl: https://hooks.example
actions:
  - name: create-issue
    connector: jira
    method: POST
    url: issue
    payload: '{{"summary": "{{{{title}}}}", "priority": "{{{{priority}}}}", "points": {{{{points}}}}}}'
    fields:
      - {{name: priority, default: {priority_default}}}
      - {{name: points, type: Number, default: 1}}
  - name: notify
    connector: slack
    method: POST
    url: chat.postMessage
    payload: {{type: form, pairs: {{channel: "#ops", text: "{{{{text}}}}"}}}}
rules:
  - name: ticket-to-jira
    eventName: TicketRequested
    eventVersion: v01
    action: create-issue
    mapping: {{title: $.title}}
  - name: orders-to-slack
    eventName: OrderPlaced
    eventVersion: v01
    action: notify
    condition: {{path: $.total, op: gte, value: 100}}
    mapping: {{text: {text_source}}}
"""


@pytest.fixture(autouse=True)
def _away_from_a_running_local_stack(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))


@pytest.fixture
def secrets_env(monkeypatch: pytest.MonkeyPatch, canaries: dict[str, str]) -> dict[str, str]:
    values = {
        "APPLY_JIRA_PASSWORD": canaries["basic password"],
        "APPLY_SLACK_TOKEN": f"Bearer {canaries['token header value']}",
        "APPLY_ZENDESK_CLIENT_ID": "zendesk-client",
        "APPLY_ZENDESK_SECRET": canaries["oauth client secret"],
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


def write_config(path: Path, tenant: str, **overrides: str) -> Path:
    values = {
        "tenant": tenant,
        "jira_url": "https://acme.atlassian.example/rest/api/3",
        "priority_default": "medium",
        "text_source": "$.summary",
    }
    values.update(overrides)
    path.write_text(CONFIG.format(**values), encoding="utf-8")
    return path


def apply(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any] | None, str, str]:
    code = main(["--json", "apply", *argv])
    out, err = capsys.readouterr()
    lines = out.strip().splitlines()
    return code, json.loads(lines[-1]) if code == 0 else None, out, err.strip()


def stored_items(settings: Settings, tenant: str) -> list[dict[str, Any]]:
    client = dynamodb_client(settings.region)
    response = client.query(
        TableName=settings.config_table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"TENANT#{tenant}"}},
        ConsistentRead=True,
    )
    return sorted(response["Items"], key=lambda item: item["sk"]["S"])


def secret_versions(settings: Settings, tenant: str) -> dict[str, list[str]]:
    client = secretsmanager_client(settings.region)
    versions = {}
    for name in ("jira", "slack", "zendesk"):
        secret_id = f"{settings.secret_prefix}connectors/{tenant}/{name}"
        listed = client.list_secret_version_ids(SecretId=secret_id)["Versions"]
        versions[name] = sorted(version["VersionId"] for version in listed)
    return versions


def whole_table(settings: Settings) -> str:
    client = dynamodb_client(settings.region)
    items = [
        item
        for page in client.get_paginator("scan").paginate(TableName=settings.config_table)
        for item in page.get("Items", [])
    ]
    return json.dumps(items, ensure_ascii=False)


def results(report: dict[str, Any]) -> dict[str, str]:
    return {f"{change['kind']} {change['name']}": change["result"] for change in report["changes"]}


ALL_ITEMS = [
    "event OrderPlaced/v01",
    "event TicketRequested/v01",
    "connector jira",
    "connector slack",
    "connector zendesk",
    "connector hooks",
    "action create-issue",
    "action notify",
    "rule ticket-to-jira",
    "rule orders-to-slack",
]


def test_apply_twice_yields_the_same_state_and_secrets_stay_out_of_dynamodb(
    capsys: pytest.CaptureFixture[str],
    tenant: str,
    tmp_path: Path,
    settings: Settings,
    secrets_env: dict[str, str],
    canaries: dict[str, str],
    services: ConnectorServices,
    actions: ActionStore,
    caplog: pytest.LogCaptureFixture,
) -> None:
    config = write_config(tmp_path / "config.yaml", tenant)

    # When the file is applied to an empty tenant, everything is created
    code, first, out1, _ = apply(capsys, "-f", str(config))
    assert code == 0
    assert first is not None
    assert results(first) == dict.fromkeys(ALL_ITEMS, "created")
    assert first["summary"] == {"created": 10, "updated": 0, "unchanged": 0}
    state = stored_items(settings, tenant)
    versions = secret_versions(settings, tenant)

    # Then applying it again changes nothing: every item unchanged, no item or secret rewritten
    code, second, out2, _ = apply(capsys, "-f", str(config))
    assert code == 0
    assert second is not None
    assert results(second) == dict.fromkeys(ALL_ITEMS, "unchanged")
    assert second["summary"] == {"created": 0, "updated": 0, "unchanged": 10}
    assert stored_items(settings, tenant) == state
    assert secret_versions(settings, tenant) == versions
    code = main(["apply", "-f", str(config)])
    human = capsys.readouterr().out
    assert code == 0
    assert "connector jira: unchanged" in human
    assert f"tenant {tenant}: 0 created, 0 updated, 10 unchanged" in human

    # And what is stored is what the file says
    jira = services.store.get(tenant, "jira")
    assert (jira.auth_type.value, jira.headers) == ("basic", {"Accept": "application/json"})
    zendesk_credentials = services.store.load_credentials(services.store.get(tenant, "zendesk"))
    assert zendesk_credentials.client_id == "zendesk-client"
    assert zendesk_credentials.client_secret is not None
    assert zendesk_credentials.client_secret.get_secret_value() == canaries["oauth client secret"]
    issue = actions.get(tenant, "create-issue")
    assert [(f.name, f.type.value, f.default) for f in issue.fields] == [
        ("title", "String", None),
        ("priority", "String", "medium"),
        ("points", "Number", 1),
    ]
    rules = RuleStore(settings.config_table, dynamodb_client(settings.region))
    assert rules.get(tenant, "orders-to-slack").condition is not None
    registration = RegistrationStore(settings.config_table, dynamodb_client(settings.region)).get(
        tenant, "TicketRequested", "v01"
    )
    assert registration is not None
    assert registration.kind.value == "json_schema"

    # And the password from the environment is the one sent on the wire
    with RecordingServer() as server:
        jira_url = server.url("/rest")
        code, moved, _, _ = apply(capsys, "-f", str(write_config(config, tenant, jira_url=jira_url)))
        assert code == 0
        assert moved is not None
        assert results(moved)["connector jira"] == "updated"
        report = ActionTester(actions, services.store, services.caller).run(
            tenant, "create-issue", {"title": "t"}
        )
        assert report.ok
        sent = server.requests[0].header("Authorization") or ""
    import base64

    assert (
        base64.b64decode(sent.removeprefix("Basic ")).decode()
        == f"bot@acme.example:{canaries['basic password']}"
    )

    # And no secret is in DynamoDB, in the output or in the logs
    assert_absent(
        canaries,
        {"dynamodb": whole_table(settings), "output": out1 + out2 + human, "logs": caplog.text},
    )


def test_a_change_in_the_file_is_shown_by_dry_run_then_applied(
    capsys: pytest.CaptureFixture[str],
    tenant: str,
    tmp_path: Path,
    settings: Settings,
    secrets_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    services: ConnectorServices,
    actions: ActionStore,
) -> None:
    config = write_config(tmp_path / "config.yaml", tenant)
    assert apply(capsys, "-f", str(config))[0] == 0
    before = stored_items(settings, tenant)
    versions = secret_versions(settings, tenant)

    # Given the file changes a field default and a rule mapping, and a secret changes in the environment
    write_config(config, tenant, priority_default="high", text_source="$.orderId")
    monkeypatch.setenv("APPLY_JIRA_PASSWORD", secrets_env["APPLY_JIRA_PASSWORD"] + "-rotated")

    # When it is dry-run: the changes are listed (attribute names only) and nothing is written
    code, planned, _, _ = apply(capsys, "-f", str(config), "--dry-run")
    assert code == 0
    assert planned is not None
    assert planned["dryRun"] is True
    changes = {f"{c['kind']} {c['name']}": c for c in planned["changes"]}
    assert changes["connector jira"] == {
        "kind": "connector",
        "name": "jira",
        "result": "updated",
        "changed": ["credentials"],
    }
    assert changes["action create-issue"]["changed"] == ["fields"]
    assert changes["rule orders-to-slack"]["changed"] == ["mapping"]
    assert planned["summary"] == {"created": 0, "updated": 3, "unchanged": 7}
    assert stored_items(settings, tenant) == before
    assert secret_versions(settings, tenant) == versions
    code = main(["apply", "-f", str(config), "--dry-run"])
    human = capsys.readouterr().out
    assert "action create-issue: would update (fields)" in human
    assert "dry run, nothing written: 0 created, 3 updated, 7 unchanged" in human

    # Then applying it writes exactly those changes
    code, applied, _, _ = apply(capsys, "-f", str(config))
    assert code == 0
    assert applied is not None
    assert applied["summary"] == {"created": 0, "updated": 3, "unchanged": 7}
    assert actions.get(tenant, "create-issue").field("priority").default == "high"
    assert actions.get(tenant, "create-issue").version == 2
    assert actions.get(tenant, "notify").version == 1
    credentials = services.store.load_credentials(services.store.get(tenant, "jira"))
    assert credentials.password is not None
    assert credentials.password.get_secret_value().endswith("-rotated")
    after = {item["sk"]["S"]: item for item in stored_items(settings, tenant)}
    unchanged = {item["sk"]["S"]: item for item in before}
    for key in (
        "CONNECTOR#slack",
        "CONNECTOR#zendesk",
        "ACTION#notify",
        "RULE#ticket-to-jira",
        "EVENT#OrderPlaced#v01",
    ):
        assert after[key] == unchanged[key]
    # And a third run finds nothing to do
    code, third, _, _ = apply(capsys, "-f", str(config))
    assert third is not None
    assert third["summary"] == {"created": 0, "updated": 0, "unchanged": 10}


def test_fields_changed_outside_the_file_are_set_back_to_what_the_file_says(
    capsys: pytest.CaptureFixture[str],
    tenant: str,
    tmp_path: Path,
    secrets_env: dict[str, str],
    actions: ActionStore,
) -> None:
    config = write_config(tmp_path / "config.yaml", tenant)
    assert apply(capsys, "-f", str(config))[0] == 0
    actions.update_fields(tenant, "create-issue", [{"name": "title", "type": "String", "default": "x"}])
    _, report, _, _ = apply(capsys, "-f", str(config))
    assert report is not None
    assert results(report)["action create-issue"] == "updated"
    assert actions.get(tenant, "create-issue").field("title").default is None


def test_invalid_files_are_refused_before_anything_is_written(
    capsys: pytest.CaptureFixture[str],
    tenant: str,
    tmp_path: Path,
    settings: Settings,
    secrets_env: dict[str, str],
    canaries: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = tmp_path / "config.yaml"
    password = canaries["basic password"]

    # A secret written in the file is refused, and the error does not repeat it
    path.write_text(
        f"tenant: {tenant}\nconnectors:\n  - name: jira\n    baseUrl: https://x.example\n"
        f"    auth: {{type: basic, username: u, password: '{password}'}}\n"
    )
    code, _, out, err = apply(capsys, "-f", str(path))
    assert code == EXIT_USAGE
    assert "connectors[0] (jira).auth.password: a secret is never written in the file" in err
    assert password not in out + err

    # A missing variable, an action on an unknown connector, a rule missing a field: all reported
    monkeypatch.delenv("APPLY_SLACK_TOKEN")
    config = CONFIG.format(
        tenant=tenant,
        jira_url="https://x.example",
        priority_default="low",
        text_source="$.summary",
    )
    config = config.replace("connector: jira", "connector: ghost")
    config = config.replace("mapping: {title: $.title}", "mapping: {}")
    path.write_text(config)
    code, _, _, err = apply(capsys, "-f", str(path))
    assert code == EXIT_USAGE
    assert (
        "connectors[1] (slack).auth.headers.Authorization: environment variable APPLY_SLACK_TOKEN is not set"
        in err
    )
    monkeypatch.setenv("APPLY_SLACK_TOKEN", "Bearer x")
    code, _, _, err = apply(capsys, "-f", str(path))
    assert code == EXIT_USAGE
    assert "actions (create-issue).connector: connector 'ghost' is neither in the file nor stored" in err
    assert "rules (ticket-to-jira).mapping" in err
    assert "title" in err
    # Nothing written: the profile and the audit entry of the tenant's creation (by the fixture) only
    stored = [item["sk"]["S"] for item in stored_items(settings, tenant)]
    assert [key.split("#")[0] for key in stored] == ["AUDIT", "PROFILE"]

    # Broken YAML gives the line, an unknown key names itself, an unknown tenant is not found
    path.write_text("tenant: [unclosed\n")
    code, _, _, err = apply(capsys, "-f", str(path))
    assert code == EXIT_USAGE
    assert "invalid YAML at line" in err
    path.write_text(f"tenant: {tenant}\nconectors: []\n")
    code, _, _, err = apply(capsys, "-f", str(path))
    assert code == EXIT_USAGE
    assert "conectors: Extra inputs are not permitted" in err
    path.write_text("tenant: nobody-home\n")
    code, _, _, err = apply(capsys, "-f", str(path))
    assert (code, err) == (
        EXIT_NOT_FOUND,
        "error: tenant 'nobody-home' not found: create it first (eventrelay tenant create)",
    )
    code, _, _, err = apply(capsys, "-f", str(tmp_path / "missing.yaml"))
    assert code == EXIT_USAGE
    assert "cannot read" in err
