"""Connector services (store, outbound client, caller, OAuth authorizer) and the OAuth callback root."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from eventrelay.clock import Clock, system_clock
from eventrelay.connectors.authorization import OAuthAuthorizer
from eventrelay.connectors.caller import ConnectorCaller
from eventrelay.connectors.store import ConnectorStore
from eventrelay.outbound.client import OutboundClient
from eventrelay.outbound.ssrf import Resolver, SsrfGuard
from eventrelay.roots import AwsClients
from eventrelay.settings import Settings, get_settings


@dataclass(frozen=True)
class ConnectorServices:
    store: ConnectorStore
    client: OutboundClient
    caller: ConnectorCaller
    authorizer: OAuthAuthorizer


def build_connector_services(
    settings: Settings,
    clients: AwsClients,
    clock: Clock = system_clock,
    *,
    resolver: Resolver | None = None,
    client: OutboundClient | None = None,
) -> ConnectorServices:
    store = ConnectorStore(
        settings.config_table, settings.secret_prefix, clients.dynamodb, clients.secretsmanager, clock
    )
    outbound = client or OutboundClient(SsrfGuard(settings.outbound_allow, resolver), clock=clock)
    caller = ConnectorCaller(
        store, outbound, clock=clock, credentials_cache_seconds=settings.secret_cache_seconds
    )
    authorizer = OAuthAuthorizer(store, caller.endpoint, caller.health, clock)
    return ConnectorServices(store=store, client=outbound, caller=caller, authorizer=authorizer)


@cache
def oauth_callback_root() -> ConnectorServices:
    """The OAuth callback function's services, built once per process."""
    settings = get_settings()
    return build_connector_services(settings, AwsClients.for_settings(settings))
