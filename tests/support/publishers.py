"""Many publishers at once against a local HTTP API, over real sockets on 127.0.0.1."""

from __future__ import annotations

import contextlib
import http.client
import json
import threading
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urlsplit

from eventrelay.settings import Settings
from tests.support.roots import admin_service

PUBLISH_PATH = "/v1/eventManager/event"


@dataclass(frozen=True)
class Publisher:
    tenant_id: str
    shared_secret: str


@dataclass(frozen=True)
class Publication:
    """One publish: who sent it, the marker its payload carries, and what came back."""

    publisher: Publisher
    marker: str
    status: int | None = None
    body: dict[str, object] | None = None
    request_id: str | None = None
    failure: str | None = None  # the exception's type when no HTTP answer came (reset, timeout)

    @property
    def event_id(self) -> str | None:
        data = (self.body or {}).get("data")
        return str(data["eventId"]) if isinstance(data, dict) and "eventId" in data else None


def create_publishers(settings: Settings, count: int, event_name: str = "OrderPlaced") -> list[Publisher]:
    """`count` new tenants, each with `event_name`/v01 registered (any JSON object)."""
    admin = admin_service(settings)
    publishers = []
    for _ in range(count):
        tenant_id = f"t-{uuid.uuid4().hex[:12]}"
        created = admin.tenants.create(tenant_id, "load test")
        admin.events.register(tenant_id, event_name, "v01")
        publishers.append(Publisher(tenant_id, created.shared_secret))
    return publishers


def _headers(publisher: Publisher, idempotency_key: str | None) -> dict[str, str]:
    headers = {
        "Content-Type": "application/json",
        "eventName": "OrderPlaced",
        "eventVersion": "v01",
        "tenantId": publisher.tenant_id,
        "sharedSecret": publisher.shared_secret,
    }
    if idempotency_key is not None:
        headers["Idempotency-Key"] = idempotency_key
    return headers


def _exchange(
    connection: http.client.HTTPConnection, publisher: Publisher, marker: str, idempotency_key: str | None
) -> Publication:
    payload = {"tenant": publisher.tenant_id, "marker": marker}
    try:
        connection.request("POST", PUBLISH_PATH, json.dumps(payload), _headers(publisher, idempotency_key))
        response = connection.getresponse()
        body = json.loads(response.read() or b"null")
        return Publication(publisher, marker, response.status, body, response.getheader("X-Request-Id"))
    except (OSError, http.client.HTTPException, ValueError) as exc:
        return Publication(publisher, marker, failure=type(exc).__name__)
    finally:
        connection.close()


def publish_all_at_once(
    api_url: str, senders: Sequence[tuple[Publisher, str]], timeout: float = 180
) -> list[Publication]:
    """Open one connection per (publisher, marker), then send every request at the same moment."""
    address = urlsplit(api_url)
    host, port = address.hostname or "127.0.0.1", address.port or 80
    outcomes: list[Publication | None] = [None] * len(senders)
    everyone_connected = threading.Barrier(len(senders))

    def publish(index: int) -> None:
        publisher, marker = senders[index]
        connection = http.client.HTTPConnection(host, port, timeout=timeout)
        try:
            connection.connect()
        except OSError as exc:
            outcomes[index] = Publication(publisher, marker, failure=type(exc).__name__)
            everyone_connected.abort()
            return
        # If another connection failed the barrier breaks: send anyway, every answer still counts.
        with contextlib.suppress(threading.BrokenBarrierError):
            everyone_connected.wait(timeout)
        outcomes[index] = _exchange(connection, publisher, marker, None)

    threads = [threading.Thread(target=publish, args=(i,), daemon=True) for i in range(len(senders))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout + 30)
    return [
        outcome or Publication(senders[i][0], senders[i][1], failure="NoAnswer")
        for i, outcome in enumerate(outcomes)
    ]


def publish_concurrently(
    api_url: str,
    senders: Sequence[tuple[Publisher, str]],
    concurrency: int,
    *,
    idempotency_keys: bool = False,
    timeout: float = 60,
) -> list[Publication]:
    """Each (publisher, marker) once, `concurrency` at a time; the marker is the Idempotency-Key if asked."""
    address = urlsplit(api_url)
    host, port = address.hostname or "127.0.0.1", address.port or 80

    def publish(sender: tuple[Publisher, str]) -> Publication:
        publisher, marker = sender
        connection = http.client.HTTPConnection(host, port, timeout=timeout)
        return _exchange(connection, publisher, marker, marker if idempotency_keys else None)

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        return list(pool.map(publish, senders))
