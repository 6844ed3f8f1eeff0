"""The local stack as a user operates it: started twice, stopped from a script, killed, its parts
dying, restarted with its state. Each stack here is `eventrelay local` in its own process group."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from tests.support.http_servers import RecordingServer
from tests.support.local_stack import (
    EVENTRELAY,
    IGNORE_SIGINT,
    REPO_ROOT,
    RunningStack,
    all_gone,
    descendants,
    kill_group,
    start_local_stack,
    stop_local_stack,
    user_environment,
    wait_for_exit,
)
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
    payload: '{"orderId": "{{orderId}}"}'
rules:
  - name: every-order
    eventName: OrderPlaced
    eventVersion: v01
    action: record-order
    mapping: {orderId: $.orderId}
"""


def publish(stack: RunningStack, order_id: str, secret: str | None = None) -> requests.Response:
    return requests.post(
        f"{stack.api_url}/v1/eventManager/event",
        headers={
            "Content-Type": "application/json",
            "eventName": "OrderPlaced",
            "eventVersion": "v01",
            "tenantId": "demo",
            "sharedSecret": secret or stack.demo_secret,
        },
        data=json.dumps({"orderId": order_id}),
        timeout=60,
    )


def run_eventrelay_local(*options: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(EVENTRELAY), "local", *options],
        cwd=REPO_ROOT,
        env=user_environment(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture
def own_stack(tmp_path: Path) -> Iterator[list[RunningStack]]:
    """Stacks a test starts itself: whatever the test leaves running is killed with its group."""
    started: list[RunningStack] = []
    yield started
    for stack in started:
        if stack.process.poll() is None:
            kill_group(stack.process)


# Item 18: a second stack -----------------------------------------------------------------------


def test_a_stack_on_a_taken_port_exits_at_once_naming_it_and_leaves_the_running_one_alone(
    local_stack: RunningStack,
) -> None:
    endpoints = local_stack.state_dir / ".eventrelay" / "local.json"
    before = endpoints.read_text()
    port = urlsplit(local_stack.api_url).port
    assert port is not None
    # When a second stack is started on the same folder and the same port (`make run` twice)
    second = run_eventrelay_local("--port", str(port), "--state-dir", str(local_stack.state_dir))
    # Then it stops before starting anything, in one line naming the port and how to choose another
    assert second.returncode == 4, second.stderr
    assert second.stdout == ""
    [line] = second.stderr.splitlines()
    assert f"port {port} on 127.0.0.1 is in use" in line
    assert f"make run PORT={port + 1}" in line
    # And the running stack's endpoints file is untouched: its CLI still targets it
    assert endpoints.read_text() == before
    listed = local_stack.cli("--json", "tenant", "list")
    assert listed.returncode == 0, listed.stderr
    assert "demo" in listed.stdout


def test_a_stack_on_a_folder_a_running_stack_owns_refuses_to_start(local_stack: RunningStack) -> None:
    endpoints = local_stack.state_dir / ".eventrelay" / "local.json"
    before = endpoints.read_text()
    # When a second stack on another port is pointed at the running stack's state folder
    second = run_eventrelay_local("--port", "0", "--state-dir", str(local_stack.state_dir))
    # Then it refuses, naming the running stack, and touches nothing of it
    assert second.returncode == 4, second.stderr
    [line] = second.stderr.splitlines()
    assert f"a local stack (pid {local_stack.pid}) is running" in line
    assert "--state-dir" in line
    assert endpoints.read_text() == before
    assert publish(local_stack, "o-still-served").status_code == 200


def test_make_run_passes_the_port_and_other_options(local_stack: RunningStack, tmp_path: Path) -> None:
    taken = urlsplit(local_stack.api_url).port
    # `-o install`: the checkout is installed already; what is checked is the command `run` makes.
    made = subprocess.run(
        ["make", "-s", "-o", "install", "run", f"PORT={taken}", f"ARGS=--state-dir {tmp_path} --fresh"],
        cwd=REPO_ROOT,
        env=user_environment(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert made.returncode != 0
    assert f"port {taken} on 127.0.0.1 is in use" in made.stderr
    # The options after PORT reached `eventrelay local` too: an unknown one is refused by it.
    refused = subprocess.run(
        ["make", "-s", "-o", "install", "run", "PORT=0", "ARGS=--no-such-option"],
        cwd=REPO_ROOT,
        env=user_environment(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "No such option '--no-such-option'" in refused.stderr


# Item 11: DynamoDB Local -----------------------------------------------------------------------


def _listening_addresses(port: int) -> set[str]:
    """Local addresses (hex, as /proc/net/tcp* spell them) of the sockets listening on `port`."""
    addresses: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for row in Path(table).read_text().splitlines()[1:]:
            fields = row.split()
            address, hex_port = fields[1].rsplit(":", 1)
            if int(hex_port, 16) == port and fields[3] == "0A":  # 0A: LISTEN
                addresses.add(address)
    return addresses


LOOPBACK = {"0100007F", "0000000000000000FFFF00000100007F", "00000000000000000000000001000000"}


def test_dynamodb_local_listens_on_loopback_only(local_stack: RunningStack) -> None:
    port = urlsplit(local_stack.environ["AWS_ENDPOINT_URL_DYNAMODB"]).port
    assert port is not None
    addresses = _listening_addresses(port)
    assert addresses, f"nothing listens on DynamoDB Local's port {port}"
    assert addresses <= LOOPBACK, addresses


def test_moto_serves_from_its_own_process_on_loopback_only(local_stack: RunningStack) -> None:
    # The AWS emulators have processes of their own: the gateway and pollers get the stack's core
    moto = local_stack.moto_server_pid()
    assert moto != local_stack.pid
    port = urlsplit(local_stack.environ["AWS_ENDPOINT_URL"]).port
    assert port is not None
    addresses = _listening_addresses(port)
    assert addresses, f"nothing listens on moto's port {port}"
    assert addresses <= LOOPBACK, addresses


def test_when_dynamodb_local_dies_the_stack_says_so_and_brings_it_back(local_stack: RunningStack) -> None:
    assert publish(local_stack, "o-before").status_code == 200
    # When DynamoDB Local dies
    dead = local_stack.dynamodb_local_pid()
    os.kill(dead, signal.SIGKILL)
    # Then the stack says so on its output, naming it
    wait_until(
        lambda: local_stack.printed(f"DynamoDB Local (pid {dead}) died (signal 9)"),
        timeout=30,
        what="the stack reported DynamoDB Local's death",
    )
    # And brings it back with the tables as they were: the demo tenant and its registration answer
    wait_until(
        lambda: local_stack.printed("DynamoDB Local is back"), timeout=90, what="DynamoDB Local restarted"
    )
    assert local_stack.dynamodb_local_pid() != dead
    # A restarted JVM may answer its first calls slower than a publish's per-call timeout (the
    # publish then answers 1009 and consumes nothing, as documented): the stack is back when a
    # publish is accepted again, within a deadline.
    wait_until(
        lambda: publish(local_stack, "o-after").status_code == 200,
        timeout=60,
        what="a publish is accepted after the restart",
    )


# Item 19: stopping and dying -------------------------------------------------------------------


def test_a_stack_started_with_sigint_ignored_stops_on_sigint_with_its_children(
    tmp_path: Path, own_stack: list[RunningStack]
) -> None:
    # Given a stack started as a script's background job is (SIGINT ignored)
    stack = start_local_stack(tmp_path, launcher=IGNORE_SIGINT)
    own_stack.append(stack)
    children = descendants(stack.pid)
    assert stack.dynamodb_local_pid() in children
    assert stack.moto_server_pid() in children
    # When it gets Ctrl-C's signal
    stack.process.send_signal(signal.SIGINT)
    # Then it stops cleanly, and everything it started is gone
    assert wait_for_exit(stack.process, timeout=90) == 0
    assert stack.printed("stopping (SIGINT)")
    wait_until(lambda: all_gone(children), timeout=30, what="the stack's children ended")


def test_children_die_with_a_stack_killed_with_sigkill(tmp_path: Path, own_stack: list[RunningStack]) -> None:
    stack = start_local_stack(tmp_path)
    own_stack.append(stack)
    assert publish(stack, "o-1").status_code == 200  # a worker for the publish function
    java = stack.dynamodb_local_pid()
    children = descendants(stack.pid)
    assert java in children
    assert stack.moto_server_pid() in children
    assert len(children) >= 2, children
    # When the stack's own process is killed (no handler runs)
    stack.process.kill()
    stack.process.wait(timeout=30)
    # Then DynamoDB Local, the moto server and the function workers end too
    wait_until(lambda: all_gone(children), timeout=60, what="the killed stack's children ended")
    # And a stack started again on its folder (its lock died with it) has its tables and demo secret
    again = start_local_stack(tmp_path)
    own_stack.append(again)
    assert again.demo_secret == stack.demo_secret
    assert publish(again, "o-2").status_code == 200
    stop_local_stack(again)


# Items 11 and 12: draining on SIGTERM, state kept across a restart, --fresh ------------------


def test_sigterm_keeps_every_accepted_publish_and_a_restart_keeps_the_state(
    tmp_path: Path, own_stack: list[RunningStack]
) -> None:
    with RecordingServer() as orders_api:
        first = start_local_stack(tmp_path)
        own_stack.append(first)
        (tmp_path / "orders.yaml").write_text(ORDERS_CONFIG.replace("ORDERS_BASE_URL", orders_api.url()))
        applied = first.cli("apply", "-f", "orders.yaml")
        assert applied.returncode == 0, applied.stderr

        # Given publishers posting while the stack is told to stop
        accepted: list[str] = []
        server_errors: list[int] = []
        stopping = threading.Event()

        def publisher(number: int) -> None:
            sent = 0
            while not stopping.is_set():
                order_id = f"o-{number}-{sent}"
                sent += 1
                try:
                    response = publish(first, order_id)
                except requests.ConnectionError:
                    return  # the stack no longer accepts connections
                if response.status_code == 200:
                    accepted.append(order_id)
                elif response.status_code >= 500:
                    server_errors.append(response.status_code)

        publishers = [threading.Thread(target=publisher, args=(n,)) for n in range(4)]
        for thread in publishers:
            thread.start()
        try:
            wait_until(lambda: len(accepted) >= 12, timeout=60, what="publishes accepted")
            first.process.send_signal(signal.SIGTERM)
            assert wait_for_exit(first.process, timeout=120) == 0
        finally:
            stopping.set()
            for thread in publishers:
                thread.join(timeout=90)
        assert first.printed("stopping (SIGTERM)")
        assert server_errors == []

        # When the stack starts again on the same folder
        second = start_local_stack(tmp_path)
        own_stack.append(second)
        # Then the demo tenant kept its secret, and every publish answered 200 reaches the orders API
        assert second.demo_secret == first.demo_secret
        assert publish(second, "o-after-restart").status_code == 200

        def delivered() -> set[str]:
            return {request.path.rsplit("/", 1)[-1] for request in list(orders_api.requests)}

        wait_until(
            lambda: {*accepted, "o-after-restart"} <= delivered(),
            timeout=120,
            what="every accepted order delivered",
        )
        stop_local_stack(second)

        # And --fresh starts over: a new demo secret, no rule
        fresh = start_local_stack(tmp_path, "--fresh")
        own_stack.append(fresh)
        assert fresh.demo_secret != first.demo_secret
        rules = fresh.cli("--json", "rule", "list", "demo")
        assert rules.returncode == 0, rules.stderr
        assert "every-order" not in rules.stdout
        stop_local_stack(fresh)
