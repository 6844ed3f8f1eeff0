"""Performing a request through a connector: authenticate, send, refresh once on 401, record health.

`ConnectorCaller.call` is what the action runner and "test action" use; `test_connection` is the
admin's "test connection". Every outcome returned has the connector's secrets redacted.

A call loads the connector's secrets once (`LoadedConnector`, cached per connector revision):
for a URL-based connector (auth type `none`) these are its real URLs, checked against the
fingerprints its configuration shows. A relative request URL is joined to the real base URL; what
the call reports (outcomes, previews, test-connection URLs) passes through the redactor, which
shows the real URL as its redacted form. A redacted form is never turned back into a URL.
"""

from __future__ import annotations

import hmac
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from eventrelay.clock import Clock, system_clock
from eventrelay.connectors import urls
from eventrelay.connectors.auth import authenticated_request, bearer_authorization, static_auth_headers
from eventrelay.connectors.errors import ConnectorError
from eventrelay.connectors.health import DEFAULT_AUTH_FAILURE_LIMIT, HealthRecorder
from eventrelay.connectors.models import (
    AuthType,
    Connector,
    Credentials,
    HealthState,
    LoadedConnector,
    OAuth2Grant,
)
from eventrelay.connectors.oauth2 import (
    InvalidTokenResponse,
    TokenEndpoint,
    TokenEndpointUnavailable,
    TokenGrant,
    TokenRequestRefused,
)
from eventrelay.connectors.redaction import REDACTED, Redactor, scrub_http_library_logs
from eventrelay.connectors.store import ConnectorStore
from eventrelay.errors import DependencyFailure
from eventrelay.observability import logger
from eventrelay.outbound.client import OutboundClient
from eventrelay.outbound.outcome import DEFAULT_BODY_PREVIEW_CHARS, Outcome, OutcomeKind
from eventrelay.outbound.request import OutboundRequest, UrlNotJoinable

# Access tokens are renewed this long before they expire.
DEFAULT_REFRESH_MARGIN_SECONDS = 60.0
_T = TypeVar("_T")


class NotYetAuthorized(Exception):
    """An authorization-code connector has no refresh token: an admin must authorize it first."""


class _UrlUnavailable(Exception):
    """The request's URL cannot be sent; `message` is safe to show (it names no URL)."""

    def __init__(self, kind: OutcomeKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


class _StaleUrl(Exception):
    """The real URL loaded is not the one the connector's configuration names (being changed?)."""


@dataclass
class _Cached:
    revision: int
    value: Any = field(repr=False)
    at: float


class _PerConnector:
    """Small per-process cache keyed by connector, invalidated by a new connector revision."""

    def __init__(self) -> None:
        self._entries: dict[tuple[str, str], _Cached] = {}
        self._locks: dict[tuple[str, str], threading.Lock] = {}
        self._guard = threading.Lock()

    def get(self, connector: Connector) -> _Cached | None:
        entry = self._entries.get((connector.tenant_id, connector.name))
        return entry if entry is not None and entry.revision == connector.revision else None

    def put(self, connector: Connector, value: Any, at: float) -> None:
        self._entries[(connector.tenant_id, connector.name)] = _Cached(connector.revision, value, at)

    def drop(self, connector: Connector) -> None:
        self._entries.pop((connector.tenant_id, connector.name), None)

    def lock(self, connector: Connector) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault((connector.tenant_id, connector.name), threading.Lock())


def _same_secret(left: str, right: str) -> bool:
    return hmac.compare_digest(left.encode("utf-8"), right.encode("utf-8"))


class AccessTokens:
    """OAuth 2.0 access tokens per connector: cached in process and in the secret, renewed early."""

    def __init__(
        self,
        store: ConnectorStore,
        endpoint: TokenEndpoint,
        clock: Clock = system_clock,
        refresh_margin_seconds: float = DEFAULT_REFRESH_MARGIN_SECONDS,
    ) -> None:
        self._store = store
        self._endpoint = endpoint
        self._clock = clock
        self._margin = refresh_margin_seconds
        self._cache = _PerConnector()

    def token_for(self, connector: Connector, credentials: Credentials) -> tuple[str, Credentials]:
        """A token valid for at least the refresh margin, and the credentials as they now are."""
        now = self._clock()
        cached = self._cache.get(connector)
        if cached is not None and cached.value[1] - self._margin > now:
            return str(cached.value[0]), credentials
        with self._cache.lock(connector):
            cached = self._cache.get(connector)
            if cached is not None and cached.value[1] - self._margin > now:
                return str(cached.value[0]), credentials
            stored = self._stored_token(connector, credentials, now)
            if stored is not None:
                return stored, credentials
            if connector.uses_authorization_code and credentials.refresh_token is None:
                # Authorized since these credentials were read (the callback runs elsewhere)?
                credentials = self._store.load_credentials(connector)
                stored = self._stored_token(connector, credentials, now)
                if stored is not None:
                    return stored, credentials
            return self._obtain(connector, credentials)

    def _stored_token(self, connector: Connector, credentials: Credentials, now: float) -> str | None:
        """The access token kept in the secret (by this or another instance), if still fresh."""
        token, expires_at = credentials.access_token, credentials.access_token_expires_at
        if token is None or expires_at is None or expires_at - self._margin <= now:
            return None
        self._cache.put(connector, (token.get_secret_value(), expires_at), now)
        return token.get_secret_value()

    def renew(self, connector: Connector, credentials: Credentials, rejected: str) -> tuple[str, Credentials]:
        """After a 401: a new token, unless another thread already replaced the rejected one."""
        with self._cache.lock(connector):
            cached = self._cache.get(connector)
            if cached is not None and not _same_secret(str(cached.value[0]), rejected):
                return str(cached.value[0]), credentials
            self._cache.drop(connector)
            return self._obtain(connector, credentials)

    def cached_token(self, connector: Connector) -> str | None:
        cached = self._cache.get(connector)
        return str(cached.value[0]) if cached is not None else None

    def forget(self, connector: Connector) -> None:
        self._cache.drop(connector)

    def _obtain(self, connector: Connector, credentials: Credentials) -> tuple[str, Credentials]:
        settings = connector.oauth2
        if settings is None:
            raise ValueError("not an oauth2 connector")
        grant: TokenGrant
        if settings.grant is OAuth2Grant.CLIENT_CREDENTIALS:
            grant = self._endpoint.client_credentials(settings, credentials)
            updated = credentials.with_tokens(grant.access_token, grant.expires_at, None)
        else:
            grant, credentials = self._refresh(connector, credentials)
            # A provider that rotates refresh tokens returns a new one; the old one is then dead.
            updated = credentials.with_tokens(grant.access_token, grant.expires_at, grant.refresh_token)
        try:
            self._store.save_credentials(connector, updated)
        except DependencyFailure:
            # The token still works for this process; a later renewal saves again.
            logger.error(
                "could not save renewed tokens",
                extra={"tenant_id": connector.tenant_id, "connector": connector.name},
            )
        self._cache.put(connector, (grant.access_token, grant.expires_at), self._clock())
        return grant.access_token, updated

    def _refresh(self, connector: Connector, credentials: Credentials) -> tuple[TokenGrant, Credentials]:
        settings = connector.oauth2
        assert settings is not None
        if credentials.refresh_token is None:
            raise NotYetAuthorized
        try:
            return self._endpoint.refresh(
                settings, credentials, credentials.refresh_token.get_secret_value()
            ), credentials
        except TokenRequestRefused as refused:
            if refused.error_code != "invalid_grant":
                raise
            # Another instance may have rotated the refresh token since we read it: try the stored one.
            latest = self._store.load_credentials(connector)
            if latest.refresh_token is None or _same_secret(
                latest.refresh_token.get_secret_value(), credentials.refresh_token.get_secret_value()
            ):
                raise
            return self._endpoint.refresh(settings, latest, latest.refresh_token.get_secret_value()), latest


@dataclass(frozen=True)
class ConnectionTest:
    """The answer to "test connection" (secrets redacted)."""

    url: str
    outcome: Outcome
    health: HealthState

    @property
    def ok(self) -> bool:
        return self.outcome.ok

    def to_dict(self, body_limit: int = DEFAULT_BODY_PREVIEW_CHARS) -> dict[str, Any]:
        return {
            "url": self.url,
            "ok": self.ok,
            "health": self.health.value,
            **self.outcome.to_dict(body_limit),
        }


class ConnectorCaller:
    def __init__(
        self,
        store: ConnectorStore,
        client: OutboundClient,
        *,
        clock: Clock = system_clock,
        credentials_cache_seconds: float = 60,
        refresh_margin_seconds: float = DEFAULT_REFRESH_MARGIN_SECONDS,
        auth_failure_limit: int = DEFAULT_AUTH_FAILURE_LIMIT,
    ) -> None:
        self._store = store
        self._client = client
        self._clock = clock
        self._credentials_ttl = credentials_cache_seconds
        self._credentials = _PerConnector()
        self.endpoint = TokenEndpoint(client, clock)
        self.tokens = AccessTokens(store, self.endpoint, clock, refresh_margin_seconds)
        self.health = HealthRecorder(store, clock, auth_failure_limit)

    def call(
        self, connector: Connector, request: OutboundRequest, idempotency_key: str | None = None
    ) -> Outcome:
        """Authenticate `request` with the connector and perform it; the outcome has secrets redacted.

        A relative request URL is joined to the connector's (real) base URL. A 401 on an OAuth
        connector renews the access token and retries once. A DEAUTHORIZED connector is not called.
        """
        if connector.health.state is HealthState.DEAUTHORIZED:
            reason = connector.health.reason or "an admin must fix its credentials"
            return Outcome(OutcomeKind.PERMANENT, error=f"connector is deauthorized: {reason}")
        outcome, _url = self._call(
            connector, lambda loaded: replace(request, url=loaded.resolve_url(request.url)), idempotency_key
        )
        return outcome

    def test_connection(self, connector: Connector) -> ConnectionTest:
        """GET the connector's test URL (or base URL) with its auth, even when it is deauthorized."""
        outcome, url = self._call(
            connector, lambda loaded: OutboundRequest("GET", loaded.resolve_url(loaded.test_url)), None
        )
        health = self._best_effort(lambda: self._store.get(connector.tenant_id, connector.name).health.state)
        return ConnectionTest(
            url=url if url is not None else _configured_test_url(connector),
            outcome=outcome,
            health=health or connector.health.state,
        )

    def redactor_for(self, connector: Connector) -> Redactor:
        """A redactor knowing the connector's credentials and the tokens this process holds for it."""
        credentials = self._load_credentials(connector)
        cached = self.tokens.cached_token(connector)
        return Redactor.for_credentials(credentials, [cached] if cached else [])

    def preview(self, connector: Connector, request: OutboundRequest) -> OutboundRequest:
        """The request as `call` would send it, with every credential shown as [REDACTED].

        Nothing is sent and no token is requested ("test action" shows this, and a curl command).
        """
        loaded = LoadedConnector(connector, self._load_credentials(connector))
        if connector.auth_type is AuthType.OAUTH2:
            auth = {"Authorization": bearer_authorization(REDACTED)}
        else:
            auth = dict.fromkeys(static_auth_headers(connector, loaded.credentials), REDACTED)
        try:
            url = loaded.resolve_url(request.url)
        except UrlNotJoinable:
            url = request.url  # cannot be sent (the call says why): shown as the action gives it
        shown = authenticated_request(connector, replace(request, url=url), auth)
        return self.redactor_for(connector).request(shown)

    def _call(
        self,
        connector: Connector,
        build: Callable[[LoadedConnector], OutboundRequest],
        idempotency_key: str | None,
    ) -> tuple[Outcome, str | None]:
        """Load the connector, build the request on it, perform it; the outcome and the URL sent,
        both redacted (no URL when nothing was sent)."""
        used_tokens: list[str] = []
        credentials: Credentials | None = None
        sent_url: str | None = None
        try:
            loaded = self._load(connector)
            credentials = loaded.credentials
            live = self._sendable(build, loaded)
            sent_url = live.url
            outcome, credentials = self._attempt(connector, live, idempotency_key, credentials, used_tokens)
        except _StaleUrl:
            outcome = Outcome(
                OutcomeKind.RETRYABLE,
                error="the connector's stored URL does not match its configuration yet (being updated?)",
            )
        except _UrlUnavailable as unavailable:
            outcome = Outcome(unavailable.kind, error=unavailable.message)
        except TokenEndpointUnavailable as unavailable:
            outcome = Outcome(
                OutcomeKind.RETRYABLE,
                error=f"could not obtain an access token: {unavailable.detail}",
                retry_after_seconds=unavailable.retry_after_seconds,
            )
        except TokenRequestRefused as refused:
            reason = _refusal_reason(refused)
            self._best_effort(lambda: self.health.deauthorize(connector, reason))
            outcome = Outcome(OutcomeKind.PERMANENT, error=f"connector deauthorized: {reason}")
        except NotYetAuthorized:
            outcome = Outcome(
                OutcomeKind.PERMANENT,
                error="connector is not authorized yet: run `eventrelay connector authorize`",
            )
        except DependencyFailure as failure:
            outcome = Outcome(OutcomeKind.RETRYABLE, error=f"dependency unavailable ({failure})")
        redactor = Redactor.for_credentials(credentials, used_tokens)
        return redactor.outcome(outcome), redactor.text(sent_url) if sent_url is not None else None

    def _load(self, connector: Connector) -> LoadedConnector:
        """The connector with its secrets; a URL-based one's real URLs checked against its configuration."""
        loaded = LoadedConnector(connector, self._load_credentials(connector))
        try:
            _check_secret_urls(loaded)
        except _StaleUrl:
            # Cached from before an update of the URL? Read the secret again, once.
            self._credentials.drop(connector)
            loaded = LoadedConnector(connector, self._load_credentials(connector))
            _check_secret_urls(loaded)
        return loaded

    @staticmethod
    def _sendable(
        build: Callable[[LoadedConnector], OutboundRequest], loaded: LoadedConnector
    ) -> OutboundRequest:
        try:
            request = build(loaded)
        except UrlNotJoinable:
            raise _UrlUnavailable(
                OutcomeKind.PERMANENT,
                "the connector's URL has a query or fragment: an action must use it as it is "
                "(an empty relative URL)",
            ) from None
        if urls.REDACTED_IN_URL.search(request.url):
            # Never send a placeholder: it is not a URL anyone meant (a redacted form pasted somewhere).
            raise _UrlUnavailable(
                OutcomeKind.PERMANENT,
                "the request URL holds a redacted connector URL ([REDACTED:…]): give the real URL, "
                "or a URL relative to the connector",
            )
        return request

    def _attempt(
        self,
        connector: Connector,
        request: OutboundRequest,
        idempotency_key: str | None,
        credentials: Credentials,
        used_tokens: list[str],
    ) -> tuple[Outcome, Credentials]:
        if connector.auth_type is AuthType.OAUTH2:
            token, credentials = self.tokens.token_for(connector, credentials)
            self._remember(connector, credentials)
            used_tokens.append(token)
            auth = {"Authorization": bearer_authorization(token)}
        else:
            auth = static_auth_headers(connector, credentials)
        outcome = self._client.send(authenticated_request(connector, request, auth), idempotency_key)
        if outcome.status == 401 and connector.auth_type is AuthType.OAUTH2:
            token, credentials = self.tokens.renew(connector, credentials, used_tokens[-1])
            self._remember(connector, credentials)
            used_tokens.append(token)
            auth = {"Authorization": bearer_authorization(token)}
            outcome = self._client.send(authenticated_request(connector, request, auth), idempotency_key)
        if outcome.status == 401:
            self._best_effort(lambda: self.health.auth_failed(connector))
        elif outcome.ok:
            self._best_effort(lambda: self.health.succeeded(connector))
        return outcome, credentials

    def _load_credentials(self, connector: Connector) -> Credentials:
        now = self._clock()
        cached = self._credentials.get(connector)
        if cached is not None and now - cached.at < self._credentials_ttl:
            return cached.value  # type: ignore[no-any-return]
        credentials = self._store.load_credentials(connector)
        for url in (credentials.base_url, credentials.test_url):
            if url is not None:
                # urllib3 logs request lines (path and query) at DEBUG: keep this URL's secret out.
                scrub_http_library_logs(urls.secret_values(url.get_secret_value()))
        self._credentials.put(connector, credentials, now)
        return credentials

    def _remember(self, connector: Connector, credentials: Credentials) -> None:
        cached = self._credentials.get(connector)
        if cached is None or cached.value is not credentials:
            self._credentials.put(connector, credentials, cached.at if cached else self._clock())

    @staticmethod
    def _best_effort(action: Callable[[], _T]) -> _T | None:
        """Health bookkeeping must not turn a call that happened into a failure."""
        try:
            return action()
        except (DependencyFailure, ConnectorError) as exc:
            logger.warning("connector bookkeeping failed", extra={"error_type": type(exc).__name__})
            return None


def _check_secret_urls(loaded: LoadedConnector) -> None:
    """Each URL the configuration shows redacted has its real URL, and the one it names."""
    connector, credentials = loaded.connector, loaded.credentials
    for shown, real in (
        (connector.base_url, credentials.base_url),
        (connector.test_url, credentials.test_url),
    ):
        if not urls.is_redacted(shown):
            continue
        if real is None:
            raise _UrlUnavailable(
                OutcomeKind.PERMANENT,
                "the connector's URL is missing from Secrets Manager: update the connector with its full URL",
            )
        if urls.redacted_url(real.get_secret_value()) != shown:
            raise _StaleUrl


def _refusal_reason(refused: TokenRequestRefused) -> str:
    """Why a connector is deauthorized after its token request failed for good (no values)."""
    if isinstance(refused, InvalidTokenResponse):
        return f"the token endpoint's answer is unusable: {refused.reason}"
    if refused.error_code == "token_url_refused":
        return "the outbound SSRF guard refuses the token URL"
    return f"the token endpoint refused the grant ({refused.error_code})"


def _configured_test_url(connector: Connector) -> str:
    """The test URL as the configuration shows it (for a test that sent nothing)."""
    try:
        return connector.resolve_url(connector.test_url)
    except UrlNotJoinable:
        return connector.test_url
