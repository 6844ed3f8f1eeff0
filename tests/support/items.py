"""Raw looks at what the stack stored, for tests that prove what is (not) there."""

from __future__ import annotations

import re
from typing import Any

from eventrelay.aws import dynamodb_client
from eventrelay.settings import Settings


def tenant_items(settings: Settings, tenant_id: str) -> list[dict[str, Any]]:
    """Every config-table item of the tenant (raw DynamoDB JSON), plus OAuth state items."""
    client = dynamodb_client(settings.region)
    items: list[dict[str, Any]] = []
    for page in client.get_paginator("scan").paginate(TableName=settings.config_table):
        for item in page.get("Items", []):
            pk = item["pk"]["S"]
            if pk == f"TENANT#{tenant_id}" or pk.startswith("OAUTH_STATE#"):
                items.append(item)
    return items


def delivery_items(settings: Settings, tenant_id: str) -> list[dict[str, Any]]:
    """Every deliveries-table item of the tenant (deliveries and their attempts, raw DynamoDB JSON)."""
    client = dynamodb_client(settings.region)
    items: list[dict[str, Any]] = []
    for page in client.get_paginator("scan").paginate(TableName=settings.deliveries_table):
        for item in page.get("Items", []):
            if item.get("tenantId", {}).get("S") == tenant_id:
                items.append(item)
    return items


def assert_absent(secrets_: dict[str, str], places: dict[str, str]) -> None:
    """No secret in any place; names the leak.

    Besides the exact value, its leading run of letters, digits and dashes is looked for too: it
    survives percent- and JSON-encoding, so an encoded leak is caught as well.
    """
    assert all(secrets_.values()), "a canary is empty"
    for place, text in places.items():
        for kind, secret in secrets_.items():
            core = re.match(r"[A-Za-z0-9-]+", secret)
            assert secret not in text, f"the {kind} leaked into {place}"
            assert core is None or len(core.group()) < 12 or core.group() not in text, (
                f"the {kind} leaked (encoded) into {place}"
            )
