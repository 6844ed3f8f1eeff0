"""Tenants: a profile in the config table, a shared secret in Secrets Manager, and the credential check.

A tenant's secret is one Secrets Manager secret `<prefix>tenants/<tenantId>` holding JSON
`{"current": ..., "previous": ..., "previousExpiresAt": <epoch>}`. During a rotation's overlap
both secrets are accepted; after `previousExpiresAt` only the current one. Secrets never reach
DynamoDB, logs or error text.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NoReturn

from eventrelay.aws import create_secret_string, delete_secret, read_secret_string, write_secret_string
from eventrelay.bounded_cache import BoundedCache
from eventrelay.clock import Clock, iso_utc, system_clock
from eventrelay.dynamodb import ConditionFailed, Expression, Item, Table
from eventrelay.errors import InvalidCredentials, ResourceExists, ResourceNotFound
from eventrelay.validation import InvalidFields, check_text

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_secretsmanager import SecretsManagerClient

TENANT_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
MAX_TENANT_NAME = 256
DEFAULT_ROTATION_OVERLAP_SECONDS = 24 * 3600
# Tenants whose secrets (and profiles) one instance keeps: ~0.5 KB each, so at most ~2 MB per cache.
CACHED_TENANTS = 4096


def tenant_pk(tenant_id: str) -> str:
    return f"TENANT#{tenant_id}"


class TenantExists(ResourceExists):
    """A tenant with this id already exists."""


class TenantNotFound(ResourceNotFound):
    """No tenant with this id."""


# Each override's bounds (inclusive); None keeps the contract's default for that window.
LIMIT_BOUNDS = {
    "sync_per_minute": 1_000_000,
    "sync_per_day": 100_000_000,
    "async_per_hour": 1_000_000,
    "async_per_day": 10_000_000,
}


@dataclass(frozen=True)
class LimitOverrides:
    """Per-tenant limits; None keeps the contract's default for that window. A frozen dataclass
    checked in `__post_init__` (InvalidFields): the publish path reads it for every tenant, and
    never imports pydantic."""

    sync_per_minute: int | None = None
    sync_per_day: int | None = None
    async_per_hour: int | None = None
    async_per_day: int | None = None

    def __post_init__(self) -> None:
        problems: list[str] = []
        for name, upper in LIMIT_BOUNDS.items():
            value = getattr(self, name)
            if value is None:
                continue
            if type(value) is not int:
                problems.append(f"{name}: Input should be a valid integer")
            elif value < 0:
                problems.append(f"{name}: Input should be greater than or equal to 0")
            elif value > upper:
                problems.append(f"{name}: Input should be less than or equal to {upper}")
        if problems:
            raise InvalidFields(problems)

    @classmethod
    def from_values(cls, values: Mapping[str, Any]) -> LimitOverrides:
        """Overrides from plain values (whole numbers, or text or floats that are whole numbers, as
        pydantic took them); InvalidFields names each unknown field and each bad value."""
        problems = [f"{name}: Extra inputs are not permitted" for name in values if name not in LIMIT_BOUNDS]
        converted: dict[str, int | None] = {}
        for name in LIMIT_BOUNDS:
            value = values.get(name)
            whole = _whole_number(value)
            if value is not None and whole is None:
                problems.append(f"{name}: Input should be a valid integer")
            converted[name] = whole
        if problems:
            raise InvalidFields(problems)
        return cls(**converted)

    @classmethod
    def from_json(cls, text: str) -> LimitOverrides:
        return cls.from_values(json.loads(text))

    def overridden(self) -> dict[str, int]:
        """The overrides that are set, by field name."""
        return {name: value for name in LIMIT_BOUNDS if (value := getattr(self, name)) is not None}

    def to_json(self) -> str:
        """The overrides that are set, as stored in the tenant's profile (pydantic's compact form)."""
        return json.dumps(self.overridden(), separators=(",", ":"))

    def updated(self, changes: LimitOverrides) -> LimitOverrides:
        """These overrides with the ones `changes` sets replaced."""
        return dataclasses.replace(self, **changes.overridden())


def _whole_number(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


@dataclass(frozen=True)
class Tenant:
    tenant_id: str
    name: str
    created_at: str
    limits: LimitOverrides = field(default_factory=LimitOverrides)

    def __post_init__(self) -> None:
        problems: list[str] = []
        check_text(problems, "tenant_id", self.tenant_id, pattern=TENANT_ID_PATTERN)
        check_text(problems, "name", self.name, min_length=1, max_length=MAX_TENANT_NAME)
        check_text(problems, "created_at", self.created_at)
        if not isinstance(self.limits, LimitOverrides):
            problems.append("limits: Input should be a valid dictionary or instance of LimitOverrides")
        if problems:
            raise InvalidFields(problems)


@dataclass(frozen=True)
class TenantSecret:
    current: str
    previous: str | None = None
    previous_expires_at: float | None = None

    def to_json(self) -> str:
        return json.dumps(
            {
                "current": self.current,
                "previous": self.previous,
                "previousExpiresAt": self.previous_expires_at,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> TenantSecret:
        data = json.loads(text)
        return cls(data["current"], data.get("previous"), data.get("previousExpiresAt"))

    def accepts(self, presented: str, now: float) -> bool:
        """Constant-time check against the current and (during the overlap) the previous secret."""
        presented_digest = hashlib.sha256(presented.encode("utf-8", "surrogatepass")).digest()
        matches_current = hmac.compare_digest(
            presented_digest, hashlib.sha256(self.current.encode()).digest()
        )
        previous = self.previous or ""
        previous_valid = bool(self.previous) and (self.previous_expires_at or 0) > now
        matches_previous = hmac.compare_digest(presented_digest, hashlib.sha256(previous.encode()).digest())
        return matches_current or (previous_valid and matches_previous)


def generate_secret() -> str:
    """32 random bytes, URL-safe, never starting with `-` (a shell argument `--secret "$S"` whose
    value starts with `-` reads as an option in many tools)."""
    while True:
        secret = secrets.token_urlsafe(32)
        if not secret.startswith("-"):
            return secret


class TenantSecretStore:
    """Tenant shared secrets in Secrets Manager."""

    def __init__(self, prefix: str, client: SecretsManagerClient) -> None:
        self._prefix = prefix
        self._client = client

    def secret_name(self, tenant_id: str) -> str:
        return f"{self._prefix}tenants/{tenant_id}"

    def create(self, tenant_id: str, secret: str) -> None:
        create_secret_string(
            self._client,
            self.secret_name(tenant_id),
            TenantSecret(secret).to_json(),
            f"eventrelay shared secret of tenant {tenant_id}",
        )

    def get(self, tenant_id: str) -> TenantSecret | None:
        """The tenant's secrets, or None when the tenant has none. AWS failures raise DependencyFailure."""
        text = read_secret_string(self._client, self.secret_name(tenant_id))
        return TenantSecret.from_json(text) if text is not None else None

    def rotate(self, tenant_id: str, new_secret: str, overlap_seconds: float, now: float) -> TenantSecret:
        existing = self.get(tenant_id)
        if existing is None:
            raise TenantNotFound(tenant_id)
        rotated = TenantSecret(
            new_secret, existing.current, now + overlap_seconds if overlap_seconds > 0 else None
        )
        write_secret_string(
            self._client,
            self.secret_name(tenant_id),
            rotated.to_json(),
            f"eventrelay shared secret of tenant {tenant_id}",
        )
        return rotated

    def delete(self, tenant_id: str) -> None:
        delete_secret(self._client, self.secret_name(tenant_id))


class CredentialVerifier:
    """Checks a presented shared secret, caching each tenant's secrets briefly per instance.

    A mismatch refetches the tenant's secrets, at most once per `refetch_after_seconds` per tenant,
    so a rotation takes effect at once without letting wrong secrets hammer Secrets Manager. Both
    caches are bounded (`CACHED_TENANTS` entries each, least recently used evicted); only tenants
    whose profile exists reach them (`refuse_unknown` answers the others without any lookup).
    """

    def __init__(
        self,
        store: TenantSecretStore,
        cache_seconds: float = 60,
        refetch_after_seconds: float = 2,
        clock: Clock = system_clock,
    ) -> None:
        self._store = store
        self._refetch_after = refetch_after_seconds
        self._clock = clock
        self._secrets: BoundedCache[str, TenantSecret | None] = BoundedCache(
            CACHED_TENANTS, cache_seconds, clock
        )
        # Presence means "refetched less than refetch_after_seconds ago".
        self._recent_refetches: BoundedCache[str, bool] = BoundedCache(
            CACHED_TENANTS, refetch_after_seconds, clock
        )
        # Unknown tenants are compared against this, so both failures do the same work.
        self._decoy = TenantSecret(generate_secret())

    def _load(self, tenant_id: str) -> TenantSecret | None:
        secret = self._store.get(tenant_id)
        self._secrets.put(tenant_id, secret)
        return secret

    def refuse_unknown(self, presented: str) -> NoReturn:
        """The answer for a tenant that does not exist: the same 1005, after the same compare."""
        self._decoy.accepts(presented, self._clock())
        raise InvalidCredentials

    def verify(self, tenant_id: str, presented: str) -> None:
        now = self._clock()
        cached = self._secrets.get(tenant_id)
        secret = self._load(tenant_id) if cached is None else cached.value
        if (secret or self._decoy).accepts(presented, now) and secret is not None:
            return
        if cached is not None and self._recent_refetches.get(tenant_id) is None:
            self._recent_refetches.put(tenant_id, True)
            secret = self._load(tenant_id)
            if (secret or self._decoy).accepts(presented, now) and secret is not None:
                return
        raise InvalidCredentials


def _profile_key(tenant_id: str) -> dict[str, str]:
    return {"pk": tenant_pk(tenant_id), "sk": "PROFILE"}


class TenantStore:
    """Tenant profiles (name, limit overrides) in the config table."""

    def __init__(self, table_name: str, client: DynamoDBClient) -> None:
        self._table = Table(table_name, client)

    def create(self, tenant_id: str, name: str, now: float) -> Tenant:
        tenant = Tenant(tenant_id=tenant_id, name=name, created_at=iso_utc(now))
        new = Expression()
        try:
            self._table.put(
                {
                    **_profile_key(tenant_id),
                    "tenantId": tenant_id,
                    "name": name,
                    "createdAt": tenant.created_at,
                    "limits": tenant.limits.to_json(),
                },
                new.require(new.missing("pk")),
            )
        except ConditionFailed:
            raise TenantExists(tenant_id) from None
        return tenant

    @staticmethod
    def _from_item(item: Item) -> Tenant:
        return Tenant(
            tenant_id=item["tenantId"],
            name=item["name"],
            created_at=item["createdAt"],
            limits=LimitOverrides.from_json(item.get("limits") or "{}"),
        )

    def get(self, tenant_id: str) -> Tenant | None:
        item = self._table.get(_profile_key(tenant_id))
        return self._from_item(item) if item else None

    def list(self) -> list[Tenant]:
        profiles = Expression()
        profiles.filter(profiles.equals("sk", "PROFILE"))
        tenants = [self._from_item(item) for item in self._table.scan(profiles)]
        return sorted(tenants, key=lambda t: t.tenant_id)

    def set_limits(self, tenant_id: str, limits: LimitOverrides) -> None:
        change = Expression()
        change.set("limits", limits.to_json()).require(change.exists("pk"))
        try:
            self._table.update(_profile_key(tenant_id), change)
        except ConditionFailed:
            raise TenantNotFound(tenant_id) from None
