"""The OAuth 2.0 authorization-code flow (RFC 6749 4.1) as an admin lives it.

1. `start(tenant, connector)` returns the provider URL the admin opens; it carries a random
   `state`, kept server-side (hashed, with a TTL) so the callback can be tied to this request.
2. The provider redirects the browser to `GET /oauth/callback?code=…&state=…`; `complete(...)`
   consumes the state (once), exchanges the code and stores the tokens in the connector's secret.
   A token answer that cannot be used (`oauth2.InvalidTokenResponse`: not a bounded JSON object,
   a token with control characters or absurdly long) stores nothing and deauthorizes the
   connector with the reason.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from eventrelay.clock import Clock, system_clock
from eventrelay.connectors.errors import AuthorizationError, AuthorizationStateInvalid, NotAuthorizationCode
from eventrelay.connectors.health import HealthRecorder
from eventrelay.connectors.models import Connector
from eventrelay.connectors.oauth2 import (
    InvalidTokenResponse,
    TokenEndpoint,
    TokenEndpointUnavailable,
    TokenRequestRefused,
    authorization_url,
)
from eventrelay.connectors.store import ConnectorStore
from eventrelay.observability import logger

DEFAULT_STATE_TTL_SECONDS = 600
_ERROR_CODE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


@dataclass(frozen=True)
class AuthorizationStart:
    url: str
    expires_at: float


class OAuthAuthorizer:
    def __init__(
        self,
        store: ConnectorStore,
        endpoint: TokenEndpoint,
        health: HealthRecorder,
        clock: Clock = system_clock,
        state_ttl_seconds: float = DEFAULT_STATE_TTL_SECONDS,
    ) -> None:
        self._store = store
        self._endpoint = endpoint
        self._health = health
        self._clock = clock
        self._ttl = state_ttl_seconds

    def start(self, tenant_id: str, name: str) -> AuthorizationStart:
        connector = self._store.get(tenant_id, name)
        if not connector.uses_authorization_code or connector.oauth2 is None:
            raise NotAuthorizationCode(name)
        credentials = self._store.load_credentials(connector)
        state = secrets.token_urlsafe(32)
        expires_at = self._clock() + self._ttl
        self._store.put_authorization_state(state, tenant_id, name, expires_at)
        return AuthorizationStart(
            authorization_url(connector.oauth2, credentials.client_id or "", state), expires_at
        )

    def complete(self, state: str | None, code: str | None, error: str | None = None) -> Connector:
        """Finish an authorization from the callback's query parameters; raises AuthorizationError."""
        if not state:
            raise AuthorizationStateInvalid
        pending = self._store.take_authorization_state(state)
        if pending is None or pending.expires_at <= self._clock():
            raise AuthorizationStateInvalid
        if error:
            shown = error if _ERROR_CODE.match(error) else "error"
            raise AuthorizationError(f"the provider did not grant access ({shown})")
        if not code:
            raise AuthorizationError("the provider's answer has no authorization code")
        connector = self._store.get(pending.tenant_id, pending.connector_name)
        if connector.oauth2 is None or not connector.uses_authorization_code:
            raise NotAuthorizationCode(connector.name)
        credentials = self._store.load_credentials(connector)
        try:
            grant = self._endpoint.authorization_code(connector.oauth2, credentials, code)
        except InvalidTokenResponse as invalid:
            # Nothing from the answer is stored; the connector says why it cannot be used.
            reason = f"the token endpoint's answer is unusable: {invalid.reason}"
            self._health.deauthorize(connector, reason)
            raise AuthorizationError(reason) from None
        except TokenRequestRefused as refused:
            raise AuthorizationError(f"the token endpoint refused the code ({refused.error_code})") from None
        except TokenEndpointUnavailable:
            raise AuthorizationError("the token endpoint is unavailable; start again later") from None
        self._store.save_credentials(
            connector, credentials.with_tokens(grant.access_token, grant.expires_at, grant.refresh_token)
        )
        health = self._health.authorized(connector)
        logger.info(
            "connector authorized",
            extra={
                "tenant_id": connector.tenant_id,
                "connector": connector.name,
                "has_refresh_token": grant.refresh_token is not None,
            },
        )
        return connector.model_copy(update={"health": health})
