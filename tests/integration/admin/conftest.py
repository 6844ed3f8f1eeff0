"""Fixtures for the admin features (test action, CLI, apply) on the embedded AWS."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterator

import pytest

from eventrelay.actions import ActionStore
from eventrelay.admin import ActionTester, AdminService
from eventrelay.outbound.client import OutboundClient
from eventrelay.outbound.ssrf import SsrfGuard
from eventrelay.roots import AwsClients
from eventrelay.roots.connectors import ConnectorServices, build_connector_services
from eventrelay.roots.delivery import build_delivery_services
from eventrelay.settings import Settings
from tests.support.oauth import OAUTH_CLIENT_ID
from tests.support.oauth_server import AuthorizationServer
from tests.support.roots import admin_service


@pytest.fixture
def services(settings: Settings) -> ConnectorServices:
    client = OutboundClient(SsrfGuard(settings.outbound_allow), deadline=3)
    return build_connector_services(settings, AwsClients.for_settings(settings), client=client)


@pytest.fixture
def admin(settings: Settings, services: ConnectorServices) -> AdminService:
    return admin_service(settings, connectors=services)


@pytest.fixture
def actions(settings: Settings, services: ConnectorServices) -> ActionStore:
    return build_delivery_services(settings, AwsClients.for_settings(settings), connectors=services).actions


@pytest.fixture
def tester(admin: AdminService) -> ActionTester:
    return admin.actions.tester  # the outbound client's deadline (3 s) bounds its curl line too


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
