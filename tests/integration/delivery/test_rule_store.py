"""Rules in the config table: saved only when they fit their action; conditional writes; enable/disable."""

from __future__ import annotations

import threading

import pytest

from eventrelay.actions import ActionStore
from eventrelay.aws import dynamodb_client
from eventrelay.rules import InvalidRule, RuleAlreadyExists, RuleNotFound, RuleStore
from eventrelay.settings import Settings


@pytest.fixture
def stores(settings: Settings, tenant_id: str) -> tuple[ActionStore, RuleStore]:
    dynamodb = dynamodb_client(settings.region)
    actions = ActionStore(settings.config_table, dynamodb)
    actions.create(
        tenant_id,
        {
            "connector": "crm",
            "name": "create-ticket",
            "method": "POST",
            "url": "/t/{{id}}",
            "payload": '{"p": "{{priority}}", "n": {{count}}}',
            "fields": [{"name": "priority", "default": "normal"}, {"name": "count", "type": "Number"}],
        },
    )
    return actions, RuleStore(settings.config_table, dynamodb, actions)


RULE = {
    "name": "tickets",
    "eventName": "OrderPlaced",
    "eventVersion": "v01",
    "action": "create-ticket",
    "mapping": {"id": "$.order.id", "count": "$.lines"},
}


def test_create_get_list_update_enable_disable_delete(
    stores: tuple[ActionStore, RuleStore], tenant_id: str
) -> None:
    _, rules = stores
    created = rules.create(tenant_id, RULE)
    assert (created.version, created.enabled, created.tenant_id) == (1, True, tenant_id)
    assert rules.get(tenant_id, "tickets") == created
    rules.create(tenant_id, {**RULE, "name": "other-event", "eventName": "OrderShipped"})
    assert [r.name for r in rules.list(tenant_id)] == ["other-event", "tickets"]
    assert [r.name for r in rules.rules_for_event(tenant_id, "OrderPlaced", "v01")] == ["tickets"]
    updated = rules.update(
        tenant_id,
        "tickets",
        {"condition": {"path": "$.total", "op": "gt", "value": 10}, "description": "big orders"},
    )
    assert (updated.version, updated.description, updated.mapping) == (2, "big orders", created.mapping)
    disabled = rules.set_enabled(tenant_id, "tickets", False)
    assert disabled.enabled is False
    assert rules.rules_for_event(tenant_id, "OrderPlaced", "v01") == []
    assert [r.name for r in rules.list(tenant_id, enabled=False)] == ["tickets"]
    assert rules.set_enabled(tenant_id, "tickets", True).enabled is True
    rules.delete(tenant_id, "tickets")
    with pytest.raises(RuleNotFound):
        rules.get(tenant_id, "tickets")
    with pytest.raises(RuleNotFound):
        rules.delete(tenant_id, "tickets")


def test_a_rule_missing_a_required_field_is_refused_naming_it(
    stores: tuple[ActionStore, RuleStore], tenant_id: str
) -> None:
    _, rules = stores
    with pytest.raises(InvalidRule) as refused:
        rules.create(tenant_id, {**RULE, "mapping": {"id": "$.order.id"}})
    assert refused.value.problems == [
        "mapping.count: field 'count' of action 'create-ticket' has no default, "
        "so the rule must map it to a payload path or a constant"
    ]
    with pytest.raises(RuleNotFound):
        rules.get(tenant_id, "tickets")


def test_rules_need_an_existing_action_and_unique_names(
    stores: tuple[ActionStore, RuleStore], tenant_id: str
) -> None:
    _, rules = stores
    with pytest.raises(InvalidRule, match="action 'nope' not found"):
        rules.create(tenant_id, {**RULE, "action": "nope"})
    rules.create(tenant_id, RULE)
    with pytest.raises(RuleAlreadyExists):
        rules.create(tenant_id, RULE)
    with pytest.raises(InvalidRule, match="cannot be renamed"):
        rules.update(tenant_id, "tickets", {"name": "renamed"})


def test_an_action_change_that_breaks_a_rule_is_caught_when_the_rule_is_enabled_again(
    stores: tuple[ActionStore, RuleStore], tenant_id: str
) -> None:
    actions, rules = stores
    rules.create(tenant_id, RULE)
    rules.set_enabled(tenant_id, "tickets", False)
    actions.update(
        tenant_id,
        {"connector": "crm", "name": "create-ticket", "method": "POST", "url": "/t/{{id}}/{{queue}}"},
    )
    with pytest.raises(InvalidRule, match=r"mapping\.queue: field 'queue'"):
        rules.set_enabled(tenant_id, "tickets", True)
    assert rules.get(tenant_id, "tickets").enabled is False


def test_put_is_idempotent(stores: tuple[ActionStore, RuleStore], tenant_id: str) -> None:
    _, rules = stores
    assert rules.put(tenant_id, RULE)[1] == "created"
    assert rules.put(tenant_id, RULE)[1] == "unchanged"
    rule, result = rules.put(tenant_id, {**RULE, "enabled": False})
    assert (result, rule.version, rule.enabled) == ("updated", 2, False)


def test_concurrent_updates_are_not_lost(stores: tuple[ActionStore, RuleStore], tenant_id: str) -> None:
    _, rules = stores
    rules.create(tenant_id, RULE)
    descriptions = [f"d{n}" for n in range(3)]  # each loses at most twice: within the 3 tries
    threads = [
        threading.Thread(target=rules.update, args=(tenant_id, "tickets", {"description": d}))
        for d in descriptions
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert rules.get(tenant_id, "tickets").version == 4
