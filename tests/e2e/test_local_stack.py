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

import boto3
import pytest
import requests

from tests.conftest import REPO_ROOT

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


def test_a_published_event_reaches_the_queue_through_the_local_stack(local_stack: RunningStack) -> None:
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
    # And the envelope is on the local stack's events queue
    env = local_stack.environ
    sqs = boto3.client(
        "sqs",
        region_name=env["AWS_REGION"],
        endpoint_url=env["AWS_ENDPOINT_URL"],
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    messages = sqs.receive_message(
        QueueUrl=env["EVENTRELAY_EVENTS_QUEUE_URL"], MaxNumberOfMessages=10, WaitTimeSeconds=2
    ).get("Messages", [])
    envelopes = [json.loads(m["Body"]) for m in messages]
    assert [e["payload"] for e in envelopes if e["eventId"] == event_id] == [
        {"orderId": "o-e2e", "total": 42}
    ]


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
