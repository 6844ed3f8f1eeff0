"""Every kind of change made through the admin API over HTTP is in the tenant's audit log, under
the subject of the token that made it, with the attributes it changed and never a value."""

from __future__ import annotations

from typing import Any

from eventrelay.admin_api.routing import admin_path
from tests.support.admin_api import call, stack_issuer
from tests.support.http_servers import RecordingServer
from tests.support.local_stack import RunningStack

CANARY_PASSWORD = "audit-canary-6e1b9d04"


def test_each_kind_of_change_is_audited_with_the_token_s_subject(local_stack: RunningStack) -> None:
    issuer = stack_issuer(local_stack)
    operator = issuer.mint("ops@example.test", operator=True)
    admin = issuer.mint("alice@example.test", tenants=["audited"])

    def ok(token: str, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        answer = call(local_stack, method, path, token, body)
        assert answer.status < 300, answer.text
        return answer.document["data"]

    tenant = ("tenants", "audited")
    ok(operator, "POST", admin_path("tenants"), {"tenantId": "audited"})
    ok(operator, "POST", admin_path(*tenant, "secret", "rotate"), {"overlapSeconds": 0})
    ok(operator, "PUT", admin_path(*tenant, "limits"), {"syncPerMinute": 500})
    with RecordingServer() as target:
        ok(admin, "POST", admin_path(*tenant, "registrations"), {"eventName": "Won", "eventVersion": "v01"})
        connector = {
            "name": "crm",
            "baseUrl": target.url("/api"),
            "authType": "basic",
            "credentials": {"username": "bot", "password": CANARY_PASSWORD},
        }
        ok(admin, "POST", admin_path(*tenant, "connectors"), connector)
        ok(admin, "PATCH", admin_path(*tenant, "connectors", "crm"), {"description": "the CRM"})
        action = {"name": "note", "connector": "crm", "method": "POST", "url": "notes/{{id}}"}
        ok(admin, "POST", admin_path(*tenant, "actions"), action)
        ok(
            admin,
            "PATCH",
            admin_path(*tenant, "actions", "note", "fields"),
            {"fields": [{"name": "id", "type": "Number"}]},
        )
        rule = {
            "name": "won",
            "eventName": "Won",
            "eventVersion": "v01",
            "action": "note",
            "mapping": {"id": "$.id"},
        }
        ok(admin, "POST", admin_path(*tenant, "rules"), rule)
        ok(admin, "POST", admin_path(*tenant, "rules", "won", "disable"))
        ok(admin, "DELETE", admin_path(*tenant, "rules", "won"))
        ok(admin, "DELETE", admin_path(*tenant, "actions", "note"))
        ok(admin, "DELETE", admin_path(*tenant, "connectors", "crm"))
        ok(admin, "DELETE", admin_path(*tenant, "registrations", "Won", "v01"))

    answer = call(local_stack, "GET", admin_path(*tenant, "audit") + "?limit=100", admin)
    assert answer.status == 200, answer.text
    assert CANARY_PASSWORD not in answer.text
    entries = answer.document["data"]["entries"]
    seen = [(e["subject"], e["operation"], e["resourceKind"], e["resourceName"]) for e in reversed(entries)]
    by_operator = [entry for entry in seen if entry[0] == "ops@example.test"]
    by_admin = [entry for entry in seen if entry[0] == "alice@example.test"]
    assert len(by_operator) + len(by_admin) == len(seen)  # every entry names a token's subject
    assert [(kind, name) for _, _, kind, name in by_operator] == [
        ("tenant", "audited"),
        ("tenant", "audited"),
        ("limits", "audited"),
    ]
    assert [kind for _, _, kind, _ in by_admin] == [
        "event", "connector", "connector", "action", "action",
        "rule", "rule", "rule", "action", "connector", "event",
    ]  # fmt: skip
    # The request id of each change is kept, and the changed attributes are named, never valued.
    assert all(entry["requestId"] for entry in entries)
    [connector_created] = [
        e for e in entries if (e["resourceKind"], e["operation"]) == ("connector", "created")
    ]
    assert "credentials" in connector_created["attributes"]
    assert "baseUrl" in connector_created["attributes"]
