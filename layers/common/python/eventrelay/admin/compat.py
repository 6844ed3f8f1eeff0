"""Names the argparse CLI still imports, kept until it calls the admin service.

TODO(issue 7): remove when the CLI calls the admin service.
"""

from __future__ import annotations

from typing import Any

from eventrelay.admin.action_test import ActionTester as _ActionTester
from eventrelay.admin.errors import RegistrationNotFound
from eventrelay.admin.service import AdminService
from eventrelay.admin.views import TenantWithSecret
from eventrelay.clock import Clock, system_clock
from eventrelay.ratelimit import WindowStats
from eventrelay.registrations import Registration, RegistrationKind
from eventrelay.settings import Settings
from eventrelay.tenants import DEFAULT_ROTATION_OVERLAP_SECONDS, LimitOverrides, Tenant, TenantNotFound


def _admin_service(settings: Settings, clock: Clock = system_clock) -> AdminService:
    from eventrelay.roots import AwsClients
    from eventrelay.roots.admin import build_admin_service

    return build_admin_service(settings, AwsClients.for_settings(settings), clock)


class _Registrations:
    def __init__(self, service: AdminService) -> None:
        self._service = service

    def list(self, tenant_id: str) -> list[Registration]:
        return self._service.events.list(tenant_id)

    def delete(self, tenant_id: str, event_name: str, event_version: str) -> bool:
        try:
            self._service.events.delete(tenant_id, event_name, event_version)
        except RegistrationNotFound:
            return False
        return True


class EventsAdmin:
    """The old tenants/registrations facade (pydantic ValidationError on bad input, as before).

    TODO(issue 7): remove when the CLI calls the admin service.
    """

    def __init__(self, settings: Settings, clock: Clock = system_clock) -> None:
        self.service = _admin_service(settings, clock)
        self.tenants = self.service.tenants
        self.registrations = _Registrations(self.service)

    def create_tenant(self, tenant_id: str, name: str, shared_secret: str | None = None) -> TenantWithSecret:
        Tenant(tenant_id=tenant_id, name=name, created_at="")  # the old ValidationError on a bad id
        return self.service.tenants.create(tenant_id, name, shared_secret)

    def require_tenant(self, tenant_id: str) -> Tenant:
        return self.service.tenants.show(tenant_id)

    def rotate_secret(
        self, tenant_id: str, overlap_seconds: float = DEFAULT_ROTATION_OVERLAP_SECONDS
    ) -> TenantWithSecret:
        return self.service.tenants.rotate_secret(tenant_id, overlap_seconds)

    def register_event(
        self,
        tenant_id: str,
        event_name: str,
        event_version: str,
        kind: RegistrationKind = RegistrationKind.OPEN,
        json_schema: dict[str, Any] | None = None,
        description: str = "",
    ) -> Registration:
        if json_schema is not None:
            kind = RegistrationKind.JSON_SCHEMA
        registration = Registration(  # the old ValidationError on a bad name or version
            tenant_id=tenant_id,
            event_name=event_name,
            event_version=event_version,
            kind=kind,
            json_schema=json_schema,
            description=description,
        )
        return self.service.events.put(tenant_id, registration)

    def set_limits(self, tenant_id: str, overrides: LimitOverrides) -> Tenant:
        return self.service.tenants.set_limits(tenant_id, overrides)

    def window_usage(self, tenant_id: str) -> dict[str, list[WindowStats]]:
        return self.service.tenants.window_usage(tenant_id)


class ActionTester(_ActionTester):
    """TODO(issue 7): remove when the CLI calls the admin service (`ActionAdmin.test`)."""

    @classmethod
    def from_settings(cls, settings: Settings) -> _ActionTester:
        return _admin_service(settings).actions.tester


__all__ = ["ActionTester", "EventsAdmin", "TenantNotFound", "TenantWithSecret"]
