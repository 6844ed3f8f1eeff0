"""Shared fixtures: one embedded AWS per test session (DynamoDB Local for tables, moto for the rest)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from eventrelay.settings import Settings
from eventrelay_cli.local.environment import LocalAws
from tests.support.paths import EVENTS_DIR, REPO_ROOT, TEMPLATE

__all__ = ["EVENTS_DIR", "REPO_ROOT", "TEMPLATE"]  # tests/e2e/conftest.py still imports them from here


@pytest.fixture(scope="session")
def local_aws() -> Iterator[LocalAws]:
    """AWS over HTTP: DynamoDB Local (AWS's engine) for tables, moto server for SQS and Secrets Manager."""
    environment = LocalAws(
        template=TEMPLATE, stack_name="eventrelay-test", use_dynamodb_local=True, outbound_allow="127.0.0.0/8"
    )
    environment.start()
    environment.export()
    try:
        yield environment
    finally:
        environment.stop()


@pytest.fixture
def settings(local_aws: LocalAws) -> Settings:
    return local_aws.settings


@pytest.fixture
def tenant_id() -> str:
    """A tenant of this test alone, so tests share the backends without sharing state."""
    return f"t-{uuid.uuid4().hex[:12]}"
