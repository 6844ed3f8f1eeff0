"""CSRF: through `AdminApi.handle` on the embedded AWS, another origin's state change changes nothing."""

from __future__ import annotations

import json

import pytest

from eventrelay.admin import AdminService
from eventrelay.admin_api.edge import AdminApi
from eventrelay.admin_api.routes import all_routes
from eventrelay.admin_api.routing import AdminRequest, admin_path
from eventrelay.admin_auth import Principal
from eventrelay.settings import Settings
from eventrelay.tenants import TenantNotFound
from tests.support.roots import admin_service

OPERATOR = Principal("operator@example", is_operator=True)
API_ORIGIN = "https://api.example"


@pytest.fixture
def admin(settings: Settings) -> AdminService:
    return admin_service(settings)


@pytest.fixture
def api(admin: AdminService) -> AdminApi:
    return AdminApi(admin, lambda header: OPERATOR, all_routes())


def create_tenant(api: AdminApi, tenant_id: str, origin: str | None) -> tuple[int, dict[str, object]]:
    headers = {"host": "api.example", "x-forwarded-proto": "https", "content-type": "application/json"}
    if origin is not None:
        headers["origin"] = origin
    answer = api.handle(
        AdminRequest(
            "POST", admin_path("tenants"), "req-1", headers, {}, json.dumps({"tenantId": tenant_id}).encode()
        )
    )
    return answer.status, answer.body


def test_another_origin_cannot_create_a_tenant(api: AdminApi, admin: AdminService, tenant_id: str) -> None:
    status, body = create_tenant(api, tenant_id, "http://127.0.0.1:9999")
    assert status == 403
    assert body["errorCode"] == "1015"
    assert body["errorDesc"] == "Cross-origin request refused"
    assert (
        "Access-Control-Allow-Origin"
        not in api.handle(
            AdminRequest("GET", admin_path("me"), "req-2", {"origin": "http://127.0.0.1:9999"})
        ).headers
    )
    with pytest.raises(TenantNotFound):
        admin.tenants.show(tenant_id)


def test_the_api_own_origin_and_no_origin_may(api: AdminApi, admin: AdminService, tenant_id: str) -> None:
    status, _ = create_tenant(api, tenant_id, API_ORIGIN)
    assert status == 201
    status, _ = create_tenant(api, tenant_id + "-cli", None)
    assert status == 201
    assert admin.tenants.show(tenant_id + "-cli").tenant_id == tenant_id + "-cli"
