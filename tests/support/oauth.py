"""Connectors and browser steps shared by the OAuth tests."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import requests

from eventrelay.aws import secretsmanager_client
from eventrelay.connectors.http_api import build_callback_app
from eventrelay.connectors.models import (
    AuthType,
    ClientAuthMethod,
    Connector,
    ConnectorSpec,
    Credentials,
    OAuth2Grant,
    OAuth2Settings,
)
from eventrelay.roots.connectors import ConnectorServices
from eventrelay.settings import Settings
from tests.support.api import http_event
from tests.support.oauth_server import AuthorizationServer

CLIENT_ID = "eventrelay-client"
OAUTH_CLIENT_ID = "eventrelay-admin-client"

REDIRECT_URL = "https://events.example/oauth/callback"


def client_credentials_connector(
    services: ConnectorServices,
    tenant_id: str,
    server: AuthorizationServer,
    client_secret: str,
    client_auth: ClientAuthMethod = ClientAuthMethod.CLIENT_SECRET_BASIC,
) -> Connector:
    spec = ConnectorSpec(
        name="erp",
        base_url=server.resource_url("/api"),
        auth_type=AuthType.OAUTH2,
        oauth2=OAuth2Settings(
            grant=OAuth2Grant.CLIENT_CREDENTIALS,
            token_url=server.token_url,
            scope="orders.write orders.read",
            client_auth=client_auth,
        ),
    )
    return services.store.create(
        tenant_id, spec, Credentials(client_id=CLIENT_ID, client_secret=client_secret)
    )


def authorization_code_connector(
    services: ConnectorServices, tenant_id: str, server: AuthorizationServer, client_secret: str
) -> Connector:
    spec = ConnectorSpec(
        name="helpdesk",
        base_url=server.resource_url("/api"),
        auth_type=AuthType.OAUTH2,
        test_url="/me",
        oauth2=OAuth2Settings(
            grant=OAuth2Grant.AUTHORIZATION_CODE,
            token_url=server.token_url,
            authorization_url=server.authorize_url,
            redirect_url=REDIRECT_URL,
            scope="tickets",
            client_auth=ClientAuthMethod.CLIENT_SECRET_POST,
        ),
    )
    return services.store.create(
        tenant_id, spec, Credentials(client_id=CLIENT_ID, client_secret=client_secret)
    )


def consent(authorization_url: str) -> dict[str, str]:
    """What the admin's browser does: open the URL, get redirected back with code and state."""
    answer = requests.get(authorization_url, allow_redirects=False, timeout=5)
    assert answer.status_code == 302
    location = answer.headers["Location"]
    assert location.startswith(REDIRECT_URL + "?")
    return {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()}


def callback(services: ConnectorServices, query: dict[str, str]) -> tuple[int, str]:
    event = http_event("GET", "/oauth/callback", {}, None, query=query)
    response = build_callback_app(lambda: services).resolve(event, None)  # type: ignore[arg-type]
    return int(response["statusCode"]), str(response["body"])


def secret_of(settings: Settings, connector: Connector) -> dict[str, object]:
    client = secretsmanager_client(settings.region)
    value = client.get_secret_value(SecretId=connector.secret_id or "", VersionStage="AWSCURRENT")[
        "SecretString"
    ]
    document: dict[str, object] = json.loads(value)
    return document


def authorize(services: ConnectorServices, tenant_id: str) -> Connector:
    start = services.authorizer.start(tenant_id, "helpdesk")
    status, _ = callback(services, consent(start.url))
    assert status == 200
    return services.store.get(tenant_id, "helpdesk")
