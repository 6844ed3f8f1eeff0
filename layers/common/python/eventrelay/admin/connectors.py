"""Connectors: create, update (which credentials change, how they merge), delete, test, authorize.

Credentials are write-only: they come in as `CredentialChanges` (or whole `Credentials` from
`apply`) and go out only as `CredentialsView` (which are set, never their values).
"""

from __future__ import annotations

import builtins
import hmac
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from pydantic import SecretStr, ValidationError

from eventrelay.actions import ActionStore
from eventrelay.admin.audit import Auditor, written_attributes
from eventrelay.admin.errors import ConnectorInUse, InvalidConnector
from eventrelay.admin.tenants import TenantAdmin
from eventrelay.admin.views import ConnectorView, PlannedChange, camel_names, connector_spec, spec_changes
from eventrelay.connectors.authorization import AuthorizationStart, OAuthAuthorizer
from eventrelay.connectors.caller import ConnectionTest, ConnectorCaller
from eventrelay.connectors.errors import ConnectorNotFound, InvalidConnectorCredentials, NotAuthorizationCode
from eventrelay.connectors.models import AuthType, Connector, ConnectorSpec, Credentials, OAuth2Grant
from eventrelay.connectors.store import ConnectorStore
from eventrelay.validation import validation_problems

# Which configured credentials each auth type takes.
_CREDENTIALS_OF: dict[AuthType, frozenset[str]] = {
    AuthType.NONE: frozenset(),
    AuthType.BASIC: frozenset({"username", "password"}),
    AuthType.TOKEN: frozenset({"token_headers"}),
    AuthType.OAUTH2: frozenset({"client_id", "client_secret"}),
}


@dataclass(frozen=True)
class CredentialChanges:
    """Credentials to set; what is not given stays as stored (token headers merge by name)."""

    username: str | None = None
    password: SecretStr | None = None
    token_headers: Mapping[str, SecretStr] = field(default_factory=dict)
    client_id: str | None = None
    client_secret: SecretStr | None = None

    def given(self) -> dict[str, Any]:
        values: dict[str, Any] = {
            "username": self.username,
            "password": self.password,
            "token_headers": dict(self.token_headers) or None,
            "client_id": self.client_id,
            "client_secret": self.client_secret,
        }
        return {name: value for name, value in values.items() if value is not None}


@dataclass(frozen=True)
class ConnectorChanges:
    """A connector's attributes to set; what is not given keeps its current value.

    `oauth2` holds the OAuth 2.0 settings to change (`grant`, `token_url`, `scope`, `client_auth`,
    `token_content_type`, `authorization_url`, `redirect_url`); they apply only with auth type oauth2.
    `rate_limit` holds the rate limit's values to change (`per_second`, `per_minute`; None removes
    that one); `remove_rate_limit` first removes the whole limit. A limit left with neither value
    is no limit: calls are not paced.
    """

    base_url: str | None = None
    auth_type: AuthType | None = None
    description: str | None = None
    test_url: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    remove_headers: Sequence[str] = ()
    oauth2: Mapping[str, Any] = field(default_factory=dict)
    rate_limit: Mapping[str, int | None] = field(default_factory=dict)
    remove_rate_limit: bool = False
    credentials: CredentialChanges = field(default_factory=CredentialChanges)


def connector_spec_from(
    name: str, changes: ConnectorChanges, current: ConnectorSpec | None = None
) -> ConnectorSpec:
    """The spec after `changes` (on `current`, or on nothing for a new connector)."""
    base: dict[str, Any] = connector_spec(current).model_dump() if current is not None else {}
    base["name"] = name
    for attribute, value in (
        ("base_url", changes.base_url),
        ("auth_type", changes.auth_type),
        ("description", changes.description),
        ("test_url", changes.test_url),
    ):
        if value is not None:
            base[attribute] = value
    removed = {header.lower() for header in changes.remove_headers}
    headers = {key: value for key, value in (base.get("headers") or {}).items() if key.lower() not in removed}
    headers.update(changes.headers)
    base["headers"] = headers
    auth_type = AuthType(base.get("auth_type", AuthType.NONE))
    if auth_type is AuthType.OAUTH2:
        oauth2: dict[str, Any] = dict(base.get("oauth2") or {})
        oauth2.update({key: value for key, value in changes.oauth2.items() if value is not None})
        oauth2.setdefault("grant", OAuth2Grant.CLIENT_CREDENTIALS)
        base["oauth2"] = oauth2
    elif any(value is not None for value in changes.oauth2.values()):
        raise InvalidConnector(["oauth2: OAuth 2.0 settings need auth type oauth2"])
    else:
        base["oauth2"] = None
    base["rate_limit"] = _rate_limit_after(base.get("rate_limit"), changes)
    if "base_url" not in base:
        raise InvalidConnector(["baseUrl: required"])
    try:
        return ConnectorSpec.model_validate(base)
    except ValidationError as exc:
        raise InvalidConnector(validation_problems(exc, root="connector")) from None


def _rate_limit_after(current: Mapping[str, Any] | None, changes: ConnectorChanges) -> dict[str, Any] | None:
    unknown = sorted(set(changes.rate_limit) - {"per_second", "per_minute"})
    if unknown:
        raise InvalidConnector([f"rateLimit.{name}: unknown" for name in camel_names(unknown)])
    limits: dict[str, Any] = {} if changes.remove_rate_limit or current is None else dict(current)
    limits.update(changes.rate_limit)
    return limits if any(value is not None for value in limits.values()) else None


def merged_credentials(
    auth_type: AuthType, stored: Credentials | None, changes: CredentialChanges
) -> Credentials | None:
    """The configured credentials after `changes`: the stored ones (same auth type) with the changes.

    None means "leave the stored credentials as they are" (nothing given for a connector that has
    them) or "none at all" (auth type none). Tokens obtained from a provider are not carried here:
    the store keeps them while the OAuth client stays the same.
    """
    given = changes.given()
    wrong = sorted(set(given) - _CREDENTIALS_OF[auth_type])
    if wrong:
        raise InvalidConnector(
            [f"credentials.{name}: does not apply to auth type {auth_type.value}" for name in wrong]
        )
    if auth_type is AuthType.NONE:
        return None
    if not given and stored is not None:
        return None
    base = stored.configured() if stored is not None else Credentials()
    if "token_headers" in given:
        given["token_headers"] = {**base.token_headers, **given["token_headers"]}
    try:
        return Credentials.model_validate({**base.model_dump(), **given})
    except ValidationError as exc:
        raise InvalidConnector(validation_problems(exc, root="credentials")) from None


def same_configured(stored: Credentials | None, desired: Credentials | None) -> bool:
    """Whether the admin-configured credentials are the same (tokens obtained later do not count)."""
    if stored is None or desired is None:
        return stored is None and desired is None
    return hmac.compare_digest(
        stored.configured().to_secret_json().encode("utf-8"),
        desired.configured().to_secret_json().encode("utf-8"),
    )


def _secret_urls_in_item(existing: Connector) -> list[str]:
    """The URLs (`baseUrl`, `testUrl`) an item written before URLs were secret holds in the clear.

    Reading such an item redacts its URLs in memory (`ConnectorSpec`), so they compare equal to
    the desired ones; only the missing URL secret (`url_secret_id`) tells that the item holds them.
    """
    held = existing.secret_urls()
    if existing.auth_type is not AuthType.NONE or existing.url_secret_id is not None or held is None:
        return []
    return [
        label for label, url in (("baseUrl", held.base_url), ("testUrl", held.test_url)) if url is not None
    ]


class ConnectorAdmin:
    def __init__(
        self,
        tenants: TenantAdmin,
        store: ConnectorStore,
        actions: ActionStore,
        caller: ConnectorCaller,
        authorizer: OAuthAuthorizer,
        auditor: Auditor,
    ) -> None:
        self._tenants = tenants
        self._store = store
        self._actions = actions
        self._caller = caller
        self._authorizer = authorizer
        self._auditor = auditor

    def create(
        self, tenant_id: str, spec: ConnectorSpec, credentials: CredentialChanges | None = None
    ) -> ConnectorView:
        """A new connector. ConnectorExists, TenantNotFound, InvalidConnector (missing credentials...)."""
        self._tenants.show(tenant_id)
        configured = merged_credentials(spec.auth_type, None, credentials or CredentialChanges())
        with _invalid_as_admin_error():
            connector = self._store.create(tenant_id, spec, configured)
        self._record_written(tenant_id, spec, configured is not None)
        # Auth type none: its secret URLs are what the view reports as set.
        return ConnectorView.of(connector, configured if configured is not None else spec.secret_urls())

    def update(self, tenant_id: str, name: str, changes: ConnectorChanges) -> ConnectorView:
        """Change some attributes and credentials; the view says whether anything changed.

        Credentials merge: with the same auth type, the stored ones with the given changes (none
        given: they stay); with another auth type, only the given ones (they must be complete).
        """
        current = self._store.get(tenant_id, name)
        spec = connector_spec_from(name, changes, current)
        stored = self._store.load_credentials(current) if current.secret_id else None
        same_auth = spec.auth_type is current.auth_type
        configured = merged_credentials(spec.auth_type, stored if same_auth else None, changes.credentials)
        with _invalid_as_admin_error():
            updated = self._store.update(tenant_id, spec, configured)
        if updated.revision != current.revision:
            credentials = [f"credentials.{name}" for name in camel_names(changes.credentials.given())]
            changed = spec_changes(connector_spec(current), spec) + credentials
            self._auditor.record(tenant_id, "updated", "connector", name, changed)
        return ConnectorView.of(
            updated, self._store.load_credentials(updated), changed=updated.revision != current.revision
        )

    def show(self, tenant_id: str, name: str) -> ConnectorView:
        connector = self._store.get(tenant_id, name)
        return ConnectorView.of(connector, self._store.load_credentials(connector))

    def list(self, tenant_id: str) -> builtins.list[ConnectorView]:
        return [ConnectorView.of(connector) for connector in self._store.list(tenant_id)]

    def exists(self, tenant_id: str, name: str) -> bool:
        try:
            self._store.get(tenant_id, name)
        except ConnectorNotFound:
            return False
        return True

    def users(self, tenant_id: str, name: str) -> builtins.list[str]:
        """The actions that call this connector."""
        return [action.name for action in self._actions.list(tenant_id, connector=name)]

    def delete(self, tenant_id: str, name: str, *, force: bool = False) -> None:
        """Delete the connector and its credentials; ConnectorInUse while actions use it (unless forced)."""
        self._store.get(tenant_id, name)
        users = self.users(tenant_id, name)
        if users and not force:
            raise ConnectorInUse(name, users)
        self._store.delete(tenant_id, name)
        self._auditor.record(tenant_id, "deleted", "connector", name)

    def test_connection(self, tenant_id: str, name: str) -> ConnectionTest:
        """GET the test URL with the connector's auth; the result is redacted."""
        return self._caller.test_connection(self._store.get(tenant_id, name))

    def authorize_url(self, tenant_id: str, name: str) -> AuthorizationStart:
        """The provider URL to open for the OAuth 2.0 authorization-code grant."""
        self._store.get(tenant_id, name)
        with _invalid_as_admin_error():
            return self._authorizer.start(tenant_id, name)

    # ---- whole-configuration writes (`apply`)

    def plan_put(
        self, tenant_id: str, spec: ConnectorSpec, credentials: Credentials | None
    ) -> tuple[PlannedChange, ConnectorView | None]:
        """What `put` would do (attribute names only), and the stored connector if there is one."""
        try:
            existing = self._store.get(tenant_id, spec.name)
        except ConnectorNotFound:
            return PlannedChange("created"), None
        changed = spec_changes(connector_spec(existing), spec)
        stored = self._store.load_credentials(existing) if existing.secret_id else None
        if not same_configured(stored, credentials):
            changed.append("credentials")
        legacy = _secret_urls_in_item(existing) if spec.auth_type is AuthType.NONE else []
        changed += [label for label in legacy if label not in changed]
        if not changed:
            return PlannedChange("unchanged"), ConnectorView.of(existing)
        note = "the config table held its secret URL in the clear" if legacy else None
        return PlannedChange("updated", tuple(changed), note), ConnectorView.of(existing)

    def put(self, tenant_id: str, spec: ConnectorSpec, credentials: Credentials | None) -> ConnectorView:
        """Create the connector, or replace its configuration and configured credentials."""
        try:
            existing = self._store.get(tenant_id, spec.name)
        except ConnectorNotFound:
            self._tenants.show(tenant_id)
            with _invalid_as_admin_error():
                created = self._store.create(tenant_id, spec, credentials)
            self._record_written(tenant_id, spec, credentials is not None)
            return ConnectorView.of(created)
        stored = self._store.load_credentials(existing) if existing.secret_id else None
        with _invalid_as_admin_error():
            updated = self._store.update(tenant_id, spec, credentials)
        changed = spec_changes(connector_spec(existing), spec)
        if not same_configured(stored, credentials):
            changed.append("credentials")
        if changed:
            self._auditor.record(tenant_id, "updated", "connector", spec.name, changed)
        return ConnectorView.of(updated)

    def _record_written(self, tenant_id: str, spec: ConnectorSpec, with_credentials: bool) -> None:
        written = camel_names(spec.model_dump(exclude_defaults=True))
        credentials = ["credentials"] if with_credentials else []
        self._auditor.record(
            tenant_id, "created", "connector", spec.name, written_attributes(written) + credentials
        )


@contextmanager
def _invalid_as_admin_error() -> Iterator[None]:
    """The connectors area's own "invalid" errors, raised as InvalidConnector (an InvalidResource)."""
    try:
        yield
    except InvalidConnectorCredentials as exc:
        raise InvalidConnector([f"credentials: {problem}" for problem in exc.problems]) from None
    except NotAuthorizationCode as exc:
        raise InvalidConnector([exc.message]) from None
