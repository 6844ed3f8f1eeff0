"""The admin service's integrity rules on the embedded AWS: what the CLI, `apply` and the admin
HTTP API rely on (exists, in use, references, another tenant, which credentials change)."""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

import pytest
from pydantic import SecretStr

from eventrelay.admin import (
    ActionInUse,
    AdminService,
    ConnectorChanges,
    ConnectorInUse,
    CredentialChanges,
    DeliveryQuery,
    FieldChange,
    connector_spec_from,
)
from eventrelay.aws import dynamodb_client, secretsmanager_client
from eventrelay.connectors.models import AuthType, ConnectorSpec, Credentials
from eventrelay.delivery.models import Delivery, DeliveryState, delivery_id_for
from eventrelay.delivery.store import DeliveryStore
from eventrelay.errors import InvalidResource, ResourceExists, ResourceInUse, ResourceNotFound
from eventrelay.settings import Settings

PAYLOAD = '{"summary": "{{title}}"}'


@pytest.fixture
def other_tenant(admin: AdminService, tenant_id: str) -> str:
    other = tenant_id + "-other"
    admin.tenants.create(other, "Another tenant")
    return other


def _basic(name: str = "jira", url: str = "https://jira.example/rest") -> ConnectorSpec:
    return ConnectorSpec(name=name, base_url=url, auth_type=AuthType.BASIC)


def _stored_credentials(settings: Settings, tenant: str, name: str) -> Credentials:
    secret = secretsmanager_client(settings.region).get_secret_value(
        SecretId=f"{settings.secret_prefix}connectors/{tenant}/{name}", VersionStage="AWSCURRENT"
    )
    return Credentials.from_secret_json(secret["SecretString"])


def _with_connector_and_action(admin: AdminService, tenant: str) -> None:
    admin.connectors.create(
        tenant, _basic(), CredentialChanges(username="bot", password=SecretStr("pw-" + secrets.token_hex(4)))
    )
    admin.actions.create(
        tenant,
        {"name": "create-issue", "connector": "jira", "method": "POST", "url": "issue", "payload": PAYLOAD},
    )


# ---- tenants


def test_a_tenant_id_is_taken_once_and_an_unknown_one_is_not_found(admin: AdminService, tenant: str) -> None:
    with pytest.raises(ResourceExists):
        admin.tenants.create(tenant, "again")
    with pytest.raises(ResourceNotFound):
        admin.tenants.show(tenant + "-missing")
    with pytest.raises(InvalidResource):
        admin.tenants.create("-not an id-", "bad")


def test_rotating_a_secret_shows_the_new_one_once_and_keeps_the_tenant(
    admin: AdminService, tenant: str
) -> None:
    rotated = admin.tenants.rotate_secret(tenant, overlap_seconds=60)
    assert rotated.tenant.tenant_id == tenant
    assert len(rotated.shared_secret) >= 32
    assert rotated.previous_valid_until is not None
    assert rotated.previous_valid_until > time.time()


def test_registering_for_an_unknown_tenant_is_not_found_and_deleting_twice_is_not_found(
    admin: AdminService, tenant: str
) -> None:
    with pytest.raises(ResourceNotFound):
        admin.events.register(tenant + "-missing", "OrderPlaced", "v01")
    admin.events.register(tenant, "OrderPlaced", "v01")
    admin.events.delete(tenant, "OrderPlaced", "v01")
    with pytest.raises(ResourceNotFound):
        admin.events.delete(tenant, "OrderPlaced", "v01")
    with pytest.raises(InvalidResource):
        admin.events.register(tenant, "OrderPlaced", "1")


# ---- connectors


def test_a_connector_name_is_taken_once_and_needs_a_tenant(admin: AdminService, tenant: str) -> None:
    credentials = CredentialChanges(username="bot", password=SecretStr("pw"))
    admin.connectors.create(tenant, _basic(), credentials)
    with pytest.raises(ResourceExists):
        admin.connectors.create(tenant, _basic(), credentials)
    with pytest.raises(ResourceNotFound):
        admin.connectors.create(tenant + "-missing", _basic(), credentials)


def test_another_tenants_connector_action_and_rule_answer_as_not_found(
    admin: AdminService, tenant: str, other_tenant: str
) -> None:
    _with_connector_and_action(admin, tenant)
    admin.rules.create(
        tenant,
        {
            "name": "r",
            "eventName": "E",
            "eventVersion": "v01",
            "action": "create-issue",
            "mapping": {"title": "$.t"},
        },
    )
    for attempt in (
        lambda: admin.connectors.show(other_tenant, "jira"),
        lambda: admin.connectors.delete(other_tenant, "jira"),
        lambda: admin.connectors.update(other_tenant, "jira", ConnectorChanges(description="x")),
        lambda: admin.connectors.test_connection(other_tenant, "jira"),
        lambda: admin.actions.show(other_tenant, "create-issue"),
        lambda: admin.actions.delete(other_tenant, "create-issue"),
        lambda: admin.actions.test(other_tenant, "create-issue", {"title": "t"}),
        lambda: admin.rules.show(other_tenant, "r"),
        lambda: admin.rules.disable(other_tenant, "r"),
    ):
        with pytest.raises(ResourceNotFound):
            attempt()
    assert admin.connectors.list(other_tenant) == []
    assert admin.actions.list(other_tenant) == []


def test_update_merges_credentials_a_password_alone_keeps_the_username(
    admin: AdminService, settings: Settings, tenant: str
) -> None:
    admin.connectors.create(
        tenant, _basic(), CredentialChanges(username="bot", password=SecretStr("first-pw"))
    )

    # Given only a new description: the credentials stay as stored.
    unchanged = admin.connectors.update(tenant, "jira", ConnectorChanges(description="Jira"))
    assert _stored_credentials(settings, tenant, "jira").password == SecretStr("first-pw")
    assert unchanged.changed is True
    assert unchanged.description == "Jira"

    # Given only a password: the username stays.
    updated = admin.connectors.update(
        tenant, "jira", ConnectorChanges(credentials=CredentialChanges(password=SecretStr("second-pw")))
    )
    stored = _stored_credentials(settings, tenant, "jira")
    assert (stored.username, stored.password) == ("bot", SecretStr("second-pw"))
    assert updated.credentials is not None
    assert updated.credentials.password_set

    # The same update again changes nothing.
    again = admin.connectors.update(tenant, "jira", ConnectorChanges(description="Jira"))
    assert again.changed is False
    assert again.revision == updated.revision


def test_token_headers_merge_by_name(admin: AdminService, settings: Settings, tenant: str) -> None:
    spec = ConnectorSpec(name="slack", base_url="https://slack.example/api", auth_type=AuthType.TOKEN)
    admin.connectors.create(
        tenant, spec, CredentialChanges(token_headers={"Authorization": SecretStr("Bearer a")})
    )
    view = admin.connectors.update(
        tenant,
        "slack",
        ConnectorChanges(credentials=CredentialChanges(token_headers={"X-Team": SecretStr("t")})),
    )
    assert view.credentials is not None
    assert view.credentials.token_headers == ("Authorization", "X-Team")
    stored = _stored_credentials(settings, tenant, "slack")
    assert stored.token_headers == {"Authorization": SecretStr("Bearer a"), "X-Team": SecretStr("t")}


def test_credentials_of_another_auth_type_and_an_incomplete_switch_are_refused(
    admin: AdminService, settings: Settings, tenant: str
) -> None:
    admin.connectors.create(tenant, _basic(), CredentialChanges(username="bot", password=SecretStr("pw")))
    with pytest.raises(InvalidResource, match="token_headers"):
        admin.connectors.update(
            tenant,
            "jira",
            ConnectorChanges(credentials=CredentialChanges(token_headers={"A": SecretStr("b")})),
        )
    # Switching to token auth starts from no credentials: without a header it is incomplete.
    with pytest.raises(InvalidResource, match="token auth needs at least one header"):
        admin.connectors.update(tenant, "jira", ConnectorChanges(auth_type=AuthType.TOKEN))
    with pytest.raises(InvalidResource, match="auth type oauth2"):
        admin.connectors.update(
            tenant, "jira", ConnectorChanges(oauth2={"token_url": "https://t.example/token"})
        )
    assert admin.connectors.show(tenant, "jira").auth_type == "basic"
    assert _stored_credentials(settings, tenant, "jira").password == SecretStr("pw")


def test_connector_views_never_hold_a_secret_value(admin: AdminService, tenant: str) -> None:
    canaries = {name: f"CANARY-{name}-{secrets.token_hex(6)}" for name in ("pw", "token", "hook")}
    views: list[Any] = [
        admin.connectors.create(
            tenant, _basic(), CredentialChanges(username="bot", password=SecretStr(canaries["pw"]))
        ),
        admin.connectors.create(
            tenant,
            ConnectorSpec(name="slack", base_url="https://slack.example", auth_type=AuthType.TOKEN),
            CredentialChanges(token_headers={"Authorization": SecretStr(canaries["token"])}),
        ),
        admin.connectors.create(
            tenant, ConnectorSpec(name="hook", base_url=f"https://hooks.example/services/{canaries['hook']}")
        ),
    ]
    views += [admin.connectors.show(tenant, name) for name in ("jira", "slack", "hook")]
    views += admin.connectors.list(tenant)
    views.append(
        admin.connectors.update(
            tenant,
            "jira",
            ConnectorChanges(credentials=CredentialChanges(password=SecretStr(canaries["pw"] + "2"))),
        )
    )
    shown = [json.dumps(view.to_dict()) + repr(view) for view in views]
    for text in shown:
        for canary in canaries.values():
            assert canary not in text
    assert views[3].to_dict()["credentials"] == {"username": "bot", "password": "set"}
    assert views[5].to_dict()["credentials"] == {"baseUrl": "set"}


def test_a_connector_in_use_is_not_deleted_unless_forced(admin: AdminService, tenant: str) -> None:
    _with_connector_and_action(admin, tenant)
    with pytest.raises(ConnectorInUse) as refused:
        admin.connectors.delete(tenant, "jira")
    assert isinstance(refused.value, ResourceInUse)
    assert refused.value.users == ["create-issue"]
    assert "create-issue" in str(refused.value)
    assert admin.connectors.show(tenant, "jira").name == "jira"
    admin.connectors.delete(tenant, "jira", force=True)
    with pytest.raises(ResourceNotFound):
        admin.connectors.show(tenant, "jira")


def test_oauth_settings_merge_on_update(admin: AdminService, tenant: str) -> None:
    spec = connector_spec_from(
        "zendesk",
        ConnectorChanges(
            base_url="https://z.example/api",
            auth_type=AuthType.OAUTH2,
            oauth2={"token_url": "https://z.example/t"},
        ),
    )
    admin.connectors.create(tenant, spec, CredentialChanges(client_id="app", client_secret=SecretStr("s")))
    view = admin.connectors.update(tenant, "zendesk", ConnectorChanges(oauth2={"scope": "tickets"}))
    assert view.oauth2 is not None
    assert (view.oauth2.token_url, view.oauth2.scope, view.oauth2.grant.value) == (
        "https://z.example/t",
        "tickets",
        "client_credentials",
    )
    assert view.credentials is not None
    assert view.credentials.client_secret_set


def test_an_authorization_url_is_only_for_the_authorization_code_grant(
    admin: AdminService, tenant: str
) -> None:
    admin.connectors.create(tenant, _basic(), CredentialChanges(username="bot", password=SecretStr("pw")))
    with pytest.raises(InvalidResource, match="authorization-code"):
        admin.connectors.authorize_url(tenant, "jira")
    spec = connector_spec_from(
        "helpdesk",
        ConnectorChanges(
            base_url="https://h.example/api",
            auth_type=AuthType.OAUTH2,
            oauth2={
                "grant": "authorization_code",
                "token_url": "https://h.example/token",
                "authorization_url": "https://h.example/authorize",
                "redirect_url": "https://stack.example/oauth/callback",
            },
        ),
    )
    created = admin.connectors.create(
        tenant, spec, CredentialChanges(client_id="app", client_secret=SecretStr("s"))
    )
    assert created.health.state.value == "PENDING_AUTHORIZATION"
    started = admin.connectors.authorize_url(tenant, "helpdesk")
    assert started.url.startswith("https://h.example/authorize?")
    assert "client_id=app" in started.url


# ---- actions


def test_an_action_needs_its_connector_and_cannot_be_renamed(admin: AdminService, tenant: str) -> None:
    with pytest.raises(ResourceNotFound, match="ghost"):
        admin.actions.create(tenant, {"name": "a", "connector": "ghost", "method": "GET"})
    _with_connector_and_action(admin, tenant)
    with pytest.raises(ResourceExists):
        admin.actions.create(tenant, {"name": "create-issue", "connector": "jira", "method": "GET"})
    with pytest.raises(InvalidResource, match="renamed"):
        admin.actions.update(tenant, "create-issue", {"name": "other", "connector": "jira", "method": "GET"})
    with pytest.raises(ResourceNotFound, match="ghost"):
        admin.actions.update(
            tenant, "create-issue", {"name": "create-issue", "connector": "ghost", "method": "GET"}
        )
    with pytest.raises(InvalidResource):
        admin.actions.create(tenant, {"name": "broken", "connector": "jira", "method": "GET", "url": "a/{{x"})


def test_an_action_in_use_is_not_deleted_unless_forced(admin: AdminService, tenant: str) -> None:
    _with_connector_and_action(admin, tenant)
    for name in ("b-rule", "a-rule"):
        admin.rules.create(
            tenant,
            {
                "name": name,
                "eventName": "E",
                "eventVersion": "v01",
                "action": "create-issue",
                "mapping": {"title": "$.t"},
            },
        )
    with pytest.raises(ActionInUse) as refused:
        admin.actions.delete(tenant, "create-issue")
    assert refused.value.users == ["a-rule", "b-rule"]
    admin.actions.delete(tenant, "create-issue", force=True)
    with pytest.raises(ResourceNotFound):
        admin.actions.show(tenant, "create-issue")


def test_setting_fields_checks_their_names(admin: AdminService, tenant: str) -> None:
    _with_connector_and_action(admin, tenant)
    with pytest.raises(InvalidResource, match="no field 'titel'"):
        admin.actions.set_fields(tenant, "create-issue", [FieldChange("titel", default="x")])
    updated = admin.actions.set_fields(tenant, "create-issue", [FieldChange("title", default="Untitled")])
    assert updated.field("title").default == "Untitled"
    cleared = admin.actions.set_fields(tenant, "create-issue", [FieldChange("title", clear_default=True)])
    assert cleared.field("title").default is None


# ---- rules


def test_a_rule_refers_to_an_action_that_exists_and_maps_its_required_fields(
    admin: AdminService, tenant: str
) -> None:
    rule: dict[str, Any] = {
        "name": "r",
        "eventName": "E",
        "eventVersion": "v01",
        "action": "ghost",
        "mapping": {},
    }
    with pytest.raises(InvalidResource, match="'ghost' not found"):
        admin.rules.create(tenant, rule)
    _with_connector_and_action(admin, tenant)
    with pytest.raises(InvalidResource, match="title"):
        admin.rules.create(tenant, {**rule, "action": "create-issue"})
    created = admin.rules.create(tenant, {**rule, "action": "create-issue", "mapping": {"title": "$.t"}})
    assert created.version == 1
    with pytest.raises(ResourceExists):
        admin.rules.create(tenant, {**rule, "action": "create-issue", "mapping": {"title": "$.t"}})
    with pytest.raises(InvalidResource, match="title"):
        admin.rules.update(tenant, "r", {"mapping": {}})
    with pytest.raises(ResourceNotFound):
        admin.rules.create(tenant + "-missing", {**rule, "action": "create-issue"})


# ---- deliveries


def _delivery(tenant: str, index: int, created_at: float, state: DeliveryState) -> Delivery:
    event_id = f"evt-{index}"
    return Delivery(
        delivery_id=delivery_id_for(tenant, event_id, "r"),
        tenant_id=tenant,
        event_id=event_id,
        event_name="E",
        event_version="v01",
        rule_name="r",
        action="create-issue",
        state=state,
        created_at=created_at,
        updated_at=created_at,
    )


def test_deliveries_list_page_by_page_and_another_tenants_delivery_is_not_found(
    admin: AdminService, settings: Settings, tenant: str, other_tenant: str
) -> None:
    store = DeliveryStore(settings.deliveries_table, dynamodb_client(settings.region))
    now = time.time()
    written = [_delivery(tenant, index, now - index, DeliveryState.PENDING) for index in range(5)]
    for delivery in written:
        assert store.create_claimed(delivery, "token", 60) is not None

    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        page = admin.deliveries.list(tenant, DeliveryQuery(), limit=2, cursor=cursor)
        pages += 1
        seen += [delivery.delivery_id for delivery in page.deliveries]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == [delivery.delivery_id for delivery in written]  # newest first, each once
    assert pages == 3

    detail = admin.deliveries.show(tenant, written[0].delivery_id)
    assert [attempt.attempt for attempt in detail.attempts] == [1]
    with pytest.raises(ResourceNotFound):
        admin.deliveries.show(other_tenant, written[0].delivery_id)
    with pytest.raises(ResourceNotFound):
        admin.deliveries.replay(other_tenant, written[0].delivery_id)
    with pytest.raises(InvalidResource):
        admin.deliveries.list(tenant, cursor="not-a-cursor")
    # An attempt is running: not replayable (a conflict), and a bulk replay (FAILED) finds none.
    assert admin.deliveries.why_not_replayable(tenant, written[0].delivery_id) == "an attempt is running"
    assert admin.deliveries.replay_candidates(tenant) == []
