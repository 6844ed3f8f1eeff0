"""The local stack run as a user runs it (`eventrelay local`), and its CLI."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from tests.support.waiting import process_is_gone, wait_until

EVENTRELAY = Path(sys.executable).parent / "eventrelay"
REPO_ROOT = Path(__file__).resolve().parents[2]
# The stack is started through this shell line when SIGINT must be ignored, as it is for a job
# a script puts in the background.
IGNORE_SIGINT = ["sh", "-c", 'trap "" INT; exec "$0" "$@"']


def user_environment() -> dict[str, str]:
    """This process's environment without the test session's AWS endpoints and settings."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "EVENTRELAY_"))}


@dataclass
class RunningStack:
    process: subprocess.Popen[str]
    api_url: str
    demo_secret: str
    state_dir: Path
    environ: dict[str, str]
    # Every line the stack printed so far (stdout and stderr), kept by a reader thread.
    output: list[str] = field(default_factory=list)

    @property
    def pid(self) -> int:
        return self.process.pid

    def printed(self, text: str) -> bool:
        return any(text in line for line in list(self.output))

    def dynamodb_local_pid(self) -> int:
        """The pid of the DynamoDB Local (java) this stack started."""
        [pid] = [child for child in descendants(self.pid) if "DynamoDBLocal" in command_line(child)]
        return pid

    def moto_server_pid(self) -> int:
        """The pid of the moto server (its own process, see backends.MotoServer) this stack started."""
        [pid] = [child for child in descendants(self.pid) if "local.moto_process" in command_line(child)]
        return pid

    def function_instance_pids(self, function_name: str) -> list[int]:
        """The pids of a function's instances alive now: its worker processes (lambda_worker.py),
        each started with AWS_LAMBDA_FUNCTION_NAME set to the function's logical id."""
        return [
            pid
            for pid in descendants(self.pid)
            if "local.lambda_worker" in command_line(pid)
            and environment_of(pid).get("AWS_LAMBDA_FUNCTION_NAME") == function_name
        ]

    def events_queue_is_idle(self) -> bool:
        """No event waiting, in flight or delayed: the stack's runner has finished every event it got."""
        sqs = boto3.client(
            "sqs",
            region_name=self.environ["AWS_REGION"],
            endpoint_url=self.environ["AWS_ENDPOINT_URL"],
            aws_access_key_id=self.environ["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=self.environ["AWS_SECRET_ACCESS_KEY"],
        )
        counts = sqs.get_queue_attributes(
            QueueUrl=self.environ["EVENTRELAY_EVENTS_QUEUE_URL"],
            AttributeNames=[
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed",
            ],
        )["Attributes"]
        return all(int(value) == 0 for value in counts.values())

    def cli(self, *argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """The CLI as a user runs it from the folder where `eventrelay local` wrote its state."""
        return subprocess.run(
            [str(EVENTRELAY), *argv],
            cwd=self.state_dir,
            env={**user_environment(), **(env or {})},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )


def json_log_lines(lines: list[str]) -> list[dict[str, Any]]:
    """The structured (Powertools) log lines among a process's output lines."""
    found = []
    for line in list(lines):
        if line.startswith("{"):
            with contextlib.suppress(ValueError):
                found.append(json.loads(line))
    return found


def drain(stream: object, into: list[str] | None = None) -> None:
    # Keep reading the stack's output so its logs can never fill the pipe and block it.
    for line in stream:  # type: ignore[attr-defined]
        if into is not None:
            into.append(line)


def start_local_stack(
    state_dir: Path, *options: str, launcher: Sequence[str] = (), startup_timeout: float = 120
) -> RunningStack:
    """`eventrelay local --port 0 --state-dir STATE_DIR OPTIONS` in its own process group, once it
    has printed its banner. `launcher` goes before the command (e.g. IGNORE_SIGINT)."""
    process = subprocess.Popen(
        [*launcher, str(EVENTRELAY), "local", "--port", "0", "--state-dir", str(state_dir), *options],
        cwd=REPO_ROOT,
        env=user_environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    assert process.stdout is not None
    banner: list[str] = []
    deadline = time.monotonic() + startup_timeout
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
    if not (api_url and secret):
        kill_group(process)
        raise AssertionError(f"the local stack did not start:\n{text}")
    output = list(banner)
    threading.Thread(target=drain, args=(process.stdout, output), daemon=True).start()
    state = json.loads((state_dir / ".eventrelay" / "local.json").read_text())
    return RunningStack(process, api_url.group(1), secret.group(1), state_dir, state["environ"], output)


def stop_local_stack(stack: RunningStack, timeout: float = 60) -> None:
    """Ctrl-C's signal; if the stack is still running after `timeout` s, SIGKILL its process group."""
    stack.process.send_signal(signal.SIGINT)
    try:
        stack.process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_group(stack.process)
        raise


def kill_group(process: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


def _parent_of(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command in parentheses may hold spaces: the fields after its closing parenthesis are fixed.
    return int(stat.rsplit(")", 1)[1].split()[1])


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (Linux /proc)."""
    pids = [int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit()]
    parents = {candidate: _parent_of(candidate) for candidate in pids}
    found: list[int] = []
    frontier = [pid]
    while frontier:
        current = frontier.pop()
        children = [child for child, parent in parents.items() if parent == current]
        found.extend(children)
        frontier.extend(children)
    return found


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def environment_of(pid: int) -> dict[str, str]:
    """The environment a process was started with (Linux /proc); empty once it is gone."""
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return {}
    pairs = (entry.decode(errors="replace").partition("=") for entry in raw.split(b"\0") if entry)
    return {name: value for name, _, value in pairs}


def all_gone(pids: Sequence[int]) -> bool:
    return all(process_is_gone(pid) for pid in pids)


def wait_for_exit(process: subprocess.Popen[str], timeout: float) -> int:
    wait_until(lambda: process.poll() is not None, timeout=timeout, what="the stack's process exited")
    return process.returncode
