"""A tenant's shared secret never leaves the credential check: not in logs, metrics, answers or DynamoDB."""

from __future__ import annotations

import json
import logging

import boto3
import pytest

from eventrelay.settings import Settings
from eventrelay_cli.local.lambda_runtime import load_handler, make_context
from tests.support.api import PUBLISH_PATH, answer_of, http_event
from tests.support.paths import REPO_ROOT
from tests.support.roots import admin_service

CANARY = "canary-shared-secret-7f3a9c1e5b"


def test_the_shared_secret_appears_in_no_log_metric_answer_or_table_item(
    settings: Settings, tenant_id: str, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    # Given a tenant whose secret is a canary, and the publish function logging at DEBUG
    admin = admin_service(settings)
    admin.tenants.create(tenant_id, "Canary", shared_secret=CANARY)
    admin.events.register(tenant_id, "OrderPlaced", "v01")
    handler = load_handler(REPO_ROOT / "functions" / "publish")
    library_logger = logging.getLogger("eventrelay")
    previous_level = library_logger.level
    library_logger.setLevel(logging.DEBUG)
    caplog.set_level(logging.DEBUG)
    headers = {
        "Content-Type": "application/json",
        "tenantId": tenant_id,
        "eventName": "OrderPlaced",
        "eventVersion": "v01",
    }
    try:
        # When it accepts a call, refuses a near miss, and answers a validation error
        answers = [
            answer_of(
                handler(
                    http_event("POST", PUBLISH_PATH, {**headers, "sharedSecret": secret}, body),
                    make_context("PublishFunction", 10),
                )
            )
            for secret, body in ((CANARY, '{"ok": 1}'), (CANARY + "x", "{}"), (CANARY, "[1]"))
        ]
    finally:
        library_logger.setLevel(previous_level)
    # Then the answers are the contract's, and the canary is nowhere in them
    assert [a.status for a in answers] == [200, 401, 400]
    assert all(CANARY not in json.dumps(a.body) + json.dumps(a.headers) for a in answers)
    # And nowhere in what the function printed (structured logs, EMF metrics) or logged
    printed = capfd.readouterr()
    assert '"errorCode"' in printed.out  # the metrics (the refusals' Errors lines) really were captured
    assert CANARY not in printed.out + printed.err
    assert CANARY not in caplog.text
    # And not in any item of the stack's tables
    dynamodb = boto3.client("dynamodb", region_name=settings.region)
    for table in (settings.config_table, settings.limits_table):
        items = dynamodb.scan(TableName=table)["Items"]
        assert CANARY not in json.dumps(items)
