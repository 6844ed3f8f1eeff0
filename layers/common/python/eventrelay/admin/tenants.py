"""Tenants (profile, shared secret, limits) and their event registrations."""

from __future__ import annotations

import builtins
from typing import Any

from eventrelay.admin.audit import Auditor
from eventrelay.admin.errors import InvalidLimits, InvalidRegistration, InvalidTenant, RegistrationNotFound
from eventrelay.admin.views import PlannedChange, TenantWithSecret, camel_names
from eventrelay.clock import Clock
from eventrelay.publishing import effective_limits
from eventrelay.ratelimit import FixedWindowRateLimiter, LimitKind, WindowStats
from eventrelay.registrations import InvalidSchema, Registration, RegistrationKind, RegistrationStore
from eventrelay.tenants import (
    DEFAULT_ROTATION_OVERLAP_SECONDS,
    TENANT_ID_PATTERN,
    LimitOverrides,
    Tenant,
    TenantNotFound,
    TenantSecretStore,
    TenantStore,
    generate_secret,
)
from eventrelay.validation import InvalidFields


class TenantAdmin:
    def __init__(
        self,
        tenants: TenantStore,
        secrets: TenantSecretStore,
        limiter: FixedWindowRateLimiter,
        clock: Clock,
        auditor: Auditor,
    ) -> None:
        self._tenants = tenants
        self._secrets = secrets
        self._limiter = limiter
        self._clock = clock
        self._auditor = auditor

    def create(
        self, tenant_id: str, name: str | None = None, shared_secret: str | None = None
    ) -> TenantWithSecret:
        """A new tenant and its shared secret (generated unless given), shown once.

        TenantExists if the id is taken; InvalidResource if the id or name breaks the rules.
        """
        if not TENANT_ID_PATTERN.fullmatch(tenant_id):
            raise InvalidTenant(
                ["tenant id: letters, digits, _ . - (at most 64, starting with a letter or digit)"]
            )
        try:
            tenant = self._tenants.create(tenant_id, name or tenant_id, self._clock())
        except InvalidFields as exc:
            raise InvalidTenant(exc.problems) from None
        secret = shared_secret or generate_secret()
        self._secrets.create(tenant_id, secret)
        self._auditor.record(tenant_id, "created", "tenant", tenant_id, ["name", "sharedSecret"])
        return TenantWithSecret(tenant, secret)

    def show(self, tenant_id: str) -> Tenant:
        tenant = self._tenants.get(tenant_id)
        if tenant is None:
            raise TenantNotFound(tenant_id)
        return tenant

    def list(self) -> builtins.list[Tenant]:
        return self._tenants.list()

    def rotate_secret(
        self, tenant_id: str, overlap_seconds: float = DEFAULT_ROTATION_OVERLAP_SECONDS
    ) -> TenantWithSecret:
        """A new shared secret (shown once); the previous one stays valid for `overlap_seconds`."""
        tenant = self.show(tenant_id)
        if overlap_seconds < 0:
            raise InvalidLimits(["overlap: must be 0 or more seconds"])
        rotated = self._secrets.rotate(tenant_id, generate_secret(), overlap_seconds, self._clock())
        self._auditor.record(tenant_id, "rotated", "tenant", tenant_id, ["sharedSecret"])
        return TenantWithSecret(tenant, rotated.current, rotated.previous_expires_at)

    def set_limits(self, tenant_id: str, overrides: LimitOverrides) -> Tenant:
        """Override some limits; the ones `overrides` leaves None keep their current value."""
        current = self.show(tenant_id).limits
        self._tenants.set_limits(tenant_id, current.updated(overrides))
        self._auditor.record(tenant_id, "updated", "limits", tenant_id, camel_names(overrides.overridden()))
        return self.show(tenant_id)

    def window_usage(self, tenant_id: str) -> dict[str, builtins.list[WindowStats]]:
        """Per limit kind (`sync`, `async`), each window's limit, use and reset time."""
        overrides = self.show(tenant_id).limits
        return {
            kind.value: self._limiter.get_window_stats(tenant_id, kind, effective_limits(kind, overrides))
            for kind in (LimitKind.SYNC, LimitKind.ASYNC)  # OUTBOUND windows belong to connectors
        }


def parse_limits(values: dict[str, Any]) -> LimitOverrides:
    """Limit overrides from plain values; InvalidLimits lists each problem."""
    try:
        return LimitOverrides.from_values(values)
    except InvalidFields as exc:
        raise InvalidLimits(exc.problems) from None


class RegistrationAdmin:
    """The events a tenant may publish (`event register|list|delete`, and `apply`)."""

    def __init__(self, tenants: TenantAdmin, registrations: RegistrationStore, auditor: Auditor) -> None:
        self._tenants = tenants
        self._registrations = registrations
        self._auditor = auditor

    def register(
        self,
        tenant_id: str,
        event_name: str,
        event_version: str,
        kind: RegistrationKind = RegistrationKind.OPEN,
        json_schema: dict[str, Any] | None = None,
        description: str = "",
    ) -> Registration:
        """Create or replace a registration; a schema makes it `json_schema`."""
        if json_schema is not None and kind is RegistrationKind.SYSTEM_ASSET:
            raise InvalidRegistration(["a schema and kind system_asset exclude each other"])
        if json_schema is not None:
            kind = RegistrationKind.JSON_SCHEMA
        try:
            registration = Registration(
                tenant_id=tenant_id,
                event_name=event_name,
                event_version=event_version,
                kind=kind,
                json_schema=json_schema,
                description=description,
            )
        except InvalidFields as exc:
            raise InvalidRegistration(exc.problems) from None
        return self.put(tenant_id, registration)

    def put(self, tenant_id: str, registration: Registration) -> Registration:
        """Write `registration` for `tenant_id` (its own tenant id is replaced by this one)."""
        self._tenants.show(tenant_id)
        try:
            written = self._registrations.put(registration.model_copy(update={"tenant_id": tenant_id}))
        except InvalidSchema as exc:
            raise InvalidRegistration([str(exc)]) from None
        attributes = ["kind", "description"] + (["schema"] if written.json_schema is not None else [])
        self._auditor.record(tenant_id, "registered", "event", _event_key(written), attributes)
        return written

    def show(self, tenant_id: str, event_name: str, event_version: str) -> Registration:
        found = self._registrations.get(tenant_id, event_name, event_version)
        if found is None:
            raise RegistrationNotFound(tenant_id, event_name, event_version)
        return found

    def list(self, tenant_id: str) -> builtins.list[Registration]:
        return self._registrations.list(tenant_id)

    def delete(self, tenant_id: str, event_name: str, event_version: str) -> None:
        if not self._registrations.delete(tenant_id, event_name, event_version):
            raise RegistrationNotFound(tenant_id, event_name, event_version)
        self._auditor.record(tenant_id, "deleted", "event", f"{event_name}:{event_version}")

    def plan_put(self, tenant_id: str, desired: Registration) -> tuple[PlannedChange, Registration | None]:
        """What `put` would do, and the registration to write (None when unchanged)."""
        desired = desired.model_copy(update={"tenant_id": tenant_id})
        existing = self._registrations.get(tenant_id, desired.event_name, desired.event_version)
        if existing is None:
            return PlannedChange("created"), desired
        changed = tuple(
            label
            for label, attribute in (
                ("kind", "kind"),
                ("schema", "json_schema"),
                ("description", "description"),
            )
            if getattr(existing, attribute) != getattr(desired, attribute)
        )
        if not changed:
            return PlannedChange("unchanged"), None
        return PlannedChange("updated", changed), desired.model_copy(
            update={"created_at": existing.created_at}
        )


def _event_key(registration: Registration) -> str:
    return f"{registration.event_name}:{registration.event_version}"
