"""moto's server in a process of its own: it serves, stops cleanly, and never outlives its starter."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap

import boto3

from eventrelay_cli.local.backends import MotoServer
from tests.support.waiting import process_is_gone, wait_until

STARTS_A_MOTO_SERVER_AND_WAITS = textwrap.dedent(
    """
    import sys
    from eventrelay_cli.local.backends import MotoServer
    server = MotoServer()
    server.start()
    print(server.pid, server.port, flush=True)
    sys.stdin.read()
    """
)


def _sqs(url: str) -> object:
    return boto3.client(
        "sqs", endpoint_url=url, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )


def _accepts_connections(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True


def test_the_server_runs_in_another_process_serves_sqs_and_stops_cleanly() -> None:
    server = MotoServer()
    server.start()
    try:
        assert server.pid is not None
        assert server.pid != os.getpid()
        # In its own session: Ctrl-C in the terminal (the stack's process group) does not reach it
        assert os.getsid(server.pid) == server.pid
        sqs = _sqs(server.url)
        queue = sqs.create_queue(QueueName="moto-process")["QueueUrl"]  # type: ignore[attr-defined]
        sqs.send_message(QueueUrl=queue, MessageBody="hello")  # type: ignore[attr-defined]
        [message] = sqs.receive_message(QueueUrl=queue)["Messages"]  # type: ignore[attr-defined]
        assert message["Body"] == "hello"
    finally:
        server.stop()
    pid = server.pid
    assert pid is not None
    # Stopped by the end of its input: it exited by itself (status 0), and its port is closed
    assert server._process is not None
    assert server._process.returncode == 0
    assert process_is_gone(pid)
    assert not _accepts_connections(server.port)


def test_sigint_to_the_server_does_not_stop_it() -> None:
    with MotoServer() as server:
        assert server.pid is not None
        os.kill(server.pid, signal.SIGINT)
        # Still serving after the signal (a request sent after it is answered)
        sqs = _sqs(server.url)
        created = sqs.create_queue(QueueName="after-sigint")  # type: ignore[attr-defined]
        assert created["QueueUrl"].endswith("/after-sigint")


def test_the_server_dies_with_a_starter_killed_with_sigkill() -> None:
    starter = subprocess.Popen(
        [sys.executable, "-c", STARTS_A_MOTO_SERVER_AND_WAITS],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert starter.stdout is not None
    pid_text, port_text = starter.stdout.readline().split()
    moto_pid, port = int(pid_text), int(port_text)
    assert _accepts_connections(port)
    # When the process that started it is killed (no handler of it runs)
    starter.kill()
    starter.wait(timeout=30)
    # Then the server ends too: no moto serves the dead stack's port
    wait_until(lambda: process_is_gone(moto_pid), timeout=30, what="the orphaned moto server ended")
    assert not _accepts_connections(port)
