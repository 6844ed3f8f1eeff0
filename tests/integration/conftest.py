from __future__ import annotations

import time

import pytest

from eventrelay.admin import EventsAdmin, TenantWithSecret
from eventrelay.http_api import build_app
from eventrelay.settings import Settings
from eventrelay.wiring import EventServices, build_event_services
from tests.support.api import ApiCaller, ControlledClock


@pytest.fixture
def clock() -> ControlledClock:
    # 30 s into a minute of today (UTC), far from every window boundary.
    day_start = time.time() // 86400 * 86400
    return ControlledClock(day_start + 5 * 3600 + 30)


@pytest.fixture
def admin(settings: Settings, clock: ControlledClock) -> EventsAdmin:
    return EventsAdmin(settings, clock)


@pytest.fixture
def services(settings: Settings, clock: ControlledClock) -> EventServices:
    return build_event_services(settings, clock)


@pytest.fixture
def api(services: EventServices) -> ApiCaller:
    return ApiCaller(lambda: build_app(lambda: services))


@pytest.fixture
def tenant(admin: EventsAdmin, tenant_id: str) -> TenantWithSecret:
    """A tenant with an open registration OrderPlaced/v01."""
    created = admin.create_tenant(tenant_id, "Test tenant")
    admin.register_event(tenant_id, "OrderPlaced", "v01")
    return created
