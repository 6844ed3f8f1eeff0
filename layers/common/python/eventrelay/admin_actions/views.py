"""What admins see of connectors and actions (the CLI prints these; `apply` compares with them).

A connector's view never holds a credential: only which credentials are configured (`set`),
the identifiers the connector model declares non-secret (basic username, OAuth client id) and,
for OAuth, whether a token is cached or an authorization (refresh token) is stored. For a
URL-based connector (auth type none) whose URL is secret, the view's `baseUrl`/`testUrl` are the
redacted forms and its credentials say the real URLs are `set`.
"""

from __future__ import annotations

from typing import Any

from eventrelay.actions import Action
from eventrelay.clock import iso_utc
from eventrelay.connectors.models import Connector, ConnectorSpec, Credentials

SET = "set"


def connector_view(connector: Connector, credentials: Credentials | None = None) -> dict[str, Any]:
    view: dict[str, Any] = {
        "tenantId": connector.tenant_id,
        "name": connector.name,
        "baseUrl": connector.base_url,
        "authType": connector.auth_type.value,
        "headers": dict(connector.headers),
        "description": connector.description,
        "testUrl": connector.test_url,
        "health": {
            "state": connector.health.state.value,
            "reason": connector.health.reason,
            "changedAt": connector.health.changed_at,
            "authFailures": connector.health.auth_failures,
        },
        "revision": connector.revision,
        "createdAt": connector.created_at,
        "updatedAt": connector.updated_at,
    }
    if connector.oauth2 is not None:
        view["oauth2"] = connector.oauth2.model_dump(mode="json", exclude_none=True)
    if credentials is not None:
        view["credentials"] = credentials_view(credentials)
    return view


def credentials_view(credentials: Credentials) -> dict[str, Any]:
    """Which credentials are configured, never their values."""
    view: dict[str, Any] = {}
    if credentials.username is not None:
        view["username"] = credentials.username
    if credentials.password is not None:
        view["password"] = SET
    if credentials.token_headers:
        view["tokenHeaders"] = dict.fromkeys(sorted(credentials.token_headers), SET)
    if credentials.client_id is not None:
        view["clientId"] = credentials.client_id
    if credentials.client_secret is not None:
        view["clientSecret"] = SET
    if credentials.access_token is not None and credentials.access_token_expires_at is not None:
        view["accessTokenExpiresAt"] = iso_utc(credentials.access_token_expires_at)
    if credentials.refresh_token is not None:
        view["refreshToken"] = "stored"
    # Auth type none: the real URLs are the credential (kept in Secrets Manager).
    if credentials.base_url is not None:
        view["baseUrl"] = SET
    if credentials.test_url is not None:
        view["testUrl"] = SET
    return view


def connector_spec(connector: Connector) -> ConnectorSpec:
    """The admin-controlled part of a stored connector."""
    return ConnectorSpec(**connector.model_dump(include=set(ConnectorSpec.model_fields)))


def spec_changes(current: ConnectorSpec, desired: ConnectorSpec) -> list[str]:
    """The camelCase names of the attributes that differ (no values: headers may be sensitive)."""
    before = current.model_dump(mode="json", by_alias=True)
    after = desired.model_dump(mode="json", by_alias=True)
    return [_camel(name) for name in after if before.get(name) != after[name]]


def action_view(action: Action) -> dict[str, Any]:
    return action.model_dump(mode="json", by_alias=True)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)
