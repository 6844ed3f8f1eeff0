"""Connector services on the embedded AWS, with a clock the tests move."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from eventrelay.outbound.client import OutboundClient
from eventrelay.outbound.ssrf import SsrfGuard
from eventrelay.roots import AwsClients
from eventrelay.roots.connectors import ConnectorServices, build_connector_services
from eventrelay.settings import Settings
from tests.support.api import ControlledClock
from tests.support.oauth import CLIENT_ID
from tests.support.oauth_server import AuthorizationServer


@pytest.fixture
def connector_clock() -> ControlledClock:
    return ControlledClock(time.time())


@pytest.fixture
def connectors(settings: Settings, connector_clock: ControlledClock) -> ConnectorServices:
    client = OutboundClient(SsrfGuard(settings.outbound_allow), deadline=3, clock=connector_clock)
    return build_connector_services(
        settings, AwsClients.for_settings(settings), connector_clock, client=client
    )


@pytest.fixture
def client_secret() -> str:
    return "CANARY-CLIENT-SECRET-" + time.strftime("%H%M%S") + "-x/+=&"


@pytest.fixture
def oauth_server(client_secret: str) -> Iterator[AuthorizationServer]:
    with AuthorizationServer(clients={CLIENT_ID: client_secret}) as server:
        yield server
