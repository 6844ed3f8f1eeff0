"""Rules, deliveries and the audit log through the admin API (`AdminApi.handle`, the contract's
documents), as a tenant's own admin: rule lifecycle and refusals, deliveries paged with a cursor,
shown with attempts, replayed one by one and by filter (dry run first), the audit entries naming
the token's subject and the request, and another tenant's admin answered as for an unknown tenant."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from eventrelay.admin_api.routing import admin_path
from eventrelay.aws import sqs_client
from eventrelay.delivery.models import DeliveryState
from eventrelay.settings import Settings
from tests.integration.admin_api.conftest import Caller
from tests.support.delivery import Harness
from tests.support.http_servers import RecordingServer, Reply
from tests.support.queues import drain

ASK = Callable[[str], Caller]
RULE = {
    "name": "big",
    "eventName": "OrderPlaced",
    "eventVersion": "v01",
    "action": "hook",
    "mapping": {"n": "$.n", "priority": {"constant": "high"}},
    "condition": {"path": "$.n", "op": "gte", "value": 2},
}


def _ok(answer: Any, status: int = 200) -> Any:
    assert (answer.status, answer.body["result"]) == (status, True), answer.body
    return answer.body["data"]


def _refused(answer: Any, code: str, status: int) -> list[str]:
    assert (answer.status, answer.body["result"], answer.body["errorCode"]) == (status, False, code), (
        answer.body
    )
    messages: list[str] = answer.body["messages"]
    return messages


@pytest.fixture
def tenant(as_caller: ASK, tenant_id: str) -> str:
    _ok(as_caller("operator-token")("POST", admin_path("tenants"), {"tenantId": tenant_id}), 201)
    return tenant_id


def _queued(settings: Settings, queue_url: str) -> int:
    attributes = sqs_client(settings.region).get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"])


def test_rule_lifecycle_and_its_audit_entries(as_caller: ASK, harness: Harness, tenant: str) -> None:
    # Given a tenant with an action whose field `priority` has no default, and its own admin
    harness.connector(tenant, "http://127.0.0.1:9/")
    harness.action(tenant, name="hook", url="/hook/{{n}}", payload='{"p": "{{priority}}"}')
    alice = as_caller("alice-token")
    rules = admin_path("tenants", tenant, "rules")
    big = admin_path("tenants", tenant, "rules", "big")

    # When she creates a rule, Then the answer is the rule's view, with its condition as a line
    created = _ok(alice("POST", rules, RULE, request_id="req-create"), 201)
    assert created == {
        **RULE,
        "source": {"type": "events"},
        "mapping": {"n": {"path": "$.n"}, "priority": {"constant": "high"}},
        "conditionText": "$.n >= 2",
        "enabled": True,
        "description": "",
        "tenantId": tenant,
        "version": 1,
        "createdAt": created["createdAt"],
        "updatedAt": created["updatedAt"],
    }
    assert _ok(alice("GET", big)) == created
    assert _refused(alice("POST", rules, RULE), "1012", 409) == ["rule 'big' already exists"]

    # When she changes some attributes (null removes the condition), the others stay
    patched = _ok(
        alice("PATCH", big, {"description": "big ones", "condition": None}, request_id="req-update")
    )
    assert (patched["description"], patched["condition"], patched["conditionText"], patched["version"]) == (
        "big ones",
        None,
        None,
        2,
    )
    assert patched["mapping"] == created["mapping"]
    assert _ok(alice("POST", big + "/disable"))["enabled"] is False
    assert [r["name"] for r in _ok(alice("GET", rules, query={"action": "hook"}))] == ["big"]
    assert _ok(alice("GET", rules, query={"action": "other"})) == []
    assert _ok(alice("POST", big + "/enable"))["enabled"] is True
    assert _ok(alice("DELETE", big, request_id="req-delete")) == {"deleted": True, "name": "big"}

    # Then it is gone: unknown rules answer 1011 on every route
    for method, path in (("GET", big), ("PATCH", big), ("DELETE", big), ("POST", big + "/enable")):
        body = {"description": "x"} if method == "PATCH" else None
        assert _refused(alice(method, path, body), "1011", 404) == ["rule 'big' not found"]

    # And the audit log names her and each request, newest first, never a value
    entries = _ok(alice("GET", admin_path("tenants", tenant, "audit")))["entries"]
    of_rule = [(e["operation"], e["subject"], e["requestId"], e["attributes"]) for e in entries]
    assert [(op, subject) for op, subject, _, _ in of_rule[:5]] == [
        ("deleted", "user:alice"),
        ("enabled", "user:alice"),
        ("disabled", "user:alice"),
        ("updated", "user:alice"),
        ("created", "user:alice"),
    ]
    assert of_rule[0][2:] == ("req-delete", [])
    assert of_rule[3][2:] == ("req-update", ["description", "condition"])
    assert of_rule[4][2:] == ("req-create", ["eventName", "eventVersion", "action", "condition", "mapping"])
    assert {e["resourceName"] for e in entries[:5]} == {"big"}


def test_invalid_rules_are_refused_naming_the_field(as_caller: ASK, harness: Harness, tenant: str) -> None:
    harness.connector(tenant, "http://127.0.0.1:9/")
    harness.action(tenant, name="hook", url="/hook/{{n}}", payload='{"p": "{{priority}}"}')
    alice = as_caller("alice-token")
    rules = admin_path("tenants", tenant, "rules")

    bad_condition = {**RULE, "condition": {"path": "$.n", "op": "resembles", "value": 2}}
    [problem] = _refused(alice("POST", rules, bad_condition), "1004", 400)
    assert problem.startswith("condition.op: unknown operator 'resembles'; use one of eq, ne, gt, gte")
    unmapped = {**RULE, "mapping": {"n": "$.n"}}
    assert _refused(alice("POST", rules, unmapped), "1004", 400) == [
        "mapping.priority: field 'priority' of action 'hook' has no default, "
        "so the rule must map it to a payload path or a constant"
    ]
    assert _refused(alice("POST", rules, {**RULE, "enabled": "yes"}), "1004", 400) == [
        "enabled: must be true or false"
    ]
    assert _refused(alice("POST", rules, {**RULE, "mapping": ["n"]}), "1004", 400) == [
        "mapping: must be an object"
    ]
    assert _refused(alice("POST", rules, {**RULE, "enabeld": True}), "1004", 400) == [
        "enabeld: unknown field"
    ]
    assert _refused(alice("POST", rules, {**RULE, "action": None}), "1004", 400) == [
        "action: may not be null"
    ]
    assert _refused(alice("GET", rules, query={"evnt": "x"}), "1004", 400) == ["evnt: unknown field"]
    # Nothing was written
    assert _ok(alice("GET", rules)) == []
    _ok(alice("POST", rules, RULE), 201)
    assert _refused(alice("PATCH", rules + "/big", {"name": "bigger"}), "1004", 400) == [
        "name: a rule cannot be renamed; create a new one and delete this one"
    ]
    assert _refused(alice("PATCH", rules + "/big", {"condition": {"all": "x"}}), "1004", 400)[0].startswith(
        "condition"
    )
    assert _ok(alice("GET", rules + "/big"))["version"] == 1


def test_deliveries_page_show_and_replay(
    as_caller: ASK, harness: Harness, tenant: str, settings: Settings, replay_queue: str
) -> None:
    # Given seven failed deliveries, some created at the same instant (the cursor must tell them apart)
    with RecordingServer(lambda request: Reply(status=500, body=b"down")) as server:
        harness.connector(tenant, server.url())
        harness.action(tenant, name="hook", url="/hook", maxRetries=0)
        harness.rule(tenant, name="hook", action="hook")
        envelopes = []
        for index in range(7):
            if index % 3 == 0:
                harness.clock.advance(1)
            envelope = harness.envelope(tenant, {"n": index})
            harness.handle(envelope)
            envelopes.append(envelope)
    expected = {harness.delivery_of(e, "hook").delivery_id for e in envelopes}
    alice = as_caller("alice-token")
    deliveries = admin_path("tenants", tenant, "deliveries")

    # When an admin pages through them three at a time
    seen: list[dict[str, Any]] = []
    cursor: str | None = None
    pages = 0
    while True:
        query = {"limit": "3", "state": "FAILED"} | ({"cursor": cursor} if cursor else {})
        page = _ok(alice("GET", deliveries, query=query))
        pages += 1
        seen += page["deliveries"]
        cursor = page["nextCursor"]
        if cursor is None:
            break
        assert pages < 10, "the cursor never ended"
    # Then every delivery comes once, newest first
    ids = [d["deliveryId"] for d in seen]
    assert (len(ids), set(ids), pages) == (7, expected, 3)
    assert [d["createdAt"] for d in seen] == sorted((d["createdAt"] for d in seen), reverse=True)
    assert _ok(alice("GET", deliveries, query={"since": "2999-01-01"})) == {
        "deliveries": [],
        "nextCursor": None,
    }
    assert len(_ok(alice("GET", deliveries, query={"until": "2000-01-01T00:00:00Z"}))["deliveries"]) == 0
    for query, problem in (
        ({"state": "BROKEN"}, "state: must be one of PENDING, RETRYING, SUCCEEDED, FAILED"),
        ({"limit": "0"}, "limit: must be between 1 and 1000"),
        ({"limit": "many"}, "limit: must be an integer"),
        ({"stat": "FAILED"}, "stat: unknown field"),
        ({"since": "yesterday"}, "since: must be an ISO 8601 time such as 2026-11-23T10:00:00Z"),
        ({"cursor": "not-a-cursor"}, "cursor: not a cursor this listing returned"),
    ):
        assert _refused(alice("GET", deliveries, query=query), "1004", 400) == [problem], query

    # And one delivery shows with its attempts
    first = harness.delivery_of(envelopes[0], "hook").delivery_id
    shown = _ok(alice("GET", f"{deliveries}/{first}"))
    assert (shown["state"], shown["attemptCount"], shown["eventId"]) == ("FAILED", 1, envelopes[0].eventId)
    assert [(a["attempt"], a["statusCode"], a["responseBody"]) for a in shown["attempts"]] == [
        (1, 500, "down")
    ]
    assert _refused(alice("GET", f"{deliveries}/d-nope"), "1011", 404) == ["delivery d-nope not found"]

    # When one is replayed, Then it is queued again, in a new round
    assert _ok(alice("POST", f"{deliveries}/{first}/replay", {"dryRun": True})) == {
        "dryRun": True,
        "wouldReplay": 1,
        "reason": None,
    }
    assert _queued(settings, replay_queue) == 0
    assert _ok(alice("POST", f"{deliveries}/{first}/replay")) == {
        "replayed": 1,
        "deliveryId": first,
        "round": 2,
    }
    assert [m["body"]["deliveryId"] for m in drain(replay_queue, settings.region)] == [first]
    assert _refused(alice("POST", f"{deliveries}/{first}/replay"), "1012", 409)[0].startswith(
        f"delivery {first} cannot be replayed: it is PENDING"
    )

    # When the rest are replayed by filter: a dry run counts them and changes nothing
    replay = f"{deliveries}/replay"
    assert _ok(alice("POST", replay, {"action": "hook", "dryRun": True})) == {
        "dryRun": True,
        "wouldReplay": 6,
    }
    assert _queued(settings, replay_queue) == 0
    assert {harness.delivery_of(e, "hook").state for e in envelopes[1:]} == {DeliveryState.FAILED}
    assert _refused(alice("POST", replay, {"dryRun": "yes"}), "1004", 400) == [
        "dryRun: must be true or false"
    ]
    assert _refused(alice("POST", replay, {"sate": "FAILED"}), "1004", 400) == ["sate: unknown field"]
    # Then for real: the six are queued, and nothing is left to replay
    assert _ok(alice("POST", replay, {"action": "hook"})) == {"matched": 6, "replayed": 6, "skipped": []}
    queued = sorted(m["body"]["deliveryId"] for m in drain(replay_queue, settings.region))
    assert queued == sorted(expected - {first})
    assert _ok(alice("POST", replay, {"dryRun": True})) == {"dryRun": True, "wouldReplay": 0}


def test_audit_pages_with_a_cursor(as_caller: ASK, tenant: str) -> None:
    alice = as_caller("alice-token")
    for version in ("v01", "v02", "v03"):
        body = {"eventName": "E", "eventVersion": version}
        _ok(alice("POST", admin_path("tenants", tenant, "registrations"), body), 201)
    audit = admin_path("tenants", tenant, "audit")
    names: list[str] = []
    cursor: str | None = None
    while True:
        page = _ok(alice("GET", audit, query={"limit": "2"} | ({"cursor": cursor} if cursor else {})))
        names += [entry["resourceName"] for entry in page["entries"]]
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert names == ["E:v03", "E:v02", "E:v01", tenant]
    assert _refused(alice("GET", audit, query={"limit": "501"}), "1004", 400) == [
        "limit: must be between 1 and 500"
    ]
    assert _refused(alice("GET", audit, query={"cursor": "%%%"}), "1004", 400)


def test_another_tenants_admin_is_answered_as_for_an_unknown_tenant(
    as_caller: ASK, harness: Harness, tenant_id: str
) -> None:
    # Mallory administers another tenant; the one she asks about does not exist yet
    mallory, operator = as_caller("mallory-token"), as_caller("operator-token")
    requests: list[tuple[str, str, dict[str, Any] | None]] = [
        ("GET", admin_path("tenants", tenant_id, "rules"), None),
        ("POST", admin_path("tenants", tenant_id, "rules"), RULE),
        ("GET", admin_path("tenants", tenant_id, "rules", "big"), None),
        ("PATCH", admin_path("tenants", tenant_id, "rules", "big"), {"description": "x"}),
        ("DELETE", admin_path("tenants", tenant_id, "rules", "big"), None),
        ("POST", admin_path("tenants", tenant_id, "rules", "big", "disable"), None),
        ("GET", admin_path("tenants", tenant_id, "deliveries"), None),
        ("GET", admin_path("tenants", tenant_id, "deliveries", "d-1"), None),
        ("POST", admin_path("tenants", tenant_id, "deliveries", "d-1", "replay"), None),
        ("POST", admin_path("tenants", tenant_id, "deliveries", "replay"), {"dryRun": True}),
        ("GET", admin_path("tenants", tenant_id, "audit"), None),
    ]

    def answers() -> list[tuple[int, dict[str, Any]]]:
        return [
            (answer.status, answer.body)
            for answer in (
                mallory(method, path, body, request_id=f"req-{index}")
                for index, (method, path, body) in enumerate(requests)
            )
        ]

    unknown = answers()
    assert {(status, body["errorCode"], body["message"]) for status, body in unknown} == {
        (404, "1011", f"tenant '{tenant_id}' not found")
    }
    # When the tenant exists, with a rule of its own, Then she gets exactly the same answers
    _ok(operator("POST", admin_path("tenants"), {"tenantId": tenant_id}), 201)
    harness.connector(tenant_id, "http://127.0.0.1:9/")
    harness.action(tenant_id, name="hook", url="/hook/{{n}}", payload='{"p": "{{priority}}"}')
    _ok(operator("POST", admin_path("tenants", tenant_id, "rules"), RULE), 201)
    assert answers() == unknown
    # And nothing she sent changed it
    assert _ok(operator("GET", admin_path("tenants", tenant_id, "rules", "big")))["version"] == 1
