"""ActionStore against DynamoDB Local: create, get, list, update, delete, per tenant."""

from __future__ import annotations

import json
import threading
from typing import Any

import boto3
import pytest

from eventrelay.actions import (
    ActionAlreadyExists,
    ActionConflict,
    ActionField,
    ActionNotFound,
    ActionStore,
    FieldType,
    InvalidAction,
    TemplateError,
    render,
)
from eventrelay_cli.local.environment import LocalAws


@pytest.fixture
def store(local_aws: LocalAws) -> ActionStore:
    client = boto3.client("dynamodb", region_name=local_aws.settings.region)
    return ActionStore(local_aws.settings.config_table, client, clock=lambda: 1_795_428_900.0)


def draft(name: str = "create-ticket", **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "connector": "zendesk",
        "name": name,
        "method": "POST",
        "url": "/api/v2/tickets.json?requester={{email}}",
        "headers": {"X-Priority": "{{priority}}"},
        "payload": '{"ticket": {"subject": "{{subject}}", "amount": {{amount}}, "due": "{{due}}"}}',
        "maxRetries": 2,
        "description": "Open a ticket",
        "fields": [{"name": "amount", "type": "Number", "default": 0}, {"name": "due", "type": "Date"}],
    }
    data.update(overrides)
    return data


def raw_item(local_aws: LocalAws, tenant_id: str, name: str) -> dict[str, Any] | None:
    client = boto3.client("dynamodb", region_name=local_aws.settings.region)
    response = client.get_item(
        TableName=local_aws.settings.config_table,
        Key={"pk": {"S": f"TENANT#{tenant_id}"}, "sk": {"S": f"ACTION#{name}"}},
    )
    return response.get("Item")


def test_create_then_get_returns_the_same_action(
    store: ActionStore, tenant_id: str, local_aws: LocalAws
) -> None:
    # Given a new action with typed fields
    created = store.create(tenant_id, draft())
    # When it is read back
    loaded = store.get(tenant_id, "create-ticket")
    # Then it is identical, with derived fields in order and the admin's choices applied
    assert loaded == created
    assert [(f.name, f.type, f.default) for f in loaded.fields] == [
        ("email", FieldType.STRING, None),
        ("priority", FieldType.STRING, None),
        ("subject", FieldType.STRING, None),
        ("amount", FieldType.NUMBER, 0),
        ("due", FieldType.DATE, None),
    ]
    assert (loaded.max_retries, loaded.version, loaded.created_at) == (2, 1, "2026-11-23T10:15:00.000Z")
    # And it is stored under the tenant's key with its definition as camelCase JSON
    item = raw_item(local_aws, tenant_id, "create-ticket")
    assert item is not None
    assert (item["connector"]["S"], item["version"]["N"]) == ("zendesk", "1")
    assert json.loads(item["definition"]["S"])["maxRetries"] == 2


def test_a_loaded_action_renders(store: ActionStore, tenant_id: str) -> None:
    store.create(tenant_id, draft())
    action = store.get(tenant_id, "create-ticket")
    request = render(
        action,
        {"email": "a+b@example.com", "priority": "high", "subject": "Broken", "due": "2026-11-23"},
        "https://acme.zendesk.com",
    )
    assert request.url == "https://acme.zendesk.com/api/v2/tickets.json?requester=a%2Bb%40example.com"
    assert request.body is not None
    assert json.loads(request.body) == {"ticket": {"subject": "Broken", "amount": 0, "due": "2026-11-23"}}


def test_create_refuses_an_existing_name(store: ActionStore, tenant_id: str) -> None:
    store.create(tenant_id, draft())
    with pytest.raises(ActionAlreadyExists) as caught:
        store.create(tenant_id, draft(url="/other"))
    assert caught.value.name == "create-ticket"
    # And the first definition is untouched
    assert store.get(tenant_id, "create-ticket").url == "/api/v2/tickets.json?requester={{email}}"


def test_get_update_and_delete_of_a_missing_action_are_not_found(store: ActionStore, tenant_id: str) -> None:
    with pytest.raises(ActionNotFound):
        store.get(tenant_id, "nope")
    with pytest.raises(ActionNotFound):
        store.update(tenant_id, draft("nope"))
    with pytest.raises(ActionNotFound):
        store.update_fields(tenant_id, "nope", [{"name": "x"}])
    with pytest.raises(ActionNotFound):
        store.delete(tenant_id, "nope")


def test_list_returns_only_this_tenants_actions_sorted_and_filters_by_connector(
    store: ActionStore, tenant_id: str
) -> None:
    store.create(tenant_id, draft("b-second"))
    store.create(tenant_id, draft("a-first", connector="slack"))
    store.create(f"{tenant_id}-other", draft("c-elsewhere"))
    assert [a.name for a in store.list(tenant_id)] == ["a-first", "b-second"]
    assert [a.name for a in store.list(tenant_id, connector="slack")] == ["a-first"]
    assert [a.name for a in store.list(f"{tenant_id}-none")] == []


def test_update_keeps_type_and_default_choices_for_fields_that_remain(
    store: ActionStore, tenant_id: str
) -> None:
    # Given a saved action whose `amount` is Number default 0 and `due` is Date
    store.create(tenant_id, draft())
    # When the template changes: `due` and `priority` removed, `note` added, no field choices sent
    changed = draft(
        headers={},
        payload='{"ticket": {"subject": "{{subject}}", "amount": {{amount}}, "note": "{{note}}"}}',
        fields=[],
        maxRetries=5,
    )
    updated = store.update(tenant_id, changed)
    # Then `amount` keeps Number/0, `note` is a new String field, the removed ones are gone
    loaded = store.get(tenant_id, "create-ticket")
    assert loaded == updated
    assert [(f.name, f.type, f.default) for f in loaded.fields] == [
        ("email", FieldType.STRING, None),
        ("subject", FieldType.STRING, None),
        ("amount", FieldType.NUMBER, 0),
        ("note", FieldType.STRING, None),
    ]
    assert (loaded.max_retries, loaded.version) == (5, 2)


def test_update_fields_changes_types_and_defaults_only(store: ActionStore, tenant_id: str) -> None:
    created = store.create(tenant_id, draft())
    updated = store.update_fields(
        tenant_id,
        "create-ticket",
        [ActionField(name="subject", default="(none)"), {"name": "amount", "type": "String"}],
    )
    assert updated.field("subject") == ActionField(name="subject", type=FieldType.STRING, default="(none)")
    assert updated.field("amount") == ActionField(name="amount", type=FieldType.STRING)
    assert updated.field("due") == created.field("due")
    assert (updated.url, updated.payload, updated.version) == (created.url, created.payload, 2)
    assert store.get(tenant_id, "create-ticket") == updated


def test_update_fields_refuses_a_default_that_does_not_fit(store: ActionStore, tenant_id: str) -> None:
    store.create(tenant_id, draft())
    with pytest.raises(InvalidAction) as caught:
        store.update_fields(
            tenant_id, "create-ticket", [{"name": "amount", "type": "Number", "default": "lots"}]
        )
    assert "amount" in str(caught.value)
    assert store.get(tenant_id, "create-ticket").version == 1


@pytest.mark.parametrize("retries", [6, -1])
def test_max_retries_out_of_range_is_refused_with_a_clear_message(
    store: ActionStore, tenant_id: str, local_aws: LocalAws, retries: int
) -> None:
    # On create: refused, and nothing is written
    with pytest.raises(InvalidAction) as caught:
        store.create(tenant_id, draft(maxRetries=retries))
    assert (
        str(caught.value) == f"invalid action: maxRetries: max retries must be between 0 and 5, got {retries}"
    )
    assert raw_item(local_aws, tenant_id, "create-ticket") is None
    # On update: refused, and the saved action keeps its value
    store.create(tenant_id, draft())
    with pytest.raises(InvalidAction, match="max retries must be between 0 and 5"):
        store.update(tenant_id, draft(maxRetries=retries))
    assert store.get(tenant_id, "create-ticket").max_retries == 2


def test_a_malformed_template_is_refused_on_save_with_its_position(
    store: ActionStore, tenant_id: str
) -> None:
    with pytest.raises(TemplateError) as caught:
        store.create(tenant_id, draft(payload='{"ticket": {"subject": "{{subject"}}'))
    assert (caught.value.part, caught.value.position.offset) == ("payload", 24)
    with pytest.raises(ActionNotFound):
        store.get(tenant_id, "create-ticket")


def test_delete_removes_the_action(store: ActionStore, tenant_id: str) -> None:
    store.create(tenant_id, draft())
    store.delete(tenant_id, "create-ticket")
    with pytest.raises(ActionNotFound):
        store.get(tenant_id, "create-ticket")
    assert store.list(tenant_id) == []


def test_concurrent_field_updates_never_lose_a_change_silently(store: ActionStore, tenant_id: str) -> None:
    # Given one action with five fields, and five admins each setting a different field's default at once
    store.create(tenant_id, draft())
    names = ["email", "priority", "subject", "amount", "due"]
    defaults: dict[str, object] = {
        "email": "a@example.com",
        "priority": "low",
        "subject": "s",
        "amount": 5,
        "due": "2026-11-23",
    }
    barrier = threading.Barrier(len(names))
    outcomes: dict[str, str] = {}

    def set_default(name: str) -> None:
        current = store.get(tenant_id, "create-ticket").field(name)
        barrier.wait()
        try:
            store.update_fields(
                tenant_id, "create-ticket", [current.model_copy(update={"default": defaults[name]})]
            )
            outcomes[name] = "saved"
        except ActionConflict:
            outcomes[name] = "conflict"

    threads = [threading.Thread(target=set_default, args=(name,)) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Then every change reported as saved is in the final state, and the version counts them
    final = store.get(tenant_id, "create-ticket")
    saved = [name for name in names if outcomes[name] == "saved"]
    assert saved
    for name in saved:
        assert final.field(name).default == defaults[name]
    assert final.version == 1 + len(saved)
