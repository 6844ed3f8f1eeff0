"""The composition roots as tests use them: built from the embedded AWS settings and its clients."""

from __future__ import annotations

from eventrelay.admin import AdminService
from eventrelay.clock import Clock, system_clock
from eventrelay.roots import AwsClients
from eventrelay.roots.admin import build_admin_service
from eventrelay.roots.connectors import ConnectorServices
from eventrelay.settings import Settings


def admin_service(
    settings: Settings, clock: Clock = system_clock, *, connectors: ConnectorServices | None = None
) -> AdminService:
    return build_admin_service(settings, AwsClients.for_settings(settings), clock, connectors=connectors)
