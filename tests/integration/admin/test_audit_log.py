"""The audit log on the embedded AWS: every change through the admin service leaves an entry
naming who made it and which attributes changed, never a value; per tenant, newest first."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pydantic import SecretStr

from eventrelay.admin import AdminService, ConnectorChanges, CredentialChanges, FieldChange
from eventrelay.audit import AuditEntry
from eventrelay.aws import dynamodb_client
from eventrelay.connectors.models import AuthType, ConnectorSpec
from eventrelay.delivery.models import Delivery, DeliveryState, delivery_id_for
from eventrelay.delivery.store import DeliveryStore
from eventrelay.errors import InvalidResource, ResourceNotFound
from eventrelay.rules import parse_rule_draft
from eventrelay.settings import Settings
from eventrelay.tenants import LimitOverrides
from eventrelay_cli.context import cli_subject
from eventrelay_cli.main import main
from tests.support.items import assert_absent
from tests.support.local_stack import EVENTRELAY
from tests.support.queues import drain
from tests.support.roots import admin_service

ACTION = {"name": "create-issue", "connector": "jira", "method": "POST", "url": "issue"}
RULE = {"name": "r", "eventName": "E", "eventVersion": "v01", "action": "create-issue"}


def _every_entry(admin: AdminService, tenant: str) -> list[AuditEntry]:
    return admin.audit.list(tenant, limit=500).entries


def _audit_items(settings: Settings, tenant: str) -> str:
    """The stored audit items as text (to search for secrets in what DynamoDB holds)."""
    answer = dynamodb_client(settings.region).query(
        TableName=settings.config_table,
        KeyConditionExpression="pk = :pk AND begins_with(sk, :audit)",
        ExpressionAttributeValues={":pk": {"S": f"TENANT#{tenant}"}, ":audit": {"S": "AUDIT#"}},
    )
    assert answer["Items"], "no audit item stored"
    return json.dumps(answer["Items"])


def _failed_delivery(settings: Settings, tenant: str) -> str:
    now = time.time()
    delivery = Delivery(
        delivery_id=delivery_id_for(tenant, "evt-1", "r"),
        tenant_id=tenant,
        event_id="evt-1",
        event_name="E",
        event_version="v01",
        rule_name="r",
        action="create-issue",
        state=DeliveryState.FAILED,
        created_at=now,
        updated_at=now,
    )
    assert DeliveryStore(settings.deliveries_table, dynamodb_client(settings.region)).create(delivery)
    return delivery.delivery_id


def test_every_kind_of_change_is_recorded_with_its_subject_and_names_only(
    admin: AdminService, settings: Settings, tenant_id: str, canaries: dict[str, str]
) -> None:
    alice = admin.acting_as("user:alice", "req-1")
    first_password, second_password = canaries["basic password"], canaries["oauth client secret"]
    tenant_secret = alice.tenants.create(tenant_id, "Audited").shared_secret
    rotated_secret = alice.tenants.rotate_secret(tenant_id, overlap_seconds=0).shared_secret
    alice.tenants.set_limits(tenant_id, LimitOverrides(sync_per_minute=10))
    alice.events.register(tenant_id, "E", "v01", description="orders")
    alice.events.register(tenant_id, "Gone", "v01")
    alice.events.delete(tenant_id, "Gone", "v01")
    spec = ConnectorSpec(name="jira", base_url="https://jira.example/rest", auth_type=AuthType.BASIC)
    alice.connectors.create(
        tenant_id, spec, CredentialChanges(username="bot", password=SecretStr(first_password))
    )
    alice.connectors.update(
        tenant_id,
        "jira",
        ConnectorChanges(
            description="Jira", credentials=CredentialChanges(password=SecretStr(second_password))
        ),
    )
    alice.actions.create(tenant_id, {**ACTION, "payload": '{"summary": "{{title}}"}'})
    alice.actions.update(tenant_id, "create-issue", {**ACTION, "payload": '{"s": "{{title}}"}'})
    alice.actions.set_fields(tenant_id, "create-issue", [FieldChange("title", default="Untitled")])
    alice.rules.create(tenant_id, {**RULE, "mapping": {"title": "$.t"}})
    alice.rules.update(tenant_id, "r", {"description": "big orders"})
    alice.rules.disable(tenant_id, "r")
    alice.rules.enable(tenant_id, "r")
    alice.rules.put(tenant_id, parse_rule_draft({**RULE, "name": "r2"}))
    alice.rules.put(tenant_id, parse_rule_draft({**RULE, "name": "r2", "description": "again"}))
    replayed = _failed_delivery(settings, tenant_id)
    alice.deliveries.replay(tenant_id, replayed)
    # The replay's message is taken off the shared events queue (later tests read that queue).
    sent = [m["body"] for m in drain(settings.events_queue_url, settings.region)]
    assert replayed in [body.get("deliveryId") for body in sent]
    alice.rules.delete(tenant_id, "r")
    alice.rules.delete(tenant_id, "r2")
    alice.actions.delete(tenant_id, "create-issue")
    alice.connectors.delete(tenant_id, "jira")

    entries = _every_entry(admin, tenant_id)
    changes = [(e.operation, e.resource_kind, e.resource_name, e.attributes) for e in reversed(entries)]
    assert changes == [
        ("created", "tenant", tenant_id, ("name", "sharedSecret")),
        ("rotated", "tenant", tenant_id, ("sharedSecret",)),
        ("updated", "limits", tenant_id, ("syncPerMinute",)),
        ("registered", "event", "E:v01", ("kind", "description")),
        ("registered", "event", "Gone:v01", ("kind", "description")),
        ("deleted", "event", "Gone:v01", ()),
        ("created", "connector", "jira", ("baseUrl", "authType", "credentials")),
        ("updated", "connector", "jira", ("description", "credentials.password")),
        ("created", "action", "create-issue", ("connector", "method", "url", "payload")),
        ("updated", "action", "create-issue", ("payload",)),
        ("updated", "action", "create-issue", ("fields.title",)),
        ("created", "rule", "r", ("eventName", "eventVersion", "action", "mapping")),
        ("updated", "rule", "r", ("description",)),
        ("disabled", "rule", "r", ("enabled",)),
        ("enabled", "rule", "r", ("enabled",)),
        ("created", "rule", "r2", ("eventName", "eventVersion", "action")),
        ("updated", "rule", "r2", ("description",)),
        ("replayed", "delivery", replayed, ()),
        ("deleted", "rule", "r", ()),
        ("deleted", "rule", "r2", ()),
        ("deleted", "action", "create-issue", ()),
        ("deleted", "connector", "jira", ()),
    ]
    assert {(e.subject, e.request_id) for e in entries} == {("user:alice", "req-1")}
    secrets_ = {**canaries, "tenant secret": tenant_secret, "rotated tenant secret": rotated_secret}
    assert_absent(
        secrets_,
        {
            "the audit entries": json.dumps([e.to_view() for e in entries]),
            "the audit items": _audit_items(settings, tenant_id),
        },
    )


def test_entries_page_newest_first_per_tenant(settings: Settings, tenant_id: str) -> None:
    now = [1_800_000_000.0]
    admin = admin_service(settings, lambda: now[0]).acting_as("user:bob")
    other = tenant_id + "-other"
    for tenant in (tenant_id, other):
        admin.tenants.create(tenant)
    for version in range(1, 6):
        now[0] += 1
        admin.events.register(tenant_id, "E", f"v0{version}")
    admin.events.register(other, "Elsewhere", "v01")

    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        page = admin.audit.list(tenant_id, limit=2, cursor=cursor)
        pages += 1
        seen += [entry.resource_name for entry in page.entries]
        cursor = page.cursor
        if cursor is None:
            break
    assert seen == ["E:v05", "E:v04", "E:v03", "E:v02", "E:v01", tenant_id]
    assert pages == 3
    assert page.entries[-1].at == "2027-01-15T08:00:00.000Z"  # the injected clock's time
    assert "Elsewhere:v01" not in seen
    assert [e.resource_name for e in admin.audit.list(other).entries] == ["Elsewhere:v01", other]
    with pytest.raises(InvalidResource):
        admin.audit.list(tenant_id, cursor="not-a-cursor")
    with pytest.raises(InvalidResource):
        admin.audit.list(tenant_id, limit=0)
    with pytest.raises(ResourceNotFound):
        admin.audit.list(tenant_id + "-missing")


def test_the_cli_records_its_user_and_lists_the_log(
    settings: Settings, tenant_id: str, tmp_path: Path
) -> None:
    def eventrelay(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(EVENTRELAY), *argv],
            cwd=tmp_path,  # away from a developer's running local stack (.eventrelay/local.json)
            env=dict(os.environ),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    assert eventrelay("tenant", "create", tenant_id).returncode == 0
    assert eventrelay("event", "register", tenant_id, "E", "v01").returncode == 0

    listed = eventrelay("audit", "list", tenant_id, "--limit", "1", "--json")
    assert listed.returncode == 0, listed.stderr
    page = json.loads(listed.stdout)
    assert [(e["operation"], e["resourceName"], e["subject"]) for e in page["entries"]] == [
        ("registered", "E:v01", cli_subject())
    ]
    assert page["nextCursor"] is not None
    human = eventrelay("audit", "list", tenant_id, "--cursor", page["nextCursor"])
    assert human.returncode == 0, human.stderr
    assert f"{cli_subject()} created tenant {tenant_id} (name, sharedSecret)" in human.stdout
    assert eventrelay("audit", "list", tenant_id + "-missing").returncode == 3


APPLIED = """
tenant: {tenant}
events:
  - {{name: E, version: v01}}
connectors:
  - name: slack
    baseUrl: https://slack.example/api
    description: {description}
    auth: {{type: token, headers: {{Authorization: {{env: AUDIT_SLACK_TOKEN}}}}}}
actions:
  - name: notify
    connector: slack
    method: POST
    url: chat.postMessage
    payload: '{{"t": "{{{{text}}}}"}}'
rules:
  - {{name: r, eventName: E, eventVersion: v01, action: notify, mapping: {{text: $.text}}}}
"""


def test_apply_records_what_it_writes_and_only_that(
    admin: AdminService,
    settings: Settings,
    tenant: str,
    canaries: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)  # away from a developer's running local stack
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    config = tmp_path / "tenant.yaml"
    monkeypatch.setenv("AUDIT_SLACK_TOKEN", canaries["token header value"])
    config.write_text(APPLIED.format(tenant=tenant, description="first"), encoding="utf-8")
    assert main(["apply", "-f", str(config)]) == 0
    monkeypatch.setenv("AUDIT_SLACK_TOKEN", canaries["oauth client secret"])
    config.write_text(APPLIED.format(tenant=tenant, description="second"), encoding="utf-8")
    assert main(["apply", "-f", str(config)]) == 0

    entries = [e for e in reversed(_every_entry(admin, tenant)) if e.resource_kind != "tenant"]
    assert [(e.operation, e.resource_kind, e.resource_name) for e in entries] == [
        ("registered", "event", "E:v01"),
        ("created", "connector", "slack"),
        ("created", "action", "notify"),
        ("created", "rule", "r"),
        ("updated", "connector", "slack"),  # the second run: only what changed
    ]
    assert entries[-1].attributes == ("description", "credentials")
    assert {e.subject for e in entries} == {cli_subject()}
    assert_absent(
        canaries,
        {
            "the audit entries": json.dumps([e.to_view() for e in entries]),
            "the audit items": _audit_items(settings, tenant),
        },
    )
