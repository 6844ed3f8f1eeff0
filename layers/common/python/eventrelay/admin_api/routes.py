"""Every admin route, joined from the area modules (each module owns its routes and views)."""

from __future__ import annotations

from eventrelay.admin_api import actions, audit, connectors, datasets, deliveries, rules, tenants
from eventrelay.admin_api.routing import Route


def all_routes() -> tuple[Route, ...]:
    return (
        *tenants.routes,
        *connectors.routes,
        *actions.routes,
        *rules.routes,
        *deliveries.routes,
        *datasets.routes,
        *audit.routes,
    )
