"""Credentials are write-only: given to the admin API once, never seen again anywhere.

A connector is created through the API with a canary password; then every admin answer, the
audit log, every DynamoDB item and the stack's whole output (its logs, read after it stopped)
are searched for them. The secret store is the one place they must be (the positive control).

Needs the connector routes (`POST /v1/admin/tenants/{tenantId}/connectors`, show, list).
"""

from __future__ import annotations

import json
import secrets
from typing import Any

import boto3

from eventrelay.admin_api.routing import admin_path
from eventrelay.connectors.auth import basic_authorization
from tests.support.admin_api import Answer, call, operator_token, tenant_admin_token
from tests.support.local_stack import RunningStack, stop_local_stack
from tests.support.waiting import wait_until

TENANT = "canary-co"
CONNECTOR = "crm"


def _client(stack: RunningStack, service: str, endpoint_variable: str) -> Any:
    return boto3.client(
        service,  # type: ignore[call-overload]
        region_name=stack.environ["AWS_REGION"],
        endpoint_url=stack.environ[endpoint_variable],
        aws_access_key_id=stack.environ["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=stack.environ["AWS_SECRET_ACCESS_KEY"],
    )


def every_dynamodb_item(stack: RunningStack) -> list[str]:
    dynamodb = _client(stack, "dynamodb", "AWS_ENDPOINT_URL_DYNAMODB")
    items: list[str] = []
    for table in dynamodb.list_tables()["TableNames"]:
        for page in dynamodb.get_paginator("scan").paginate(TableName=table):
            items.extend(json.dumps(item, default=str) for item in page["Items"])
    return items


def stored_secrets(stack: RunningStack) -> list[str]:
    manager = _client(stack, "secretsmanager", "AWS_ENDPOINT_URL")
    values: list[str] = []
    for page in manager.get_paginator("list_secrets").paginate():
        for listed in page["SecretList"]:
            value = manager.get_secret_value(SecretId=listed["Name"], VersionStage="AWSCURRENT")
            values.append(value["SecretString"])
    return values


def test_connector_credentials_never_come_back(local_stack: RunningStack) -> None:
    stack = local_stack
    # The username is an identifier the views show (the connector model says so); the password,
    # and the Authorization value built from it, are the secrets.
    username = f"user-{secrets.token_hex(4)}"
    password = f"canary-password-{secrets.token_hex(8)}"
    canaries = (password, basic_authorization(username, password).removeprefix("Basic "))
    answers: list[Answer] = []
    operator = operator_token(stack)
    tenant_admin = tenant_admin_token(stack, TENANT)
    connectors = admin_path("tenants", TENANT, "connectors")
    connector = admin_path("tenants", TENANT, "connectors", CONNECTOR)

    # Given a tenant, and a connector its admin creates with basic-auth credentials
    answers.append(call(stack, "POST", admin_path("tenants"), operator, {"tenantId": TENANT}))
    assert answers[-1].status == 201, answers[-1].text
    created = call(
        stack,
        "POST",
        connectors,
        tenant_admin,
        {
            "name": CONNECTOR,
            "baseUrl": "https://crm.example.test",
            "authType": "basic",
            "credentials": {"username": username, "password": password},
        },
    )
    answers.append(created)
    assert created.status in (200, 201), created.text
    # When the connector is read back every way the API offers, by its admin and by an operator
    for token in (tenant_admin, operator):
        answers.append(call(stack, "GET", connector, token))
        assert answers[-1].status == 200, answers[-1].text
        answers.append(call(stack, "GET", connectors, token))
        assert CONNECTOR in answers[-1].text
    # And a creation refused as a duplicate (the error echoes nothing of the body either)
    answers.append(
        call(
            stack,
            "POST",
            connectors,
            tenant_admin,
            {
                "name": CONNECTOR,
                "baseUrl": "https://crm.example.test",
                "authType": "basic",
                "credentials": {"username": username, "password": password},
            },
        )
    )
    assert (answers[-1].status, answers[-1].document["errorCode"]) == (409, "1012"), answers[-1].text
    audit = stack.cli("audit", "list", TENANT, "--json")
    assert audit.returncode == 0, audit.stderr
    assert CONNECTOR in audit.stdout  # the creation is audited ...
    items = every_dynamodb_item(stack)
    assert any(CONNECTOR in item for item in items)
    # ... and the credentials were stored: in the secret store, and only there
    assert any(username in value and password in value for value in stored_secrets(stack))

    for canary in canaries:
        for answer in answers:
            assert canary not in answer.text
        assert canary not in audit.stdout + audit.stderr
        assert not [item for item in items if canary in item]

    # Then, with the stack stopped (its output complete), no log line holds them either
    stop_local_stack(stack, timeout=60)
    # Lines are read in order: once the stop's own line is in, every earlier one is.
    wait_until(lambda: stack.printed("stopping ("), what="the stack's output up to its stop was read")
    output = "".join(stack.output)
    for canary in canaries:
        assert canary not in output
