"""The admin API's routes through `AdminApi.handle`, on the embedded AWS, with fixed principals."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import pytest

from eventrelay.admin_api.edge import AdminApi, AdminResponse
from eventrelay.admin_api.routes import all_routes
from eventrelay.admin_api.routing import AdminRequest
from eventrelay.admin_auth import Principal
from eventrelay.aws import sqs_client
from eventrelay.delivery.schedule import RetryPolicy
from eventrelay.errors import Unauthenticated
from eventrelay.outbound.client import OutboundClient
from eventrelay.outbound.ssrf import SsrfGuard
from eventrelay.roots import AwsClients
from eventrelay.roots.admin import build_admin_service
from eventrelay.settings import Settings
from tests.support.api import ControlledClock
from tests.support.delivery import Harness


def _queue(settings: Settings, prefix: str) -> Iterator[str]:
    sqs = sqs_client(settings.region)
    url = sqs.create_queue(QueueName=f"{prefix}-{uuid.uuid4().hex[:12]}")["QueueUrl"]
    yield url
    sqs.delete_queue(QueueUrl=url)


@pytest.fixture
def runner_queue(settings: Settings) -> Iterator[str]:
    """The action runner's queue of this test alone."""
    yield from _queue(settings, "runner")


@pytest.fixture
def replay_queue(settings: Settings) -> Iterator[str]:
    """Where this test's admin API sends replays (the stack's events queue, for this test alone)."""
    yield from _queue(settings, "replays")


@pytest.fixture
def harness(settings: Settings, runner_queue: str) -> Iterator[Harness]:
    client = OutboundClient(SsrfGuard("127.0.0.0/8"), connect_timeout=10, read_timeout=10, deadline=20)
    built = Harness(
        settings, ControlledClock(time.time()), runner_queue, RetryPolicy(random=lambda: 0.5), client
    )
    yield built
    built.runner.close()
    client.close()


@dataclass(frozen=True)
class Caller:
    """Calls the admin API as one bearer token's principal."""

    api: AdminApi
    token: str

    def __call__(
        self,
        method: str,
        path: str,
        body: Mapping[str, Any] | None = None,
        query: Mapping[str, str] | None = None,
        request_id: str | None = None,
    ) -> AdminResponse:
        return self.api.handle(
            AdminRequest(
                method=method,
                path=path,
                request_id=request_id or f"req-{uuid.uuid4().hex[:12]}",
                headers={"authorization": f"Bearer {self.token}", "content-type": "application/json"},
                query=dict(query or {}),
                body=json.dumps(body).encode("utf-8") if body is not None else b"",
            )
        )


OPERATOR = Principal("user:operator", is_operator=True)


@pytest.fixture
def principals(tenant_id: str) -> dict[str, Principal]:
    """Bearer token → who it is: the operator, this tenant's admin, and another tenant's admin."""
    return {
        "operator-token": OPERATOR,
        "alice-token": Principal("user:alice", is_operator=False, tenants=frozenset({tenant_id})),
        "mallory-token": Principal("user:mallory", is_operator=False, tenants=frozenset({tenant_id + "-m"})),
    }


@pytest.fixture
def admin_api(settings: Settings, replay_queue: str, principals: dict[str, Principal]) -> AdminApi:
    admin_settings = settings.model_copy(update={"events_queue_url": replay_queue})

    def authenticate(authorization: str | None) -> Principal:
        token = (authorization or "").removeprefix("Bearer ")
        if token not in principals:
            raise Unauthenticated()
        return principals[token]

    service = build_admin_service(admin_settings, AwsClients.for_settings(admin_settings))
    return AdminApi(service, authenticate, all_routes())


@pytest.fixture
def as_caller(admin_api: AdminApi) -> Callable[[str], Caller]:
    return lambda token: Caller(admin_api, token)
