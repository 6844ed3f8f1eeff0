"""The local stack as a user runs it: one command, then plain HTTP against 127.0.0.1."""

from __future__ import annotations

import json
from typing import Any

import requests

from tests.support.http_servers import RecordingServer
from tests.support.local_stack import RunningStack, json_log_lines
from tests.support.waiting import wait_until

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


def test_a_published_event_reaches_the_queue_through_the_local_stack(local_stack: RunningStack) -> None:
    # The stack's action runner consumes the events queue, so the event is followed through it:
    # a rule for this order sends it to a recording HTTP server.
    with RecordingServer() as orders_api:
        (local_stack.state_dir / "orders.yaml").write_text(
            ORDERS_CONFIG.replace("ORDERS_BASE_URL", orders_api.url())
        )
        applied = local_stack.cli("apply", "-f", "orders.yaml")
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
        wait_until(lambda: bool(orders_api.requests), timeout=30, what="the orders API called")
        assert [(r.path, json.loads(r.body)) for r in orders_api.requests] == [
            ("/orders/o-e2e", {"orderId": "o-e2e", "total": 42})
        ]
    listed = local_stack.cli("--json", "delivery", "list", "demo", "--event-id", event_id)
    assert listed.returncode == 0, listed.stderr
    assert [(d["eventId"], d["state"]) for d in json.loads(listed.stdout)["deliveries"]] == [
        (event_id, "SUCCEEDED")
    ]
    # And the runner's log lines carry its own name (in one shared interpreter they said
    # PublishFunction: Powertools' logger was shared; now each instance is its own process)
    wait_until(
        lambda: any(
            line.get("message") == "delivery succeeded" for line in json_log_lines(local_stack.output)
        ),
        timeout=30,
        what="the runner's log line",
    )
    lines = json_log_lines(local_stack.output)
    runner_names = {
        line.get("function_name") for line in lines if line.get("message") == "delivery succeeded"
    }
    assert runner_names == {"ActionRunnerFunction"}


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
    status: dict[str, Any] = {}

    def job_finished() -> bool:
        status.update(
            requests.get(
                f"{local_stack.api_url}/v1/eventManager/jobs/{job_id}", headers=headers, timeout=30
            ).json()
        )
        return status["data"]["status"] not in ("ACCEPTED", "PROCESSING")

    # Polls count against the sync limit (100 per minute): at most 40 of them.
    wait_until(job_finished, timeout=10, interval=0.25, what="the bulk job finished")
    assert (status["data"]["status"], status["data"]["successCount"], status["data"]["failureCount"]) == (
        "PARTIAL_SUCCESS",
        1,
        1,
    )
