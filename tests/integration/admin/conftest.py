"""Fixtures for the admin features (test action, CLI, apply) on the embedded AWS."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterator

import pytest

from eventrelay.actions import ActionStore
from eventrelay.admin import ActionTester
from eventrelay.aws import dynamodb_client
from eventrelay.outbound.client import OutboundClient
from eventrelay.outbound.ssrf import SsrfGuard
from eventrelay.roots import AwsClients
from eventrelay.roots.connectors import ConnectorServices, build_connector_services
from eventrelay.settings import Settings
from tests.support.oauth import OAUTH_CLIENT_ID
from tests.support.oauth_server import AuthorizationServer
from tests.support.roots import admin_service


@pytest.fixture
def services(settings: Settings) -> ConnectorServices:
    client = OutboundClient(SsrfGuard(settings.outbound_allow), deadline=3)
    return build_connector_services(settings, AwsClients.for_settings(settings), client=client)


@pytest.fixture
def actions(settings: Settings) -> ActionStore:
    return ActionStore(settings.config_table, dynamodb_client(settings.region))


@pytest.fixture
def tester(actions: ActionStore, services: ConnectorServices) -> ActionTester:
    return ActionTester(actions, services.store, services.caller, max_time_seconds=3)


@pytest.fixture
def tenant(settings: Settings, tenant_id: str) -> str:
    admin_service(settings).tenants.create(tenant_id, "Admin tests")
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
