"""Events to actions on the local stack, as a user does it: `eventrelay local`, `eventrelay apply`, curl.

A real HTTP server on 127.0.0.1 plays the external API; the stack's action runner (the same
handler Lambda runs, fed by the local SQS event source) must send it exactly the rendered request,
exactly once.
"""

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
from typing import Any

import pytest
import requests

from tests.conftest import REPO_ROOT
from tests.integration.outbound.http_servers import RecordingServer

EVENTRELAY = Path(sys.executable).parent / "eventrelay"
SHOP_TOKEN = "shop-token-e2e-5b1f0c9a"


@dataclass
class Stack:
    process: subprocess.Popen[str]
    api_url: str
    demo_secret: str
    state_dir: Path

    def cli(self, *argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """The CLI as a user runs it from the folder where `eventrelay local` runs."""
        environment = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "EVENTRELAY_"))}
        return subprocess.run(
            [str(EVENTRELAY), *argv],
            cwd=self.state_dir,
            env={**environment, **(env or {})},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    state_dir = tmp_path_factory.mktemp("actions-stack")
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
    banner = []
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
    try:
        yield Stack(process, api_url.group(1), secret.group(1), state_dir)
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)


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


def publish(stack: Stack, payload: dict[str, Any]) -> str:
    response = requests.post(
        f"{stack.api_url}/v1/eventManager/event",
        headers={
            "Content-Type": "application/json",
            "eventName": "ShipmentCreated",
            "eventVersion": "v01",
            "tenantId": "demo",
            "sharedSecret": stack.demo_secret,
        },
        data=json.dumps(payload),
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return str(response.json()["data"]["eventId"])


def test_a_published_event_calls_the_configured_action_once_with_the_rendered_request(stack: Stack) -> None:
    with RecordingServer() as shop:
        # Given an event, a connector, an action and a rule, applied from one file
        (stack.state_dir / "config.yaml").write_text(CONFIG.replace("SHOP_BASE_URL", shop.url("/api")))
        applied = stack.cli("apply", "-f", "config.yaml", env={"SHOP_TOKEN": SHOP_TOKEN})
        assert applied.returncode == 0, applied.stderr
        assert "rule heavy-shipments: created" in applied.stdout
        # When a publisher posts two events with plain HTTP (the second does not meet the condition)
        event_id = publish(
            stack,
            {
                "id": "S/1",
                "carrier": {"name": "DHL Express"},
                "parcel": {"weight": 2.5},
                "flags": {"express": True},
            },
        )
        publish(stack, {"id": "S/2", "carrier": {"name": "UPS"}, "parcel": {"weight": 0.2}})
        # Then the shop receives exactly the rendered request
        deadline = time.monotonic() + 30
        while not shop.requests and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(2)  # and nothing more arrives
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
    listed = stack.cli("--json", "delivery", "list", "demo", "--event-id", event_id)
    assert listed.returncode == 0, listed.stderr
    [delivery] = json.loads(listed.stdout)
    assert (delivery["state"], delivery["attempts"], delivery["rule"], delivery["lastStatus"]) == (
        "SUCCEEDED",
        1,
        "heavy-shipments",
        200,
    )
    assert request.header("Idempotency-Key") == f"eventrelay-{delivery['deliveryId']}"
    shown = json.loads(stack.cli("--json", "delivery", "show", "demo", delivery["deliveryId"]).stdout)
    assert [(a["attempt"], a["outcome"], a["statusCode"]) for a in shown["attempts"]] == [(1, "SUCCESS", 200)]
