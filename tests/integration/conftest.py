from __future__ import annotations

import time

import pytest

from eventrelay.admin import AdminService, TenantWithSecret
from eventrelay.http_api import build_app
from eventrelay.roots import AwsClients
from eventrelay.roots.events import EventServices, build_event_services
from eventrelay.settings import Settings
from tests.support.api import ApiCaller, ControlledClock
from tests.support.roots import admin_service


@pytest.fixture
def clock() -> ControlledClock:
    # 30 s into a minute of today (UTC), far from every window boundary.
    day_start = time.time() // 86400 * 86400
    return ControlledClock(day_start + 5 * 3600 + 30)


@pytest.fixture
def admin(settings: Settings, clock: ControlledClock) -> AdminService:
    return admin_service(settings, clock)


@pytest.fixture
def services(settings: Settings, clock: ControlledClock) -> EventServices:
    return build_event_services(settings, AwsClients.for_settings(settings), clock)


@pytest.fixture
def api(services: EventServices) -> ApiCaller:
    return ApiCaller(lambda: build_app(lambda: services))


@pytest.fixture
def tenant(admin: AdminService, tenant_id: str) -> TenantWithSecret:
    """A tenant with an open registration OrderPlaced/v01."""
    created = admin.tenants.create(tenant_id, "Test tenant")
    admin.events.register(tenant_id, "OrderPlaced", "v01")
    return created
