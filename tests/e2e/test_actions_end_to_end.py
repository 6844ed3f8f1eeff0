"""Events to actions on the local stack, as a user does it: `eventrelay local`, `eventrelay apply`, curl.

A real HTTP server on 127.0.0.1 plays the external API; the stack's action runner (the same
handler Lambda runs, fed by the local SQS event source) must send it exactly the rendered request,
exactly once.
"""

from __future__ import annotations

import json
from typing import Any

import requests

from tests.support.http_servers import RecordingServer
from tests.support.local_stack import RunningStack
from tests.support.waiting import wait_until

SHOP_TOKEN = "shop-token-e2e-5b1f0c9a"


CONFIG = """
tenant: demo
events:
  - {name: ShipmentCreated, version: v01}
connectors:
  - name: shop
    baseUrl: SHOP_BASE_URL
    headers: {X-Source: eventrelay}
    auth: {type: token, headers: {X-Api-Key: {env: SHOP_TOKEN}}}
actions:
  - name: notify-shipment
    connector: shop
    method: PUT
    url: shipments/{{shipmentId}}/notify?carrier={{carrier}}
    headers: {X-Priority: "{{priority}}"}
    payload: '{"shipment": "{{shipmentId}}", "weight": {{weight}}, "express": {{express}}}'
    fields:
      - {name: weight, type: Number}
      - {name: express, type: Boolean, default: false}
rules:
  - name: heavy-shipments
    eventName: ShipmentCreated
    eventVersion: v01
    action: notify-shipment
    condition: {path: $.parcel.weight, op: gte, value: 1}
    mapping:
      shipmentId: $.id
      carrier: $.carrier.name
      weight: {path: parcel.weight}
      express: $.flags.express
      priority: {constant: high}
"""


def publish(local_stack: RunningStack, payload: dict[str, Any]) -> str:
    response = requests.post(
        f"{local_stack.api_url}/v1/eventManager/event",
        headers={
            "Content-Type": "application/json",
            "eventName": "ShipmentCreated",
            "eventVersion": "v01",
            "tenantId": "demo",
            "sharedSecret": local_stack.demo_secret,
        },
        data=json.dumps(payload),
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return str(response.json()["data"]["eventId"])


def test_a_published_event_calls_the_configured_action_once_with_the_rendered_request(
    local_stack: RunningStack,
) -> None:
    with RecordingServer() as shop:
        # Given an event, a connector, an action and a rule, applied from one file
        (local_stack.state_dir / "config.yaml").write_text(CONFIG.replace("SHOP_BASE_URL", shop.url("/api")))
        applied = local_stack.cli("apply", "-f", "config.yaml", env={"SHOP_TOKEN": SHOP_TOKEN})
        assert applied.returncode == 0, applied.stderr
        assert "rule heavy-shipments: created" in applied.stdout
        # When a publisher posts two events with plain HTTP (the second does not meet the condition)
        event_id = publish(
            local_stack,
            {
                "id": "S/1",
                "carrier": {"name": "DHL Express"},
                "parcel": {"weight": 2.5},
                "flags": {"express": True},
            },
        )
        publish(local_stack, {"id": "S/2", "carrier": {"name": "UPS"}, "parcel": {"weight": 0.2}})
        # Then the shop receives exactly the rendered request
        wait_until(lambda: bool(shop.requests), timeout=30, what="the shop called")
        # and nothing more arrives: once the events queue holds nothing (waiting, in flight or
        # delayed), the runner has finished with both events
        wait_until(local_stack.events_queue_is_idle, timeout=30, what="the events queue idle")
        [request] = shop.requests
    assert request.method == "PUT"
    assert request.path == "/api/shipments/S%2F1/notify?carrier=DHL%20Express"
    assert request.body == b'{"shipment": "S/1", "weight": 2.5, "express": true}'
    assert request.header("Content-Type") == "application/json"
    assert request.header("X-Api-Key") == SHOP_TOKEN
    assert request.header("X-Priority") == "high"
    assert request.header("X-Source") == "eventrelay"
    assert (request.header("Idempotency-Key") or "").startswith("eventrelay-d-")
    # And the delivery is recorded as succeeded after one attempt
    listed = local_stack.cli("--json", "delivery", "list", "demo", "--event-id", event_id)
    assert listed.returncode == 0, listed.stderr
    [delivery] = json.loads(listed.stdout)["deliveries"]
    assert (delivery["state"], delivery["attempts"], delivery["rule"], delivery["lastStatus"]) == (
        "SUCCEEDED",
        1,
        "heavy-shipments",
        200,
    )
    assert request.header("Idempotency-Key") == f"eventrelay-{delivery['deliveryId']}"
    shown = json.loads(local_stack.cli("--json", "delivery", "show", "demo", delivery["deliveryId"]).stdout)
    assert [(a["attempt"], a["outcome"], a["statusCode"]) for a in shown["attempts"]] == [(1, "SUCCESS", 200)]
