"""A connector's rate limit through every admin surface: the admin API routes, the CLI and `apply`.

What an admin sets is what the runner reads: each test ends by reading the connector from the
store the runner uses.
"""

from __future__ import annotations

import io
import json
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from eventrelay.admin import AdminService
from eventrelay.admin_api.edge import AdminApi, AdminResponse
from eventrelay.admin_api.routes import all_routes
from eventrelay.admin_api.routing import AdminRequest, admin_path
from eventrelay.admin_auth import Principal
from eventrelay.connectors.models import RateLimit
from eventrelay.roots import AwsClients
from eventrelay.roots.connectors import build_connector_services
from eventrelay.settings import Settings
from eventrelay_cli.main import main
from tests.support.roots import admin_service

OPERATOR = Principal("operator@example", is_operator=True)
EXIT_USAGE = 2


@pytest.fixture
def admin(settings: Settings) -> AdminService:
    return admin_service(settings)


@pytest.fixture(autouse=True)
def _away_from_a_running_local_stack(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))


def call(admin: AdminService, method: str, *segments: str, body: Any = None) -> AdminResponse:
    api = AdminApi(admin, lambda _authorization: OPERATOR, all_routes())
    return api.handle(
        AdminRequest(
            method=method,
            path=admin_path(*segments),
            request_id=f"test-{uuid.uuid4()}",
            headers={"authorization": "Bearer test", "content-type": "application/json"},
            query={},
            body=json.dumps(body).encode("utf-8") if body is not None else b"",
        )
    )


def answer(response: AdminResponse) -> dict[str, Any]:
    return response.body


def stored_rate_limit(settings: Settings, tenant: str, name: str) -> RateLimit | None:
    """The rate limit as the runner reads it (its connector lookup is this store)."""
    store = build_connector_services(settings, AwsClients.for_settings(settings)).store
    return store.get(tenant, name).rate_limit


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any]:
    code = main(["--json", *argv])
    out, _err = capsys.readouterr()
    lines = out.strip().splitlines()
    return code, json.loads(lines[-1]) if code == 0 and lines else None


def test_the_routes_set_merge_and_remove_a_rate_limit(
    admin: AdminService, settings: Settings, tenant: str
) -> None:
    connectors = ("tenants", tenant, "connectors")
    # When a connector is created with a limit per second
    created = call(
        admin,
        "POST",
        *connectors,
        body={"name": "jira", "baseUrl": "https://jira.example/api", "rateLimit": {"perSecond": 5}},
    )
    # Then the view shows it, and the runner's store holds it
    assert created.status == 201
    assert answer(created)["data"]["rateLimit"] == {"perSecond": 5, "perMinute": None}
    assert stored_rate_limit(settings, tenant, "jira") == RateLimit(per_second=5)
    # When a PATCH gives a per-minute value: it is added, the per-second one stays
    patched = call(admin, "PATCH", *connectors, "jira", body={"rateLimit": {"perMinute": 100}})
    assert answer(patched)["data"]["rateLimit"] == {"perSecond": 5, "perMinute": 100}
    assert answer(patched)["data"]["changed"] is True
    # When a PATCH nulls one value, only that one goes
    patched = call(admin, "PATCH", *connectors, "jira", body={"rateLimit": {"perSecond": None}})
    assert answer(patched)["data"]["rateLimit"] == {"perSecond": None, "perMinute": 100}
    # When a PATCH leaves rateLimit out, the limit is kept
    patched = call(admin, "PATCH", *connectors, "jira", body={"description": "Jira"})
    assert stored_rate_limit(settings, tenant, "jira") == RateLimit(per_minute=100)
    # When a PATCH says rateLimit null, calls are no longer paced
    removed = call(admin, "PATCH", *connectors, "jira", body={"rateLimit": None})
    assert answer(removed)["data"]["rateLimit"] is None
    assert stored_rate_limit(settings, tenant, "jira") is None
    # And a connector created without one shows null
    plain = call(admin, "POST", *connectors, body={"name": "hooks", "baseUrl": "https://hooks.example"})
    assert answer(plain)["data"]["rateLimit"] is None


@pytest.mark.parametrize(
    ("rate_limit", "named"),
    [
        ({"perSecond": 0}, "per_second"),
        ({"perMinute": 60_001}, "per_minute"),
        ({"perSecond": "5"}, "rateLimit.perSecond"),
        ({"perHour": 5}, "rateLimit.perHour"),
        ({"perSecond": 2.5}, "rateLimit.perSecond"),
        ("fast", "rateLimit"),
    ],
)
def test_an_invalid_rate_limit_is_refused_naming_it(
    admin: AdminService, tenant: str, rate_limit: Any, named: str
) -> None:
    body = {"name": "jira", "baseUrl": "https://jira.example/api", "rateLimit": rate_limit}
    refused = call(admin, "POST", "tenants", tenant, "connectors", body=body)
    assert refused.status == 400
    assert answer(refused)["errorCode"] == "1004"
    assert named in json.dumps(answer(refused))


def test_the_cli_sets_changes_and_removes_a_rate_limit(
    capsys: pytest.CaptureFixture[str], settings: Settings, tenant: str
) -> None:
    # When a connector is created with --rate-per-second
    code, created = run_cli(
        capsys,
        *("connector", "create", tenant, "jira", "--base-url", "https://jira.example/api"),
        "--rate-per-second",
        "5",
    )
    assert code == 0
    assert created["rateLimit"] == {"perSecond": 5, "perMinute": None}
    # When --rate-per-minute is added by update, both apply
    code, updated = run_cli(capsys, "connector", "update", tenant, "jira", "--rate-per-minute", "120")
    assert (code, updated["rateLimit"]) == (0, {"perSecond": 5, "perMinute": 120})
    assert stored_rate_limit(settings, tenant, "jira") == RateLimit(per_second=5, per_minute=120)
    # When --no-rate-limit is given, the limit is gone
    code, updated = run_cli(capsys, "connector", "update", tenant, "jira", "--no-rate-limit")
    assert (code, updated["rateLimit"]) == (0, None)
    assert stored_rate_limit(settings, tenant, "jira") is None
    # And contradictory or out-of-range options are usage errors that change nothing
    code, _ = run_cli(
        capsys, "connector", "update", tenant, "jira", "--no-rate-limit", "--rate-per-second", "3"
    )
    assert code == EXIT_USAGE
    code, _ = run_cli(capsys, "connector", "update", tenant, "jira", "--rate-per-second", "0")
    assert code == EXIT_USAGE
    assert stored_rate_limit(settings, tenant, "jira") is None


CONFIG = """
tenant: {tenant}
connectors:
  - name: jira
    baseUrl: https://jira.example
{rate_limit}
"""


def test_apply_sets_changes_and_removes_a_rate_limit(
    capsys: pytest.CaptureFixture[str], settings: Settings, tenant: str, tmp_path: Path
) -> None:
    config = tmp_path / "config.yaml"
    # When a file with a rate limit is applied
    config.write_text(CONFIG.format(tenant=tenant, rate_limit="    rateLimit: {perSecond: 5}"), "utf-8")
    assert main(["apply", "-f", str(config)]) == 0
    assert stored_rate_limit(settings, tenant, "jira") == RateLimit(per_second=5)
    # When the same file is applied again, nothing changes
    code, report = run_cli(capsys, "apply", "-f", str(config))
    assert code == 0
    assert json.dumps(report).count('"unchanged"') >= 1
    assert "rateLimit" not in json.dumps(report)
    # When the file changes the limit, the change is named and applied
    config.write_text(
        CONFIG.format(tenant=tenant, rate_limit="    rateLimit: {perSecond: 2, perMinute: 60}"), "utf-8"
    )
    code, report = run_cli(capsys, "apply", "-f", str(config))
    assert code == 0
    assert "rateLimit" in json.dumps(report)
    assert stored_rate_limit(settings, tenant, "jira") == RateLimit(per_second=2, per_minute=60)
    # When the file no longer has one, the limit is removed
    config.write_text(CONFIG.format(tenant=tenant, rate_limit=""), "utf-8")
    assert main(["apply", "-f", str(config)]) == 0
    assert stored_rate_limit(settings, tenant, "jira") is None
    capsys.readouterr()
    # And an invalid limit is refused with its location in the file
    config.write_text(CONFIG.format(tenant=tenant, rate_limit="    rateLimit: {perSecond: 0}"), "utf-8")
    assert main(["apply", "-f", str(config)]) == EXIT_USAGE
    assert "rateLimit.perSecond" in capsys.readouterr().err
