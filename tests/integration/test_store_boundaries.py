"""Every store's error boundary, over the wire.

- A DynamoDB (and Secrets Manager) endpoint that refuses connections, and one that answers HTTP 500,
  make EVERY public method of EVERY store raise DependencyFailure naming the dependency, never a
  botocore error and never AWS's message text.
- A refused condition raises ConditionFailed carrying the item as it stood (DynamoDB Local).
"""

from __future__ import annotations

import inspect
import json
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, get_type_hints

import boto3
import pytest
from botocore.config import Config
from pydantic import SecretStr

from eventrelay.actions.store import ActionStore
from eventrelay.aws import dynamodb_client
from eventrelay.bulk import Job, JobStatus, JobStore
from eventrelay.connectors.models import (
    AuthType,
    Connector,
    ConnectorHealth,
    ConnectorSpec,
    Credentials,
    HealthState,
)
from eventrelay.connectors.store import ConnectorStore
from eventrelay.delivery.models import AttemptOutcome, AttemptResult, Delivery, DeliveryState
from eventrelay.delivery.store import DeliveryStore
from eventrelay.dynamodb import ConditionFailed, Expression, Put, Table, Update
from eventrelay.errors import DependencyFailure
from eventrelay.idempotency import IdempotencyStore
from eventrelay.ratelimit import DEFAULT_LIMITS, FixedWindowRateLimiter, HitResult, LimitKind
from eventrelay.ratelimit.items import stats
from eventrelay.registrations import Registration, RegistrationStore
from eventrelay.rules.store import RuleStore
from eventrelay.settings import Settings
from eventrelay.tenants import LimitOverrides, TenantSecretStore, TenantStore

NOW = 1_790_000_000.0
# What a failing endpoint says; it must never reach a DependencyFailure's message.
AWS_TEXT = "internal detail quoted by AWS"


class _Answers500(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = json.dumps({"__type": "InternalServerError", "message": AWS_TEXT}).encode()
        self.send_response(500)
        self.send_header("Content-Type", "application/x-amz-json-1.0")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture(scope="module", params=["refused", "http-500"])
def failing_endpoint(request: pytest.FixtureRequest) -> Iterator[str]:
    if request.param == "refused":
        with socket.socket() as probe:  # a port nobody listens on once the probe is closed
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        yield f"http://127.0.0.1:{port}"
        return
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Answers500)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@dataclass(frozen=True)
class Stores:
    tenants: TenantStore
    tenant_secrets: TenantSecretStore
    registrations: RegistrationStore
    idempotency: IdempotencyStore
    jobs: JobStore
    limiter: FixedWindowRateLimiter
    connectors: ConnectorStore
    actions: ActionStore
    rules: RuleStore
    deliveries: DeliveryStore


@pytest.fixture(scope="module")
def stores(failing_endpoint: str) -> Stores:
    """One set per endpoint: stores keep no state from failed calls (caches hold answers only)."""

    def client(service: str) -> Any:
        return boto3.session.Session().client(
            service,
            region_name="us-east-1",
            endpoint_url=failing_endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(connect_timeout=0.5, read_timeout=0.5, retries={"total_max_attempts": 1}),
        )

    dynamodb, secrets = client("dynamodb"), client("secretsmanager")
    actions = ActionStore("config", dynamodb)
    return Stores(
        tenants=TenantStore("config", dynamodb),
        tenant_secrets=TenantSecretStore("eventrelay/", secrets),
        registrations=RegistrationStore("config", dynamodb),
        idempotency=IdempotencyStore("config", dynamodb),
        jobs=JobStore("config", dynamodb),
        limiter=FixedWindowRateLimiter("limits", dynamodb, clock=lambda: NOW),
        connectors=ConnectorStore("config", "eventrelay/", dynamodb, secrets, clock=lambda: NOW),
        actions=actions,
        rules=RuleStore("config", dynamodb, actions),
        deliveries=DeliveryStore("deliveries", dynamodb, clock=lambda: NOW),
    )


SPEC = ConnectorSpec(name="crm", base_url="https://crm.example/api", auth_type=AuthType.BASIC)
CREDENTIALS = Credentials(username="svc", password=SecretStr("pass"))
CONNECTOR = Connector(
    **SPEC.model_dump(),
    tenant_id="t1",
    health=ConnectorHealth(state=HealthState.AUTHORIZED, changed_at="2026-01-01T00:00:00Z"),
    created_at="2026-01-01T00:00:00Z",
    updated_at="2026-01-01T00:00:00Z",
    secret_id="eventrelay/connectors/t1/crm",
)
ACTION = {"connector": "crm", "name": "create-ticket", "method": "POST", "url": "/tickets"}
RULE = {"name": "tickets", "eventName": "OrderPlaced", "eventVersion": "v01", "action": "create-ticket"}
DELIVERY = Delivery(
    delivery_id="d1",
    tenant_id="t1",
    event_id="e1",
    event_name="OrderPlaced",
    event_version="v01",
    rule_name="tickets",
    action="create-ticket",
    state=DeliveryState.PENDING,
    created_at=NOW,
    updated_at=NOW,
    attempt_limit=3,
)
RESULT = AttemptResult(outcome=AttemptOutcome.SUCCESS, finished_at=NOW, status_code=200)
JOB = Job(
    jobId="j1",
    tenantId="t1",
    status=JobStatus.ACCEPTED,
    totalCount=1,
    createdAt="2026-01-01T00:00:00Z",
    updatedAt="2026-01-01T00:00:00Z",
    requestId="r1",
)
SYNC = DEFAULT_LIMITS[LimitKind.SYNC]
ADMITTED = HitResult(
    True,
    [stats(item, item.window_start(NOW), 1) for item in SYNC],
    [],
    tenant_id="t1",
    kind=LimitKind.SYNC,
    at=NOW,
)

Call = Callable[[Stores], Any]
# (store attribute, method name, the call): one per public method that talks to AWS.
CALLS: list[tuple[str, str, Call]] = [
    ("tenants", "create", lambda s: s.tenants.create("t1", "Tenant", NOW)),
    ("tenants", "get", lambda s: s.tenants.get("t1")),
    ("tenants", "list", lambda s: s.tenants.list()),
    ("tenants", "set_limits", lambda s: s.tenants.set_limits("t1", LimitOverrides(sync_per_minute=5))),
    ("tenant_secrets", "create", lambda s: s.tenant_secrets.create("t1", "s3cret")),
    ("tenant_secrets", "get", lambda s: s.tenant_secrets.get("t1")),
    ("tenant_secrets", "rotate", lambda s: s.tenant_secrets.rotate("t1", "n3w", 60, NOW)),
    ("tenant_secrets", "delete", lambda s: s.tenant_secrets.delete("t1")),
    (
        "registrations",
        "put",
        lambda s: s.registrations.put(Registration(tenant_id="t1", event_name="E", event_version="v01")),
    ),
    ("registrations", "get", lambda s: s.registrations.get("t1", "E", "v01")),
    ("registrations", "list", lambda s: s.registrations.list("t1")),
    ("registrations", "delete", lambda s: s.registrations.delete("t1", "E", "v01")),
    ("idempotency", "claim", lambda s: s.idempotency.claim("t1", "k", "f", "e1", NOW)),
    ("idempotency", "complete", lambda s: s.idempotency.complete("t1", "k")),
    ("idempotency", "release", lambda s: s.idempotency.release("t1", "k", "e1")),
    ("jobs", "put", lambda s: s.jobs.put(JOB, NOW)),
    ("jobs", "get", lambda s: s.jobs.get("t1", "j1")),
    ("jobs", "delete", lambda s: s.jobs.delete("t1", "j1")),
    ("limiter", "hit", lambda s: s.limiter.hit("t1", LimitKind.SYNC, SYNC)),
    ("limiter", "refund", lambda s: s.limiter.refund(ADMITTED)),
    ("limiter", "get_window_stats", lambda s: s.limiter.get_window_stats("t1", LimitKind.SYNC, SYNC)),
    ("connectors", "create", lambda s: s.connectors.create("t1", SPEC, CREDENTIALS)),
    ("connectors", "update", lambda s: s.connectors.update("t1", SPEC, CREDENTIALS)),
    ("connectors", "get", lambda s: s.connectors.get("t1", "crm")),
    ("connectors", "list", lambda s: s.connectors.list("t1")),
    ("connectors", "delete", lambda s: s.connectors.delete("t1", "crm")),
    ("connectors", "set_health", lambda s: s.connectors.set_health("t1", "crm", CONNECTOR.health)),
    ("connectors", "record_auth_failure", lambda s: s.connectors.record_auth_failure("t1", "crm")),
    ("connectors", "load_credentials", lambda s: s.connectors.load_credentials(CONNECTOR)),
    ("connectors", "save_credentials", lambda s: s.connectors.save_credentials(CONNECTOR, CREDENTIALS)),
    (
        "connectors",
        "put_authorization_state",
        lambda s: s.connectors.put_authorization_state("state", "t1", "crm", NOW + 600),
    ),
    ("connectors", "take_authorization_state", lambda s: s.connectors.take_authorization_state("state")),
    ("actions", "create", lambda s: s.actions.create("t1", ACTION)),
    ("actions", "get", lambda s: s.actions.get("t1", "create-ticket")),
    ("actions", "list", lambda s: s.actions.list("t1")),
    ("actions", "update", lambda s: s.actions.update("t1", ACTION)),
    ("actions", "update_fields", lambda s: s.actions.update_fields("t1", "create-ticket", [])),
    ("actions", "delete", lambda s: s.actions.delete("t1", "create-ticket")),
    ("rules", "create", lambda s: s.rules.create("t1", RULE)),
    ("rules", "update", lambda s: s.rules.update("t1", "tickets", {"enabled": False})),
    ("rules", "put", lambda s: s.rules.put("t1", RULE)),
    ("rules", "set_enabled", lambda s: s.rules.set_enabled("t1", "tickets", False)),
    ("rules", "delete", lambda s: s.rules.delete("t1", "tickets")),
    ("rules", "get", lambda s: s.rules.get("t1", "tickets")),
    ("rules", "list", lambda s: s.rules.list("t1")),
    ("rules", "rules_for_event", lambda s: s.rules.rules_for_event("t1", "OrderPlaced", "v01")),
    ("deliveries", "create_claimed", lambda s: s.deliveries.create_claimed(DELIVERY, "token", 30)),
    ("deliveries", "create", lambda s: s.deliveries.create(DELIVERY)),
    ("deliveries", "get", lambda s: s.deliveries.get("d1")),
    ("deliveries", "claim", lambda s: s.deliveries.claim(DELIVERY, "token", 30)),
    (
        "deliveries",
        "settle",
        lambda s: s.deliveries.settle(DELIVERY, "token", DeliveryState.SUCCEEDED, RESULT),
    ),
    ("deliveries", "reopen", lambda s: s.deliveries.reopen(DELIVERY, 3)),
    ("deliveries", "restore", lambda s: s.deliveries.restore(DELIVERY, DELIVERY)),
    ("deliveries", "attempt", lambda s: s.deliveries.attempt("d1", 1)),
    ("deliveries", "attempts", lambda s: s.deliveries.attempts("d1")),
    ("deliveries", "list_by_tenant", lambda s: list(s.deliveries.list_by_tenant("t1"))),
    (
        "deliveries",
        "list_by_state",
        lambda s: list(s.deliveries.list_by_state("t1", DeliveryState.PENDING)),
    ),
    ("deliveries", "list_by_event", lambda s: list(s.deliveries.list_by_event("t1", "e1"))),
]

# Public methods that never talk to AWS (names computed from arguments, a factory).
NO_IO = {
    ("tenant_secrets", "secret_name"),
    ("connectors", "secret_id"),
    ("connectors", "url_secret_id"),
}


@pytest.mark.parametrize(
    ("store", "method", "call"), [pytest.param(*case, id=f"{case[0]}.{case[1]}") for case in CALLS]
)
def test_every_store_method_fails_as_a_dependency_failure(
    stores: Stores, failing_endpoint: str, store: str, method: str, call: Call
) -> None:
    # Given a store whose DynamoDB and Secrets Manager refuse connections or answer 500
    # When the method is called, Then it raises DependencyFailure, naming the dependency only
    with pytest.raises(DependencyFailure) as failed:
        call(stores)
    message = str(failed.value)
    assert "DynamoDB table" in message or "Secrets Manager" in message
    assert AWS_TEXT not in message
    assert failing_endpoint not in message


def test_the_boundary_cases_cover_every_public_store_method() -> None:
    covered = {(store, method) for store, method, _ in CALLS} | NO_IO
    for attribute, store_class in get_type_hints(Stores).items():
        public = {
            name
            for name, member in inspect.getmembers(store_class)
            if not name.startswith("_") and callable(member)
        }
        missing = {name for name in public if (attribute, name) not in covered}
        assert not missing, f"{store_class.__name__}: no boundary case for {sorted(missing)}"


# ---- ConditionFailed carries the item as it stood (DynamoDB Local) -----------------------------


@pytest.fixture
def table(settings: Settings) -> Table:
    return Table(settings.config_table, dynamodb_client(settings.region))


@pytest.fixture
def stored(table: Table) -> dict[str, Any]:
    item = {
        "pk": f"TEST#{uuid.uuid4().hex}",
        "sk": "ITEM",
        "version": 3,
        "at": 1_790_000_000.25,
        "tags": {"a", "b"},
        "doc": {"nested": [1, "two", None, True]},
    }
    table.put(item)
    return item


def key_of(item: dict[str, Any]) -> dict[str, Any]:
    return {"pk": item["pk"], "sk": item["sk"]}


def test_a_refused_put_carries_the_stored_item(table: Table, stored: dict[str, Any]) -> None:
    new = Expression()
    with pytest.raises(ConditionFailed) as refused:
        table.put({**key_of(stored), "version": 1}, new.require(new.missing("pk")))
    assert refused.value.item == stored
    assert table.get(key_of(stored), consistent=True) == stored


def test_a_refused_update_carries_the_stored_item(table: Table, stored: dict[str, Any]) -> None:
    change = Expression()
    change.set("version", 5).require(change.equals("version", 4))
    with pytest.raises(ConditionFailed) as refused:
        table.update(key_of(stored), change)
    assert refused.value.item == stored


def test_a_refused_delete_carries_the_stored_item(table: Table, stored: dict[str, Any]) -> None:
    only_old = Expression()
    with pytest.raises(ConditionFailed) as refused:
        table.delete(key_of(stored), only_old.require(only_old.compare("version", "<", 3)))
    assert refused.value.item == stored


def test_a_condition_on_a_missing_item_fails_without_an_item(table: Table) -> None:
    existing = Expression()
    existing.set("version", 1).require(existing.exists("pk"))
    with pytest.raises(ConditionFailed) as refused:
        table.update({"pk": f"TEST#{uuid.uuid4().hex}", "sk": "ITEM"}, existing)
    assert refused.value.item is None


def test_a_cancelled_transaction_carries_the_item_of_the_write_refused(
    table: Table, stored: dict[str, Any]
) -> None:
    fresh = {"pk": f"TEST#{uuid.uuid4().hex}", "sk": "ITEM", "version": 1}
    new, bump = Expression(), Expression()
    bump.set("version", 4).require(bump.equals("version", 2))
    with pytest.raises(ConditionFailed) as refused:
        table.transact_write([Put(fresh, new.require(new.missing("pk"))), Update(key_of(stored), bump)])
    assert refused.value.items == (None, stored)
    assert refused.value.item == stored
    # Nothing was written: all or none
    assert table.get(key_of(fresh), consistent=True) is None
    assert table.get(key_of(stored), consistent=True) == stored


def test_a_condition_that_holds_writes_and_returns_the_new_values(
    table: Table, stored: dict[str, Any]
) -> None:
    bump = Expression()
    bump.increment("version", 1).add("hits", 2).remove("tags").require(bump.equals("version", 3))
    assert table.update(key_of(stored), bump, returns="UPDATED_NEW") == {"version": 4, "hits": 2}
    after = table.get(key_of(stored), consistent=True)
    assert after is not None
    assert "tags" not in after
