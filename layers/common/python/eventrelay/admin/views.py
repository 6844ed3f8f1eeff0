"""What admins see of the resources: typed views, credentials write-only.

A connector's view never holds a credential: only which credentials are configured (`set`),
the identifiers the connector model declares non-secret (basic username, OAuth client id) and,
for OAuth, whether a token is cached or an authorization (refresh token) is stored. For a
URL-based connector (auth type none) whose URL is secret, the view's `baseUrl`/`testUrl` are the
redacted forms and its credentials say the real URLs are `set`. `to_dict()` is the JSON shape
every surface shows (camelCase keys).

The one view that carries a secret on purpose is `TenantWithSecret`: a tenant's shared secret,
shown once when it is created or rotated.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from eventrelay.actions import Action
from eventrelay.clock import iso_utc
from eventrelay.connectors.models import (
    Connector,
    ConnectorHealth,
    ConnectorSpec,
    Credentials,
    OAuth2Settings,
    RateLimit,
)
from eventrelay.delivery.models import Attempt, Delivery
from eventrelay.tenants import Tenant

SET = "set"
PlanResult = Literal["created", "updated", "unchanged"]


@dataclass(frozen=True)
class TenantWithSecret:
    """A tenant just created or rotated, with the secret to show the operator once."""

    tenant: Tenant
    shared_secret: str = field(repr=False)
    previous_valid_until: float | None = None


@dataclass(frozen=True)
class CredentialsView:
    """Which credentials are configured, never their values."""

    username: str | None = None
    password_set: bool = False
    token_headers: tuple[str, ...] = ()
    client_id: str | None = None
    client_secret_set: bool = False
    access_token_expires_at: float | None = None
    refresh_token_stored: bool = False
    base_url_set: bool = False
    test_url_set: bool = False

    @classmethod
    def of(cls, credentials: Credentials) -> CredentialsView:
        has_token = credentials.access_token is not None
        return cls(
            username=credentials.username,
            password_set=credentials.password is not None,
            token_headers=tuple(sorted(credentials.token_headers)),
            client_id=credentials.client_id,
            client_secret_set=credentials.client_secret is not None,
            access_token_expires_at=credentials.access_token_expires_at if has_token else None,
            refresh_token_stored=credentials.refresh_token is not None,
            base_url_set=credentials.base_url is not None,
            test_url_set=credentials.test_url is not None,
        )

    def to_dict(self) -> dict[str, Any]:
        view: dict[str, Any] = {}
        if self.username is not None:
            view["username"] = self.username
        if self.password_set:
            view["password"] = SET
        if self.token_headers:
            view["tokenHeaders"] = dict.fromkeys(self.token_headers, SET)
        if self.client_id is not None:
            view["clientId"] = self.client_id
        if self.client_secret_set:
            view["clientSecret"] = SET
        if self.access_token_expires_at is not None:
            view["accessTokenExpiresAt"] = iso_utc(self.access_token_expires_at)
        if self.refresh_token_stored:
            view["refreshToken"] = "stored"
        # Auth type none: the real URLs are the credential (kept in Secrets Manager).
        if self.base_url_set:
            view["baseUrl"] = SET
        if self.test_url_set:
            view["testUrl"] = SET
        return view


@dataclass(frozen=True)
class ConnectorView:
    """A connector as admins see it (copied out of the stored item: no secret URL rides along)."""

    tenant_id: str
    name: str
    base_url: str
    auth_type: str
    headers: dict[str, str]
    description: str
    test_url: str
    health: ConnectorHealth
    revision: int
    created_at: str
    updated_at: str
    oauth2: OAuth2Settings | None = None
    rate_limit: RateLimit | None = None
    credentials: CredentialsView | None = None
    # Set by update: whether it changed anything.
    changed: bool | None = None

    @classmethod
    def of(
        cls, connector: Connector, credentials: Credentials | None = None, changed: bool | None = None
    ) -> ConnectorView:
        return cls(
            tenant_id=connector.tenant_id,
            name=connector.name,
            base_url=connector.base_url,
            auth_type=connector.auth_type.value,
            headers=dict(connector.headers),
            description=connector.description,
            test_url=connector.test_url,
            health=connector.health,
            revision=connector.revision,
            created_at=connector.created_at,
            updated_at=connector.updated_at,
            oauth2=connector.oauth2,
            rate_limit=connector.rate_limit,
            credentials=CredentialsView.of(credentials) if credentials is not None else None,
            changed=changed,
        )

    def to_dict(self) -> dict[str, Any]:
        view: dict[str, Any] = {
            "tenantId": self.tenant_id,
            "name": self.name,
            "baseUrl": self.base_url,
            "authType": self.auth_type,
            "headers": dict(self.headers),
            "description": self.description,
            "testUrl": self.test_url,
            "health": {
                "state": self.health.state.value,
                "reason": self.health.reason,
                "changedAt": self.health.changed_at,
                "authFailures": self.health.auth_failures,
            },
            "revision": self.revision,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
            # null: calls through the connector are not paced
            "rateLimit": self.rate_limit.to_view() if self.rate_limit is not None else None,
        }
        if self.oauth2 is not None:
            settings = self.oauth2.model_dump(mode="json", exclude_none=True)
            view["oauth2"] = dict(zip(camel_names(settings), settings.values(), strict=True))
        if self.credentials is not None:
            view["credentials"] = self.credentials.to_dict()
        if self.changed is not None:
            view["changed"] = self.changed
        return view


@dataclass(frozen=True)
class DeliveryDetail:
    """One delivery with every attempt."""

    delivery: Delivery
    attempts: list[Attempt]

    def to_dict(self) -> dict[str, Any]:
        """The delivery's view, its `attempts` as the list of attempts and `attemptCount` as the count
        (which a list view calls `attempts`)."""
        view = {
            **self.delivery.to_view(),
            "attemptCount": self.delivery.attempts,
            "attempts": [attempt.to_view() for attempt in self.attempts],
        }
        if self.delivery.envelope is not None:
            view["receivedAt"] = self.delivery.envelope.receivedAt
        return view


@dataclass(frozen=True)
class DeliveryPage:
    """A page of deliveries, newest first; `next_cursor` continues the listing (None: the end)."""

    deliveries: list[Delivery]
    next_cursor: str | None = None


@dataclass(frozen=True)
class PlannedChange:
    """What writing an item would do: create, update (which attributes, names only) or nothing."""

    result: PlanResult
    changed: tuple[str, ...] = ()
    note: str | None = None


def connector_view(connector: Connector, credentials: Credentials | None = None) -> dict[str, Any]:
    return ConnectorView.of(connector, credentials).to_dict()


def credentials_view(credentials: Credentials) -> dict[str, Any]:
    """Which credentials are configured, never their values."""
    return CredentialsView.of(credentials).to_dict()


def connector_spec(connector: ConnectorSpec) -> ConnectorSpec:
    """The admin-controlled part of a stored connector."""
    return ConnectorSpec(**connector.model_dump(include=set(ConnectorSpec.model_fields)))


def spec_changes(current: ConnectorSpec, desired: ConnectorSpec) -> list[str]:
    """The camelCase names of the attributes that differ (no values: headers may be sensitive)."""
    before = current.model_dump(mode="json", by_alias=True)
    after = desired.model_dump(mode="json", by_alias=True)
    return [_camel(name) for name in after if before.get(name) != after[name]]


def action_view(action: Action) -> dict[str, Any]:
    return action.model_dump(mode="json", by_alias=True)


def camel_names(names: Iterable[str]) -> list[str]:
    """Python attribute names as the views spell them (`sync_per_minute` → `syncPerMinute`)."""
    return [_camel(name) for name in names]


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)
