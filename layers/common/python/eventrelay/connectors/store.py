"""Connector storage: configuration in the config table, credentials in Secrets Manager.

Item: `pk = TENANT#<tenantId>`, `sk = CONNECTOR#<name>`, the spec's fields, health attributes
(`healthState`, `healthReason`, `healthChangedAt`, `authFailures`), `rateLimit` (a map of
`perSecond`/`perMinute`, absent when calls are not paced) and a `revision` that every
configuration change increments (writes are conditional on it). Credentials: one JSON secret
`<prefix>connectors/<tenantId>/<name>`, updated with PutSecretValue.

URL-based connectors (auth type `none`) whose URL has a secret part (see `urls`): the item holds
the redacted form of the base URL and of an absolute test URL; the real URLs are kept in the JSON
secret `<prefix>connectors/<tenantId>/<name>/url` (`{"baseUrl": ..., "testUrl": ...}`, only the
secret ones), named by the item's `urlSecretId`. `load_credentials` returns them (as
`Credentials.base_url`/`test_url`) for the caller; `get` and `list` never do. A redacted URL given
to `update` stands for the stored one (an update that keeps the URL need not repeat it).

OAuth authorization-code `state` values are kept (hashed, with a TTL) as
`pk = OAUTH_STATE#<sha256(state)>`, `sk = OAUTH_STATE`: the callback only knows the state.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

from eventrelay.aws import delete_secret, read_secret_string, write_secret_string
from eventrelay.clock import Clock, iso_utc, system_clock
from eventrelay.connectors import urls
from eventrelay.connectors.errors import (
    ConnectorConflict,
    ConnectorExists,
    ConnectorNotFound,
    InvalidConnectorCredentials,
    InvalidConnectorUrl,
)
from eventrelay.connectors.models import (
    AuthType,
    Connector,
    ConnectorHealth,
    ConnectorSpec,
    Credentials,
    HealthState,
    OAuth2Settings,
    RateLimit,
    credential_problems,
    needs_secret,
)
from eventrelay.dynamodb import ConditionFailed, Expression, Item, Table, to_item
from eventrelay.errors import DependencyFailure
from eventrelay.tenants import tenant_pk

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_secretsmanager import SecretsManagerClient

CONNECTOR_SK_PREFIX = "CONNECTOR#"


def _plain_connector_key(tenant_id: str, name: str) -> dict[str, str]:
    return {"pk": tenant_pk(tenant_id), "sk": f"{CONNECTOR_SK_PREFIX}{name}"}


def connector_key(tenant_id: str, name: str) -> dict[str, Any]:
    """The item key in DynamoDB's typed form (for callers that read the table with a raw client)."""
    return dict(to_item(_plain_connector_key(tenant_id, name)))


def _state_key(state: str) -> dict[str, str]:
    digest = hashlib.sha256(state.encode("utf-8")).hexdigest()
    return {"pk": f"OAUTH_STATE#{digest}", "sk": "OAUTH_STATE"}


def spec_fields(spec: ConnectorSpec) -> dict[str, Any]:
    """Only the configurable fields (a stored Connector passed as a spec brings more)."""
    return spec.model_dump(include=set(ConnectorSpec.model_fields))


def initial_health(spec: ConnectorSpec, credentials: Credentials | None, now: float) -> ConnectorHealth:
    if spec.uses_authorization_code and (credentials is None or credentials.refresh_token is None):
        return ConnectorHealth(state=HealthState.PENDING_AUTHORIZATION, changed_at=iso_utc(now))
    return ConnectorHealth(state=HealthState.AUTHORIZED, changed_at=iso_utc(now))


@dataclass(frozen=True)
class PendingAuthorization:
    tenant_id: str
    connector_name: str
    expires_at: float


class ConnectorStore:
    def __init__(
        self,
        table_name: str,
        secret_prefix: str,
        dynamodb: DynamoDBClient,
        secrets: SecretsManagerClient,
        clock: Clock = system_clock,
    ) -> None:
        self._table = Table(table_name, dynamodb)
        self._prefix = secret_prefix
        self._secrets = secrets
        self._clock = clock

    def secret_id(self, tenant_id: str, name: str) -> str:
        return f"{self._prefix}connectors/{tenant_id}/{name}"

    def url_secret_id(self, tenant_id: str, name: str) -> str:
        # Names have no `/`: this cannot be another connector's credentials secret.
        return f"{self._prefix}connectors/{tenant_id}/{name}/url"

    # Configuration

    def create(
        self, tenant_id: str, spec: ConnectorSpec, credentials: Credentials | None = None
    ) -> Connector:
        problems = credential_problems(spec, credentials)
        if problems:
            raise InvalidConnectorCredentials(problems)
        secret_urls = _secret_urls_after(spec, None, None)
        now = self._clock()
        connector = Connector(
            **stored_spec_fields(spec, secret_urls),
            tenant_id=tenant_id,
            health=initial_health(spec, credentials, now),
            revision=1,
            created_at=iso_utc(now),
            updated_at=iso_utc(now),
            secret_id=self.secret_id(tenant_id, spec.name) if needs_secret(spec.auth_type) else None,
            url_secret_id=self.url_secret_id(tenant_id, spec.name) if secret_urls is not None else None,
        )
        new = Expression()
        try:
            self._table.put(self._to_item(connector), new.require(new.missing("pk")))
        except ConditionFailed:
            raise ConnectorExists(tenant_id, spec.name) from None
        try:
            if needs_secret(spec.auth_type):
                self._write_secret(tenant_id, spec.name, credentials or Credentials())
            if secret_urls is not None:
                self._write_url_secret(tenant_id, spec.name, secret_urls)
        except DependencyFailure:
            self._delete_item(tenant_id, spec.name)
            raise
        return connector

    def update(
        self, tenant_id: str, spec: ConnectorSpec, credentials: Credentials | None = None
    ) -> Connector:
        """Replace the configuration (and, when given, the configured credentials).

        Idempotent: an update that changes nothing writes nothing. Tokens obtained from a provider
        survive an update that keeps the same OAuth client; a credentials change resets health.
        """
        existing = self.get(tenant_id, spec.name)
        old_credentials = self.load_credentials(existing) if existing.secret_id else None
        new_credentials = self._merge_credentials(existing, spec, old_credentials, credentials)
        problems = credential_problems(spec, new_credentials)
        if problems:
            raise InvalidConnectorCredentials(problems)
        old_urls = self._load_secret_urls(existing)
        new_urls = _secret_urls_after(spec, existing, old_urls)
        new_fields = stored_spec_fields(spec, new_urls)
        spec_changed = spec_fields(existing) != new_fields
        credentials_changed = not _same_credentials(old_credentials, new_credentials)
        urls_changed = not _same_credentials(old_urls, new_urls)
        # An item written before URLs were kept secret holds the real URL: rewrite it.
        migrating = new_urls is not None and existing.url_secret_id is None
        if not spec_changed and not credentials_changed and not urls_changed and not migrating:
            return existing
        now = self._clock()
        auth_changed = (
            credentials_changed
            or urls_changed
            or existing.auth_type is not spec.auth_type
            or existing.oauth2 != spec.oauth2
        )
        health = initial_health(spec, new_credentials, now) if auth_changed else existing.health
        updated = Connector(
            **new_fields,
            tenant_id=tenant_id,
            health=health,
            revision=existing.revision + 1,
            created_at=existing.created_at,
            updated_at=iso_utc(now),
            secret_id=self.secret_id(tenant_id, spec.name) if needs_secret(spec.auth_type) else None,
            url_secret_id=self.url_secret_id(tenant_id, spec.name) if new_urls is not None else None,
        )
        as_read = Expression()
        try:
            self._table.put(
                self._to_item(updated), as_read.require(as_read.equals("revision", existing.revision))
            )
        except ConditionFailed:
            raise ConnectorConflict(spec.name) from None
        if needs_secret(spec.auth_type) and new_credentials is not None and credentials_changed:
            self._write_secret(tenant_id, spec.name, new_credentials)
        elif not needs_secret(spec.auth_type) and existing.secret_id:
            self._delete_secret(tenant_id, spec.name)
        if new_urls is not None and (urls_changed or migrating):
            self._write_url_secret(tenant_id, spec.name, new_urls)
        elif new_urls is None and existing.url_secret_id:
            self._delete_secret_id(self.url_secret_id(tenant_id, spec.name))
        return updated

    @staticmethod
    def _merge_credentials(
        existing: Connector, spec: ConnectorSpec, old: Credentials | None, given: Credentials | None
    ) -> Credentials | None:
        if not needs_secret(spec.auth_type):
            return None
        if given is None:
            return old
        merged = given.configured()
        same_client = (
            old is not None
            and existing.oauth2 is not None
            and spec.oauth2 is not None
            and existing.oauth2.grant is spec.oauth2.grant
            and existing.oauth2.token_url == spec.oauth2.token_url
            and old.client_id == merged.client_id
        )
        if old is not None and same_client:
            # Same OAuth client: the authorization (refresh token) still holds.
            merged = merged.model_copy(update={"refresh_token": old.refresh_token})
            if old.configured_fingerprint() == merged.configured_fingerprint():
                merged = merged.model_copy(
                    update={
                        "access_token": old.access_token,
                        "access_token_expires_at": old.access_token_expires_at,
                    }
                )
        return merged

    def get(self, tenant_id: str, name: str) -> Connector:
        item = self._table.get(_plain_connector_key(tenant_id, name), consistent=True)
        if not item:
            raise ConnectorNotFound(tenant_id, name)
        return self._from_item(item)

    def list(self, tenant_id: str) -> list[Connector]:
        of_tenant = Expression()
        of_tenant.key(
            of_tenant.equals("pk", tenant_pk(tenant_id)), of_tenant.begins_with("sk", CONNECTOR_SK_PREFIX)
        )
        connectors = [self._from_item(item) for item in self._table.query(of_tenant)]
        return sorted(connectors, key=lambda connector: connector.name)

    def delete(self, tenant_id: str, name: str) -> None:
        existing = self.get(tenant_id, name)
        self._delete_item(tenant_id, name)
        if existing.secret_id:
            self._delete_secret(tenant_id, name)
        if existing.url_secret_id:
            self._delete_secret_id(self.url_secret_id(tenant_id, name))

    def _delete_item(self, tenant_id: str, name: str) -> None:
        self._table.delete(_plain_connector_key(tenant_id, name))

    # Health

    def set_health(self, tenant_id: str, name: str, health: ConnectorHealth) -> None:
        change = Expression()
        change.set("healthState", health.state.value)
        change.set("healthReason", health.reason or None)
        change.set("healthChangedAt", health.changed_at)
        change.set("authFailures", health.auth_failures)
        try:
            self._table.update(_plain_connector_key(tenant_id, name), change.require(change.exists("pk")))
        except ConditionFailed:
            raise ConnectorNotFound(tenant_id, name) from None

    def record_auth_failure(self, tenant_id: str, name: str) -> int:
        """Count one more consecutive authentication failure; returns the new count."""
        count = Expression()
        count.add("authFailures", 1).require(count.exists("pk"))
        try:
            attributes = self._table.update(
                _plain_connector_key(tenant_id, name), count, returns="UPDATED_NEW"
            )
        except ConditionFailed:
            raise ConnectorNotFound(tenant_id, name) from None
        return int(attributes["authFailures"])

    # Credentials

    def load_credentials(self, connector: Connector) -> Credentials:
        """What a call needs that is secret: the credentials, or a URL-based connector's real URLs."""
        if connector.auth_type is AuthType.NONE:
            return self._load_secret_urls(connector) or Credentials()
        if not needs_secret(connector.auth_type):
            return Credentials()
        return self._read_secret(self.secret_id(connector.tenant_id, connector.name)) or Credentials()

    def _load_secret_urls(self, connector: Connector) -> Credentials | None:
        """The real URLs of a URL-based connector: held in memory by `connector`, else its secret."""
        if connector.auth_type is not AuthType.NONE:
            return None
        held = connector.secret_urls()
        stored = (
            self._read_secret(self.url_secret_id(connector.tenant_id, connector.name))
            if connector.url_secret_id
            else None
        )
        if held is None or stored is None:
            return held or stored
        return Credentials(
            base_url=held.base_url or stored.base_url, test_url=held.test_url or stored.test_url
        )

    def _read_secret(self, secret_id: str) -> Credentials | None:
        text = read_secret_string(self._secrets, secret_id)
        return Credentials.from_secret_json(text) if text is not None else None

    def save_credentials(self, connector: Connector, credentials: Credentials) -> None:
        self._write_secret(connector.tenant_id, connector.name, credentials)

    def _write_url_secret(self, tenant_id: str, name: str, secret_urls: Credentials) -> None:
        self._put_secret(
            self.url_secret_id(tenant_id, name),
            secret_urls.to_secret_json(),
            f"eventrelay URL of connector {name} (tenant {tenant_id})",
        )

    def _write_secret(self, tenant_id: str, name: str, credentials: Credentials) -> None:
        self._put_secret(
            self.secret_id(tenant_id, name),
            credentials.to_secret_json(),
            f"eventrelay credentials of connector {name} (tenant {tenant_id})",
        )

    def _put_secret(self, secret_id: str, document: str, description: str) -> None:
        write_secret_string(self._secrets, secret_id, document, description)

    def _delete_secret(self, tenant_id: str, name: str) -> None:
        self._delete_secret_id(self.secret_id(tenant_id, name))

    def _delete_secret_id(self, secret_id: str) -> None:
        delete_secret(self._secrets, secret_id)

    # OAuth authorization-code state

    def put_authorization_state(self, state: str, tenant_id: str, name: str, expires_at: float) -> None:
        self._table.put(
            {**_state_key(state), "tenantId": tenant_id, "connector": name, "expiresAt": int(expires_at)}
        )

    def take_authorization_state(self, state: str) -> PendingAuthorization | None:
        """The pending authorization for `state`, consumed (a state works once); None if unknown."""
        item = self._table.delete(_state_key(state), return_old=True)
        if not item:
            return None
        return PendingAuthorization(
            tenant_id=item["tenantId"], connector_name=item["connector"], expires_at=float(item["expiresAt"])
        )

    # Item mapping

    @staticmethod
    def _to_item(connector: Connector) -> Item:
        if connector.auth_type is AuthType.NONE and (
            urls.has_secret(connector.base_url)
            or (urls.is_absolute(connector.test_url) and urls.has_secret(connector.test_url))
        ):
            # Unreachable through ConnectorSpec validation; never write a secret URL anyway.
            raise ValueError("a URL-based connector's secret URL must not be stored in the config table")
        plain: dict[str, Any] = {
            "kind": "CONNECTOR",
            "tenantId": connector.tenant_id,
            "name": connector.name,
            "baseUrl": connector.base_url,
            "authType": connector.auth_type.value,
            "headers": dict(connector.headers),
            "description": connector.description,
            "testUrl": connector.test_url,
            "revision": connector.revision,
            "createdAt": connector.created_at,
            "updatedAt": connector.updated_at,
            "healthState": connector.health.state.value,
            "healthReason": connector.health.reason,
            "healthChangedAt": connector.health.changed_at,
            "authFailures": connector.health.auth_failures,
        }
        if connector.oauth2 is not None:
            plain["oauth2"] = connector.oauth2.model_dump(mode="json", exclude_none=True)
        if connector.rate_limit is not None:
            limits = connector.rate_limit.to_view()
            plain["rateLimit"] = {name: value for name, value in limits.items() if value is not None}
        if connector.secret_id:
            plain["secretId"] = connector.secret_id
        if connector.url_secret_id:
            plain["urlSecretId"] = connector.url_secret_id
        return {**plain, **_plain_connector_key(connector.tenant_id, connector.name)}

    @staticmethod
    def _from_item(plain: Item) -> Connector:
        oauth2 = plain.get("oauth2")
        rate_limit = plain.get("rateLimit")
        return Connector(
            tenant_id=plain["tenantId"],
            name=plain["name"],
            base_url=plain["baseUrl"],
            auth_type=AuthType(plain["authType"]),
            headers=plain.get("headers") or {},
            description=plain.get("description") or "",
            test_url=plain.get("testUrl") or "",
            oauth2=OAuth2Settings.model_validate(oauth2) if oauth2 else None,
            rate_limit=RateLimit.from_view(rate_limit) if rate_limit else None,
            health=ConnectorHealth(
                state=HealthState(plain["healthState"]),
                reason=plain.get("healthReason"),
                changed_at=plain["healthChangedAt"],
                auth_failures=int(plain.get("authFailures") or 0),
            ),
            revision=int(plain["revision"]),
            created_at=plain["createdAt"],
            updated_at=plain["updatedAt"],
            secret_id=plain.get("secretId"),
            url_secret_id=plain.get("urlSecretId"),
        )


def _secret_urls_after(
    spec: ConnectorSpec, existing: Connector | None, stored: Credentials | None
) -> Credentials | None:
    """The real URLs a connector written from `spec` keeps secret (None: its URLs are not secret).

    Auth type none: a real URL (held by the spec, or plain in a spec built without validation)
    is taken; a redacted URL stands for the existing connector's stored one and must be exactly
    its redacted form. Other auth types take URLs as they are, so a redacted one is refused.
    """
    held = spec.secret_urls() or Credentials()
    if spec.auth_type is not AuthType.NONE:
        if urls.is_redacted(spec.base_url) or urls.is_redacted(spec.test_url):
            raise InvalidConnectorUrl(
                "the URL of a URL-based connector is secret and shown redacted: "
                "give the base URL (and test URL) in full when changing its auth type"
            )
        return None
    base = _secret_url(
        spec.base_url,
        held.base_url,
        existing.base_url if existing else None,
        stored.base_url if stored else None,
        "base URL",
    )
    test = _secret_url(
        spec.test_url,
        held.test_url,
        existing.test_url if existing else None,
        stored.test_url if stored else None,
        "test URL",
    )
    if base is None and test is None:
        return None
    return Credentials(base_url=base, test_url=test)


def _secret_url(
    given: str, held: SecretStr | None, existing: str | None, stored: SecretStr | None, what: str
) -> SecretStr | None:
    if held is not None:
        return held
    if not urls.is_absolute(given):
        return None  # a relative test URL is appended to the secret base URL; alone it is not secret
    if urls.has_secret(given):
        return SecretStr(given)  # a spec built without validation (model_copy, model_construct)
    if not urls.is_redacted(given):
        return None
    if (
        existing is not None
        and stored is not None
        and given == existing
        and urls.redacted_url(stored.get_secret_value()) == given
    ):
        return stored
    raise InvalidConnectorUrl(
        f"the {what} is a redacted form that is not the stored URL's: give the {what} in full"
    )


def stored_spec_fields(spec: ConnectorSpec, secret_urls: Credentials | None) -> dict[str, Any]:
    """The spec's fields as the config table keeps them: secret URLs in their redacted form."""
    fields = spec_fields(spec)
    if secret_urls is not None:
        for name in ("base_url", "test_url"):
            real = getattr(secret_urls, name)
            if real is not None:
                fields[name] = urls.redacted_url(real.get_secret_value())
    return fields


def _same_credentials(old: Credentials | None, new: Credentials | None) -> bool:
    if old is None or new is None:
        return old is new
    old_document = old.to_secret_json().encode("utf-8")
    new_document = new.to_secret_json().encode("utf-8")
    return hmac.compare_digest(old_document, new_document)
