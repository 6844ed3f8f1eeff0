"""Builds the connector services from settings, once per process."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from eventrelay.aws import dynamodb_client, secretsmanager_client
from eventrelay.clock import Clock, system_clock
from eventrelay.connectors.authorization import OAuthAuthorizer
from eventrelay.connectors.caller import ConnectorCaller
from eventrelay.connectors.store import ConnectorStore
from eventrelay.outbound.client import OutboundClient
from eventrelay.outbound.ssrf import Resolver, SsrfGuard
from eventrelay.settings import Settings, get_settings


@dataclass(frozen=True)
class ConnectorServices:
    store: ConnectorStore
    client: OutboundClient
    caller: ConnectorCaller
    authorizer: OAuthAuthorizer


def build_connector_services(
    settings: Settings,
    clock: Clock = system_clock,
    resolver: Resolver | None = None,
    client: OutboundClient | None = None,
) -> ConnectorServices:
    store = ConnectorStore(
        settings.config_table,
        settings.secret_prefix,
        dynamodb_client(settings.region),
        secretsmanager_client(settings.region),
        clock,
    )
    outbound = client or OutboundClient(SsrfGuard(settings.outbound_allow, resolver), clock=clock)
    caller = ConnectorCaller(
        store, outbound, clock=clock, credentials_cache_seconds=settings.secret_cache_seconds
    )
    authorizer = OAuthAuthorizer(store, caller.endpoint, caller.health, clock)
    return ConnectorServices(store=store, client=outbound, caller=caller, authorizer=authorizer)


@cache
def connector_services() -> ConnectorServices:
    return build_connector_services(get_settings())
