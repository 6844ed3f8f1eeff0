"""Applying a connector to a request: its base URL, its headers, its authentication headers."""

from __future__ import annotations

import base64
from collections.abc import Mapping

from eventrelay.connectors.models import AuthType, ConnectorSpec, Credentials
from eventrelay.outbound.request import OutboundRequest


def basic_authorization(username: str, password: str) -> str:
    """RFC 7617: `Basic base64(user ":" password)`, UTF-8."""
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode("ascii")


def bearer_authorization(access_token: str) -> str:
    return f"Bearer {access_token}"


def static_auth_headers(spec: ConnectorSpec, credentials: Credentials) -> dict[str, str]:
    """The auth headers of `none`, `basic` and `token` connectors (oauth2 needs a token first)."""
    if (
        spec.auth_type is AuthType.BASIC
        and credentials.username is not None
        and credentials.password is not None
    ):
        return {
            "Authorization": basic_authorization(
                credentials.username, credentials.password.get_secret_value()
            )
        }
    if spec.auth_type is AuthType.TOKEN:
        return {name: value.get_secret_value() for name, value in credentials.token_headers.items()}
    return {}


def merge_headers(*layers: Mapping[str, str]) -> dict[str, str]:
    """Later layers win, names compared case-insensitively (the later spelling is kept)."""
    merged: dict[str, tuple[str, str]] = {}
    for layer in layers:
        for name, value in layer.items():
            merged[name.lower()] = (name, value)
    return dict(merged.values())


def authenticated_request(
    spec: ConnectorSpec,
    request: OutboundRequest,
    auth_headers: Mapping[str, str],
) -> OutboundRequest:
    """The request as sent: connector headers, then the request's own, then authentication (which
    nothing else may override). Its URL is already resolved (`LoadedConnector.resolve_url`)."""
    return OutboundRequest(
        method=request.method,
        url=request.url,
        headers=merge_headers(spec.headers, request.headers, auth_headers),
        body=request.body,
    )
