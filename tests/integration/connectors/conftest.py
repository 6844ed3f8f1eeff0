"""Connector services on the embedded AWS, with a clock the tests move."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from eventrelay.aws import dynamodb_client
from eventrelay.connectors.wiring import ConnectorServices, build_connector_services
from eventrelay.outbound.client import OutboundClient
from eventrelay.outbound.ssrf import SsrfGuard
from eventrelay.settings import Settings
from tests.integration.connectors.oauth_server import AuthorizationServer
from tests.support.api import ControlledClock

CLIENT_ID = "eventrelay-client"


@pytest.fixture
def connector_clock() -> ControlledClock:
    return ControlledClock(time.time())


@pytest.fixture
def connectors(settings: Settings, connector_clock: ControlledClock) -> ConnectorServices:
    client = OutboundClient(SsrfGuard(settings.outbound_allow), deadline=3, clock=connector_clock)
    return build_connector_services(settings, clock=connector_clock, client=client)


@pytest.fixture
def client_secret() -> str:
    return "CANARY-CLIENT-SECRET-" + time.strftime("%H%M%S") + "-x/+=&"


@pytest.fixture
def oauth_server(client_secret: str) -> Iterator[AuthorizationServer]:
    with AuthorizationServer(clients={CLIENT_ID: client_secret}) as server:
        yield server


def tenant_items(settings: Settings, tenant_id: str) -> list[dict[str, Any]]:
    """Every config-table item of a tenant, plus every OAuth state item (raw DynamoDB JSON)."""
    client = dynamodb_client(settings.region)
    items: list[dict[str, Any]] = []
    for page in client.get_paginator("scan").paginate(TableName=settings.config_table):
        for item in page.get("Items", []):
            pk = item["pk"]["S"]
            if pk == f"TENANT#{tenant_id}" or pk.startswith("OAUTH_STATE#"):
                items.append(item)
    return items
