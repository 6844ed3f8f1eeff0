"""OAuth 2.0 client side (RFC 6749): the token endpoint and the authorization URL.

Token requests go through the same OutboundClient as every other call (SSRF guard, timeouts,
caps). Errors carry the RFC error code only: a provider's error_description may echo what it
was sent, so it is never kept.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, quote_plus, urlencode, urlsplit, urlunsplit

from eventrelay.clock import Clock, system_clock
from eventrelay.connectors.models import ClientAuthMethod, Credentials, OAuth2Settings
from eventrelay.outbound.client import OutboundClient
from eventrelay.outbound.outcome import OutcomeKind
from eventrelay.outbound.request import OutboundRequest

# Used when a token response has no expires_in (RFC 6749 5.1 makes it optional).
DEFAULT_TOKEN_LIFETIME_SECONDS = 3600
# RFC 6749 5.2: error codes are printable ASCII without '"' and '\'.
_ERROR_CODE = re.compile(r"^[\x20\x21\x23-\x5b\x5d-\x7e]{1,64}$")


class TokenEndpointUnavailable(Exception):
    """The token endpoint could not answer now (connection error, timeout, 5xx, 429): retry later."""

    def __init__(self, detail: str, retry_after_seconds: float | None = None) -> None:
        super().__init__(f"token endpoint unavailable ({detail})")
        self.detail = detail
        self.retry_after_seconds = retry_after_seconds


class TokenRequestRefused(Exception):
    """The token endpoint refused the grant (e.g. invalid_grant, invalid_client): an admin must act."""

    def __init__(self, error_code: str, status: int | None) -> None:
        super().__init__(f"token endpoint refused the request ({error_code})")
        self.error_code = error_code
        self.status = status


@dataclass(frozen=True)
class TokenGrant:
    access_token: str = field(repr=False)
    expires_at: float
    refresh_token: str | None = field(default=None, repr=False)
    scope: str | None = None


def client_basic_authorization(client_id: str, client_secret: str) -> str:
    """RFC 6749 2.3.1: both values form-urlencoded, then joined and base64-encoded."""
    joined = f"{quote_plus(client_id)}:{quote_plus(client_secret)}"
    return "Basic " + base64.b64encode(joined.encode()).decode("ascii")


def authorization_url(settings: OAuth2Settings, client_id: str, state: str) -> str:
    """The URL an admin opens to authorize (RFC 6749 4.1.1); the endpoint's own query is kept."""
    if settings.authorization_url is None or settings.redirect_url is None:
        raise ValueError("authorization_url and redirect_url are required")
    parts = urlsplit(settings.authorization_url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    query += [("response_type", "code"), ("client_id", client_id), ("redirect_uri", settings.redirect_url)]
    if settings.scope:
        query.append(("scope", settings.scope))
    query.append(("state", state))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))


class TokenEndpoint:
    def __init__(self, client: OutboundClient, clock: Clock = system_clock) -> None:
        self._client = client
        self._clock = clock

    def client_credentials(self, settings: OAuth2Settings, credentials: Credentials) -> TokenGrant:
        form = {"grant_type": "client_credentials"}
        if settings.scope:
            form["scope"] = settings.scope
        return self._request(settings, credentials, form)

    def authorization_code(self, settings: OAuth2Settings, credentials: Credentials, code: str) -> TokenGrant:
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": settings.redirect_url or ""}
        return self._request(settings, credentials, form)

    def refresh(self, settings: OAuth2Settings, credentials: Credentials, refresh_token: str) -> TokenGrant:
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        if settings.scope:
            form["scope"] = settings.scope
        return self._request(settings, credentials, form)

    def _request(
        self, settings: OAuth2Settings, credentials: Credentials, form: dict[str, str]
    ) -> TokenGrant:
        client_id = credentials.client_id or ""
        client_secret = credentials.client_secret.get_secret_value() if credentials.client_secret else ""
        headers = {"Accept": "application/json", "Content-Type": "application/x-www-form-urlencoded"}
        if settings.client_auth is ClientAuthMethod.CLIENT_SECRET_BASIC:
            headers["Authorization"] = client_basic_authorization(client_id, client_secret)
        else:
            form = {**form, "client_id": client_id, "client_secret": client_secret}
        requested_at = self._clock()
        outcome = self._client.send(
            OutboundRequest("POST", settings.token_url, headers, urlencode(form).encode("ascii"))
        )
        if outcome.kind is OutcomeKind.RETRYABLE:
            detail = (
                f"HTTP {outcome.status}" if outcome.status is not None else (outcome.error or "no answer")
            )
            raise TokenEndpointUnavailable(detail, outcome.retry_after_seconds)
        if outcome.status is None:
            # Refused before sending (SSRF guard, invalid URL): the configuration must change.
            raise TokenRequestRefused("token_url_refused", None)
        document = _json_object(outcome.body)
        if outcome.status != 200:
            code = document.get("error") if document else None
            error_code = (
                code if isinstance(code, str) and _ERROR_CODE.match(code) else f"http_{outcome.status}"
            )
            raise TokenRequestRefused(error_code, outcome.status)
        return _grant_from(document, requested_at)


def _json_object(body: bytes) -> dict[str, object] | None:
    try:
        document = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    return document if isinstance(document, dict) else None


def _lifetime(expires_in: object) -> float:
    """expires_in as seconds: a positive number, or digits (some providers send a string)."""
    if isinstance(expires_in, str) and expires_in.isdigit():
        expires_in = int(expires_in)
    if isinstance(expires_in, int | float) and not isinstance(expires_in, bool) and expires_in > 0:
        return float(expires_in)
    return float(DEFAULT_TOKEN_LIFETIME_SECONDS)


def _grant_from(document: dict[str, object] | None, requested_at: float) -> TokenGrant:
    """RFC 6749 5.1; a malformed answer is refused (code `invalid_token_response`)."""
    if document is None:
        raise TokenRequestRefused("invalid_token_response", 200)
    access_token = document.get("access_token")
    token_type = document.get("token_type", "Bearer")
    if not isinstance(access_token, str) or not access_token or not isinstance(token_type, str):
        raise TokenRequestRefused("invalid_token_response", 200)
    if token_type.lower() != "bearer":
        raise TokenRequestRefused("unsupported_token_type", 200)
    expires_in = document.get("expires_in")
    lifetime = _lifetime(expires_in)
    refresh_token = document.get("refresh_token")
    scope = document.get("scope")
    return TokenGrant(
        access_token=access_token,
        # Measured from when the request was sent, so network time never makes a token look fresher.
        expires_at=requested_at + lifetime,
        refresh_token=refresh_token if isinstance(refresh_token, str) and refresh_token else None,
        scope=scope if isinstance(scope, str) else None,
    )
