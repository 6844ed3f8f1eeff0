"""Stopping the local gateway: no new connection from the first moment, every request under way answered."""

from __future__ import annotations

import socket
import threading
from typing import Any

import requests

from eventrelay_cli.local.http_gateway import HttpGateway
from eventrelay_cli.local.lambda_runtime import LocalFunction
from tests.support.waiting import wait_until


def _refuses_connections(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return False
    except ConnectionRefusedError:
        return True
    except ConnectionResetError:
        return False  # accepted by the kernel as the listening socket closed: not refused yet


def test_stop_refuses_new_connections_first_and_answers_the_requests_under_way() -> None:
    started = threading.Event()
    release = threading.Event()

    def slow_publish(event: dict[str, Any], context: object) -> dict[str, Any]:
        started.set()
        release.wait(30)
        return {"statusCode": 200, "body": "accepted"}

    gateway = HttpGateway(port=0)
    # A timeout far above the test's waits: the publish ends when the test releases it, not before.
    gateway.add_route(
        "POST /v1/eventManager/event", LocalFunction.from_handler("publish", slow_publish, timeout_seconds=60)
    )
    gateway.start()
    port = gateway.port
    answers: list[requests.Response | Exception] = []

    def publish() -> None:
        try:
            answers.append(requests.post(f"{gateway.url}/v1/eventManager/event", data=b"{}", timeout=30))
        except requests.RequestException as exc:
            answers.append(exc)

    publisher = threading.Thread(target=publish)
    publisher.start()
    wait_until(started.is_set, timeout=10, what="the publish under way")
    # When the gateway is told to stop while a publish is being handled
    stopper = threading.Thread(target=gateway.stop, kwargs={"drain_seconds": 30})
    stopper.start()
    # Then new connections are refused at once, while that publish is still running
    wait_until(lambda: _refuses_connections(port), timeout=10, what="new connections refused")
    assert answers == []
    # And the publish under way still gets its answer
    release.set()
    publisher.join(timeout=30)
    stopper.join(timeout=30)
    assert not stopper.is_alive()
    [answer] = answers
    assert isinstance(answer, requests.Response), answer
    assert (answer.status_code, answer.text) == (200, "accepted")
