"""Administration of the Events API side: tenants, shared secrets, registrations, limits.

Used by the CLI and the local stack's seeding; it talks to the stack's tables and secrets directly
with the operator's AWS credentials.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eventrelay.aws import dynamodb_client, secretsmanager_client
from eventrelay.clock import Clock, system_clock
from eventrelay.ratelimit import HitResult, LimitKind, WindowStats
from eventrelay.registrations import Registration, RegistrationKind, RegistrationStore
from eventrelay.settings import Settings
from eventrelay.tenants import (
    DEFAULT_ROTATION_OVERLAP_SECONDS,
    LimitOverrides,
    Tenant,
    TenantNotFound,
    TenantSecretStore,
    TenantStore,
    generate_secret,
)


@dataclass(frozen=True)
class TenantWithSecret:
    """A tenant just created or rotated, with the secret to show the operator once."""

    tenant: Tenant
    shared_secret: str
    previous_valid_until: float | None = None


class EventsAdmin:
    def __init__(self, settings: Settings, clock: Clock = system_clock) -> None:
        dynamodb = dynamodb_client(settings.region)
        self.settings = settings
        self.tenants = TenantStore(settings.config_table, dynamodb)
        self.secrets = TenantSecretStore(settings.secret_prefix, secretsmanager_client(settings.region))
        self.registrations = RegistrationStore(settings.config_table, dynamodb, cache_seconds=0, clock=clock)
        self._clock = clock

    def create_tenant(self, tenant_id: str, name: str, shared_secret: str | None = None) -> TenantWithSecret:
        tenant = self.tenants.create(tenant_id, name, self._clock())
        secret = shared_secret or generate_secret()
        self.secrets.create(tenant_id, secret)
        return TenantWithSecret(tenant, secret)

    def require_tenant(self, tenant_id: str) -> Tenant:
        tenant = self.tenants.get(tenant_id)
        if tenant is None:
            raise TenantNotFound(tenant_id)
        return tenant

    def rotate_secret(
        self, tenant_id: str, overlap_seconds: float = DEFAULT_ROTATION_OVERLAP_SECONDS
    ) -> TenantWithSecret:
        tenant = self.require_tenant(tenant_id)
        rotated = self.secrets.rotate(tenant_id, generate_secret(), overlap_seconds, self._clock())
        return TenantWithSecret(tenant, rotated.current, rotated.previous_expires_at)

    def register_event(
        self,
        tenant_id: str,
        event_name: str,
        event_version: str,
        kind: RegistrationKind = RegistrationKind.OPEN,
        json_schema: dict[str, Any] | None = None,
        description: str = "",
    ) -> Registration:
        self.require_tenant(tenant_id)
        if json_schema is not None:
            kind = RegistrationKind.JSON_SCHEMA
        return self.registrations.put(
            Registration(
                tenant_id=tenant_id,
                event_name=event_name,
                event_version=event_version,
                kind=kind,
                json_schema=json_schema,
                description=description,
            )
        )

    def set_limits(self, tenant_id: str, overrides: LimitOverrides) -> Tenant:
        current = self.require_tenant(tenant_id).limits
        merged = current.model_copy(update=overrides.model_dump(exclude_none=True))
        self.tenants.set_limits(tenant_id, merged)
        return self.require_tenant(tenant_id)

    def window_usage(self, tenant_id: str) -> dict[str, list[WindowStats]]:
        from eventrelay.publishing import effective_limits
        from eventrelay.ratelimit import FixedWindowRateLimiter

        limiter = FixedWindowRateLimiter(
            self.settings.limits_table, dynamodb_client(self.settings.region), self._clock
        )
        overrides = self.require_tenant(tenant_id).limits
        return {
            kind.value: limiter.get_window_stats(tenant_id, kind, effective_limits(kind, overrides))
            for kind in LimitKind
        }


__all__ = ["EventsAdmin", "HitResult", "TenantWithSecret"]
