"""Dataset runs and dataset rules through the admin API (`AdminApi.handle`), as a tenant's admin:
a dataset rule created without an event, the tenant's runs listed and one shown with its per-row
errors, another tenant's admin and an unknown run answered as not found; an upload URL for a
dataset rule's file (a presigned PUT on moto's S3), refused for anything but the tenant's dataset
rule."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from eventrelay.admin_api.routing import admin_path
from eventrelay.aws import dynamodb_client, s3_client
from eventrelay.datasets.models import RowError, Run, RunState
from eventrelay.datasets.reader import DatasetFormat, Position
from eventrelay.datasets.store import RunStore
from eventrelay.datasets.uploads import MAX_UPLOAD_BYTES
from eventrelay.settings import Settings
from tests.integration.admin_api.conftest import Caller
from tests.support.delivery import Harness

ASK = Callable[[str], Caller]


def _ok(answer: Any, status: int = 200) -> Any:
    assert (answer.status, answer.body["result"]) == (status, True), answer.body
    return answer.body["data"]


def _refused(answer: Any) -> tuple[int, str]:
    assert answer.body["result"] is False, answer.body
    return answer.status, str(answer.body["errorCode"])


@pytest.fixture
def tenant(as_caller: ASK, tenant_id: str) -> str:
    _ok(as_caller("operator-token")("POST", admin_path("tenants"), {"tenantId": tenant_id}), 201)
    return tenant_id


def _run(tenant_id: str, run_id: str, created_at: float) -> Run:
    return Run(
        run_id=run_id,
        tenant_id=tenant_id,
        rule_name="escalations",
        bucket="datasets",
        key=f"tenants/{tenant_id}/rules/escalations/{run_id}.csv",
        version="etag-1",
        version_id=None,
        size=120,
        format=DatasetFormat.CSV,
        started_by="upload",
        state=RunState.ACCEPTED,
        created_at=created_at,
        updated_at=created_at,
    )


def test_a_dataset_rule_needs_no_event(as_caller: ASK, harness: Harness, tenant: str) -> None:
    harness.action(tenant, name="hook", url="/hook/{{n}}")
    alice = as_caller("alice-token")
    rule = {"name": "rows", "source": {"type": "dataset"}, "action": "hook", "mapping": {"n": "$.n"}}
    created = _ok(alice("POST", admin_path("tenants", tenant, "rules"), rule), 201)
    assert (created["source"], created["eventName"], created["eventVersion"]) == (
        {"type": "dataset"},
        None,
        None,
    )
    # An event rule still names its event (null is refused for it as for a missing name)
    event_rule = {**rule, "name": "events", "source": {"type": "events"}, "eventName": None}
    assert _refused(alice("POST", admin_path("tenants", tenant, "rules"), event_rule)) == (400, "1004")


def test_runs_are_listed_newest_first_and_shown_with_their_row_errors(
    as_caller: ASK, settings: Settings, tenant: str
) -> None:
    # Given two runs of the tenant, the newer one with a page read (two rows, one invalid)
    store = RunStore(settings.deliveries_table, dynamodb_client(settings.region))
    older, newer = _run(tenant, f"run-{tenant}-a", 1_000.0), _run(tenant, f"run-{tenant}-b", 2_000.0)
    assert store.create(older)
    assert store.create(newer)
    recorded = store.record_page(
        newer,
        Position(60, 4, 2),
        counts={"rows": 2, "invalid": 1, "queued": 1, "pending": 1},
        errors=[RowError(line=3, row=2, reason="amount: not a number")],
        columns=["id", "amount"],
        file_read=True,
    )
    assert recorded is not None
    alice = as_caller("alice-token")
    # When the tenant's admin lists them, then shows the newer
    listed = _ok(alice("GET", admin_path("tenants", tenant, "datasets", "runs")))
    shown = _ok(alice("GET", admin_path("tenants", tenant, "datasets", "runs", newer.run_id)))
    # Then
    assert [run["runId"] for run in listed["runs"]] == [newer.run_id, older.run_id]
    assert (shown["state"], shown["rows"], shown["invalid"], shown["pending"], shown["fileRead"]) == (
        "RUNNING",
        2,
        1,
        1,
        True,
    )
    assert shown["errors"] == [{"line": 3, "row": 2, "reason": "amount: not a number"}]
    one = _ok(alice("GET", admin_path("tenants", tenant, "datasets", "runs"), query={"limit": "1"}))
    assert [run["runId"] for run in one["runs"]] == [newer.run_id]
    # And another tenant's admin, an unknown run and a bad limit are refused
    mallory = as_caller("mallory-token")
    assert _refused(mallory("GET", admin_path("tenants", tenant, "datasets", "runs", newer.run_id))) == (
        404,
        "1011",
    )
    assert _refused(alice("GET", admin_path("tenants", tenant, "datasets", "runs", "run-none"))) == (
        404,
        "1011",
    )
    bad_limit = alice("GET", admin_path("tenants", tenant, "datasets", "runs"), query={"limit": "0"})
    assert _refused(bad_limit) == (400, "1004")


def test_an_upload_url_puts_a_file_of_the_tenants_dataset_rule_and_nothing_else(
    as_caller: ASK, harness: Harness, settings: Settings, tenant: str
) -> None:
    # Given a dataset rule and an event rule of the tenant
    harness.action(tenant, name="hook", url="/hook/{{n}}")
    rules = admin_path("tenants", tenant, "rules")
    alice = as_caller("alice-token")
    dataset_rule = {"name": "rows", "source": {"type": "dataset"}, "action": "hook", "mapping": {"n": "$.n"}}
    _ok(alice("POST", rules, dataset_rule), 201)
    _ok(alice("POST", rules, {**dataset_rule, "name": "events", "source": {"type": "events"},
                              "eventName": "OrderPlaced", "eventVersion": "v01"}), 201)  # fmt: skip
    uploads = admin_path("tenants", tenant, "datasets", "uploads")
    body = b"n\r\n1\r\n2\r\n"

    # When the tenant's admin asks for an upload URL for the dataset rule, then PUTs the file there
    ticket = _ok(alice("POST", uploads, {"rule": "rows", "fileName": "rows.csv", "size": len(body)}), 201)
    put = requests.put(ticket["url"], data=body, headers=ticket["headers"], timeout=30)

    # Then the file is stored under the rule's prefix, a key of its own per upload
    assert put.status_code == 200, put.text
    assert ticket["bucket"] == settings.datasets_bucket
    assert re.fullmatch(rf"tenants/{tenant}/rules/rows/\d{{8}}T\d{{6}}Z-rows\.csv", ticket["key"])
    stored = s3_client(settings.region).get_object(Bucket=ticket["bucket"], Key=ticket["key"])
    assert stored["Body"].read() == body
    # and the URL is SigV4, short-lived, and signs the declared length (S3 refuses another one)
    signed = parse_qs(urlsplit(ticket["url"]).query)
    assert (ticket["method"], ticket["headers"], ticket["size"]) == ("PUT", {"Content-Length": "9"}, 9)
    assert signed["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert signed["X-Amz-Expires"] == ["900"]
    assert "content-length" in signed["X-Amz-SignedHeaders"][0].split(";")
    assert ticket["expiresAt"].endswith("Z")

    # And another tenant's admin, an unknown rule, an event rule and bad inputs are refused
    mallory = as_caller("mallory-token")
    asked = {"rule": "rows", "fileName": "rows.csv", "size": 9}
    assert _refused(mallory("POST", uploads, asked)) == (404, "1011")
    assert _refused(alice("POST", uploads, {**asked, "rule": "no-such-rule"})) == (404, "1011")
    not_dataset = alice("POST", uploads, {**asked, "rule": "events"})
    assert _refused(not_dataset) == (400, "1004")
    assert "not a dataset rule" in not_dataset.body["message"]
    assert _refused(alice("POST", uploads, {**asked, "size": MAX_UPLOAD_BYTES + 1})) == (400, "1004")
    assert _refused(alice("POST", uploads, {**asked, "fileName": "../other/rows.csv"})) == (400, "1004")
    assert _refused(alice("POST", uploads, {"rule": "rows", "fileName": "rows.csv"})) == (400, "1004")
    assert _refused(alice("POST", uploads, {**asked, "bucket": "elsewhere"})) == (400, "1004")
