"""Connectors in the config table and their credentials in Secrets Manager."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from eventrelay.aws import secretsmanager_client
from eventrelay.connectors.errors import ConnectorExists, ConnectorNotFound, InvalidConnectorCredentials
from eventrelay.connectors.models import (
    AuthType,
    ConnectorSpec,
    Credentials,
    HealthState,
    OAuth2Grant,
    OAuth2Settings,
)
from eventrelay.roots.connectors import ConnectorServices
from eventrelay.settings import Settings
from tests.support.items import tenant_items

PASSWORD = "CANARY-store-password-1"


def basic_spec(name: str = "crm", base_url: str = "https://crm.example/api") -> ConnectorSpec:
    return ConnectorSpec(name=name, base_url=base_url, auth_type=AuthType.BASIC, description="CRM")


def secret_document(settings: Settings, secret_id: str) -> dict[str, object]:
    client = secretsmanager_client(settings.region)
    value = client.get_secret_value(SecretId=secret_id, VersionStage="AWSCURRENT")["SecretString"]
    document: dict[str, object] = json.loads(value)
    return document


def test_create_stores_config_in_dynamodb_and_credentials_only_in_the_secret(
    connectors: ConnectorServices, settings: Settings, tenant_id: str
) -> None:
    created = connectors.store.create(tenant_id, basic_spec(), Credentials(username="svc", password=PASSWORD))
    assert created.secret_id == f"{settings.secret_prefix}connectors/{tenant_id}/crm"
    assert created.health.state is HealthState.AUTHORIZED
    assert secret_document(settings, created.secret_id) == {"username": "svc", "password": PASSWORD}
    # tenant_items also returns every tenant's pending OAuth authorization states: keep connectors.
    (item,) = [item for item in tenant_items(settings, tenant_id) if item["sk"]["S"].startswith("CONNECTOR#")]
    assert item["sk"]["S"] == "CONNECTOR#crm"
    assert PASSWORD not in json.dumps(item)
    assert "svc" not in json.dumps(item)
    fetched = connectors.store.get(tenant_id, "crm")
    assert fetched == created
    assert [c.name for c in connectors.store.list(tenant_id)] == ["crm"]


def test_creating_a_connector_twice_is_refused(connectors: ConnectorServices, tenant_id: str) -> None:
    credentials = Credentials(username="svc", password=PASSWORD)
    connectors.store.create(tenant_id, basic_spec(), credentials)
    with pytest.raises(ConnectorExists):
        connectors.store.create(tenant_id, basic_spec(), credentials)


@pytest.mark.parametrize(
    ("spec", "credentials", "problems"),
    [
        (basic_spec(), Credentials(username="svc"), ["basic auth needs a password"]),
        (
            basic_spec(),
            Credentials(username="a:b", password="x"),
            ["a basic-auth username must not contain ':'"],
        ),
        (
            ConnectorSpec(name="t", base_url="https://t.example", auth_type=AuthType.TOKEN),
            Credentials(),
            ["token auth needs at least one header"],
        ),
        (
            ConnectorSpec(
                name="o",
                base_url="https://o.example",
                auth_type=AuthType.OAUTH2,
                oauth2=OAuth2Settings(
                    grant=OAuth2Grant.CLIENT_CREDENTIALS, token_url="https://o.example/token"
                ),
            ),
            Credentials(client_id="id"),
            ["oauth2 needs a client_secret"],
        ),
    ],
)
def test_missing_credentials_are_refused_naming_the_field(
    connectors: ConnectorServices,
    tenant_id: str,
    spec: ConnectorSpec,
    credentials: Credentials,
    problems: list[str],
) -> None:
    with pytest.raises(InvalidConnectorCredentials) as refused:
        connectors.store.create(tenant_id, spec, credentials)
    assert refused.value.problems == problems
    with pytest.raises(ConnectorNotFound):
        connectors.store.get(tenant_id, spec.name)


def test_an_update_that_changes_nothing_writes_nothing(connectors: ConnectorServices, tenant_id: str) -> None:
    credentials = Credentials(username="svc", password=PASSWORD)
    created = connectors.store.create(tenant_id, basic_spec(), credentials)
    again = connectors.store.update(tenant_id, basic_spec(), Credentials(username="svc", password=PASSWORD))
    assert again.revision == created.revision == 1
    assert again.updated_at == created.updated_at


def test_an_update_of_the_config_keeps_the_credentials(
    connectors: ConnectorServices, settings: Settings, tenant_id: str
) -> None:
    created = connectors.store.create(tenant_id, basic_spec(), Credentials(username="svc", password=PASSWORD))
    updated = connectors.store.update(tenant_id, basic_spec(base_url="https://crm.example/v2"))
    assert updated.revision == 2
    assert updated.base_url == "https://crm.example/v2"
    assert updated.created_at == created.created_at
    assert (
        secret_document(settings, f"{settings.secret_prefix}connectors/{tenant_id}/crm")["password"]
        == PASSWORD
    )


def test_an_update_of_credentials_replaces_the_secret(
    connectors: ConnectorServices, settings: Settings, tenant_id: str
) -> None:
    connectors.store.create(tenant_id, basic_spec(), Credentials(username="svc", password=PASSWORD))
    updated = connectors.store.update(
        tenant_id, basic_spec(), Credentials(username="svc", password="new-pass")
    )
    assert updated.revision == 2
    assert secret_document(settings, updated.secret_id or "")["password"] == "new-pass"


def test_switching_to_no_auth_deletes_the_secret(
    connectors: ConnectorServices, settings: Settings, tenant_id: str
) -> None:
    created = connectors.store.create(tenant_id, basic_spec(), Credentials(username="svc", password=PASSWORD))
    updated = connectors.store.update(
        tenant_id, ConnectorSpec(name="crm", base_url="https://crm.example/api")
    )
    assert updated.secret_id is None
    with pytest.raises(ClientError) as missing:
        secretsmanager_client(settings.region).get_secret_value(SecretId=created.secret_id or "")
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_delete_removes_the_item_and_the_secret(
    connectors: ConnectorServices, settings: Settings, tenant_id: str
) -> None:
    created = connectors.store.create(tenant_id, basic_spec(), Credentials(username="svc", password=PASSWORD))
    connectors.store.delete(tenant_id, "crm")
    with pytest.raises(ConnectorNotFound):
        connectors.store.get(tenant_id, "crm")
    with pytest.raises(ClientError):
        secretsmanager_client(settings.region).get_secret_value(SecretId=created.secret_id or "")
    # And the name can be used again at once
    connectors.store.create(tenant_id, basic_spec(), Credentials(username="svc", password=PASSWORD))


def test_connectors_of_other_tenants_are_invisible(connectors: ConnectorServices, tenant_id: str) -> None:
    connectors.store.create(tenant_id, basic_spec(), Credentials(username="svc", password=PASSWORD))
    other = tenant_id + "-other"
    assert connectors.store.list(other) == []
    with pytest.raises(ConnectorNotFound):
        connectors.store.get(other, "crm")
