"""The local stack as a user runs it: one command, then plain HTTP against 127.0.0.1."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.conftest import REPO_ROOT
from tests.integration.outbound.http_servers import RecordingServer

EVENTRELAY = Path(sys.executable).parent / "eventrelay"


@dataclass
class RunningStack:
    process: subprocess.Popen[str]
    api_url: str
    demo_secret: str
    environ: dict[str, str]


@pytest.fixture(scope="module")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    state_dir = tmp_path_factory.mktemp("local-stack")
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "EVENTRELAY_"))}
    process = subprocess.Popen(
        [str(EVENTRELAY), "local", "--port", "0", "--state-dir", str(state_dir)],
        cwd=REPO_ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    banner: list[str] = []
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        banner.append(line)
        if line.startswith("Administer it"):
            break
    text = "".join(banner)
    api_url = re.search(r"Events API\s+(\S+)", text)
    secret = re.search(r"demo secret\s+(\S+)", text)
    assert api_url, text
    assert secret, text
    state = json.loads((state_dir / ".eventrelay" / "local.json").read_text())
    try:
        yield RunningStack(process, api_url.group(1), secret.group(1), state["environ"])
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)


ORDERS_CONFIG = """
tenant: demo
connectors:
  - {name: orders-api, baseUrl: ORDERS_BASE_URL}
actions:
  - name: record-order
    connector: orders-api
    method: POST
    url: orders/{{orderId}}
    payload: '{"orderId": "{{orderId}}", "total": {{total}}}'
    fields: [{name: total, type: Number}]
rules:
  - name: e2e-orders
    eventName: OrderPlaced
    eventVersion: v01
    action: record-order
    condition: {path: $.orderId, op: eq, value: o-e2e}
    mapping: {orderId: $.orderId, total: $.total}
"""


def _cli(local_stack: RunningStack, cwd: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "EVENTRELAY_"))}
    return subprocess.run(
        [str(EVENTRELAY), *argv],
        cwd=cwd,
        env={**environment, **local_stack.environ},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_published_event_reaches_the_queue_through_the_local_stack(
    local_stack: RunningStack, tmp_path: Path
) -> None:
    # The stack's action runner consumes the events queue, so the event is followed through it:
    # a rule for this order sends it to a recording HTTP server.
    with RecordingServer() as orders_api:
        (tmp_path / "config.yaml").write_text(ORDERS_CONFIG.replace("ORDERS_BASE_URL", orders_api.url()))
        applied = _cli(local_stack, tmp_path, "apply", "-f", "config.yaml")
        assert applied.returncode == 0, applied.stderr
        # When a publisher posts with plain HTTP, as in the README's curl example
        response = requests.post(
            f"{local_stack.api_url}/v1/eventManager/event",
            headers={
                "Content-Type": "application/json",
                "eventName": "OrderPlaced",
                "eventVersion": "v01",
                "tenantId": "demo",
                "sharedSecret": local_stack.demo_secret,
            },
            data=json.dumps({"orderId": "o-e2e", "total": 42}),
            timeout=30,
        )
        # Then it is accepted with the contract's headers
        assert response.status_code == 200, response.text
        event_id = response.json()["data"]["eventId"]
        assert response.headers["RateLimit-Limit"] == "100"
        # And the envelope went through the stack's events queue to the action runner, which called the API
        deadline = time.monotonic() + 30
        while not orders_api.requests and time.monotonic() < deadline:
            time.sleep(0.1)
        assert [(r.path, json.loads(r.body)) for r in orders_api.requests] == [
            ("/orders/o-e2e", {"orderId": "o-e2e", "total": 42})
        ]
    listed = _cli(local_stack, tmp_path, "--json", "delivery", "list", "demo", "--event-id", event_id)
    assert listed.returncode == 0, listed.stderr
    assert [(d["eventId"], d["state"]) for d in json.loads(listed.stdout)] == [(event_id, "SUCCEEDED")]


def test_errors_over_http_have_the_contract_shape(local_stack: RunningStack) -> None:
    response = requests.post(
        f"{local_stack.api_url}/v1/eventManager/event",
        headers={
            "Content-Type": "application/json",
            "eventName": "OrderPlaced",
            "eventVersion": "v01",
            "tenantId": "demo",
            "sharedSecret": "wrong",
        },
        data="{}",
        timeout=30,
    )
    assert response.status_code == 401
    body = response.json()
    assert body["errorCode"] == "1005"
    assert body["requestId"] == response.headers["X-Request-Id"]


def test_bulk_jobs_are_expanded_by_the_local_bulk_worker(local_stack: RunningStack) -> None:
    headers = {
        "Content-Type": "application/json",
        "tenantId": "demo",
        "sharedSecret": local_stack.demo_secret,
    }
    events = [
        {"eventName": "OrderPlaced", "eventVersion": "v01", "payload": {"n": 1}},
        {"eventName": "Nope", "eventVersion": "v01", "payload": {}},
    ]
    accepted = requests.post(
        f"{local_stack.api_url}/v1/eventManager/events/bulk",
        headers=headers,
        data=json.dumps({"events": events}),
        timeout=30,
    )
    assert accepted.status_code == 202
    job_id = accepted.json()["data"]["jobId"]
    status = None
    for _ in range(40):  # polls count against the sync limit (100 per minute)
        status = requests.get(
            f"{local_stack.api_url}/v1/eventManager/jobs/{job_id}", headers=headers, timeout=30
        ).json()
        if status["data"]["status"] not in ("ACCEPTED", "PROCESSING"):
            break
        time.sleep(0.25)
    assert status is not None
    assert (status["data"]["status"], status["data"]["successCount"], status["data"]["failureCount"]) == (
        "PARTIAL_SUCCESS",
        1,
        1,
    )
