"""Fixtures for the admin features (test action, CLI, apply) on the embedded AWS."""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from eventrelay.actions import ActionStore
from eventrelay.admin import EventsAdmin
from eventrelay.admin_actions import ActionTester
from eventrelay.aws import dynamodb_client
from eventrelay.connectors.wiring import ConnectorServices, build_connector_services
from eventrelay.outbound.client import OutboundClient
from eventrelay.outbound.ssrf import SsrfGuard
from eventrelay.settings import Settings
from tests.integration.connectors.oauth_server import AuthorizationServer

OAUTH_CLIENT_ID = "eventrelay-admin-client"


@pytest.fixture
def services(settings: Settings) -> ConnectorServices:
    client = OutboundClient(SsrfGuard(settings.outbound_allow), deadline=3)
    return build_connector_services(settings, client=client)


@pytest.fixture
def actions(settings: Settings) -> ActionStore:
    return ActionStore(settings.config_table, dynamodb_client(settings.region))


@pytest.fixture
def tester(actions: ActionStore, services: ConnectorServices) -> ActionTester:
    return ActionTester(actions, services.store, services.caller, max_time_seconds=3)


@pytest.fixture
def tenant(settings: Settings, tenant_id: str) -> str:
    EventsAdmin(settings).create_tenant(tenant_id, "Admin tests")
    return tenant_id


@pytest.fixture
def canaries() -> dict[str, str]:
    """One canary secret per credential kind the admin configures (tokens come from the server)."""
    suffix = secrets.token_hex(6)
    return {
        "basic password": f"CANARY-BASIC-PW-{suffix}-é/+=&",
        "token header value": f"CANARY-TOKEN-{suffix}",
        "oauth client secret": f"CANARY-CLIENT-SECRET-{suffix}-x/+=&",
    }


@pytest.fixture
def oauth_server(canaries: dict[str, str]) -> Iterator[AuthorizationServer]:
    with AuthorizationServer(clients={OAUTH_CLIENT_ID: canaries["oauth client secret"]}) as server:
        yield server


@pytest.fixture(autouse=True)
def _verbose_logs(caplog: pytest.LogCaptureFixture) -> None:
    # Our logs at their most verbose, and the HTTP stack's, so a leak there would be seen.
    caplog.set_level(logging.DEBUG, logger="eventrelay")
    caplog.set_level(logging.DEBUG, logger="urllib3")


def config_items(settings: Settings, tenant_id: str) -> list[dict[str, Any]]:
    """Every config-table item of the tenant (raw DynamoDB JSON), plus OAuth state items."""
    client = dynamodb_client(settings.region)
    items: list[dict[str, Any]] = []
    for page in client.get_paginator("scan").paginate(TableName=settings.config_table):
        for item in page.get("Items", []):
            pk = item["pk"]["S"]
            if pk == f"TENANT#{tenant_id}" or pk.startswith("OAUTH_STATE#"):
                items.append(item)
    return items


def assert_absent(secrets_: dict[str, str], places: dict[str, str]) -> None:
    """No secret in any place; names the leak.

    Besides the exact value, its leading run of letters, digits and dashes is looked for too: it
    survives percent- and JSON-encoding, so an encoded leak is caught as well.
    """
    assert all(secrets_.values()), "a canary is empty"
    for place, text in places.items():
        for kind, secret in secrets_.items():
            core = re.match(r"[A-Za-z0-9-]+", secret)
            assert secret not in text, f"the {kind} leaked into {place}"
            assert core is None or len(core.group()) < 12 or core.group() not in text, (
                f"the {kind} leaked (encoded) into {place}"
            )
