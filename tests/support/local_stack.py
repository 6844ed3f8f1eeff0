"""The local stack run as a user runs it (`eventrelay local`), and its CLI."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

EVENTRELAY = Path(sys.executable).parent / "eventrelay"


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
    output: list[str] = field(default_factory=list)  # the stack's stdout and stderr, line by line

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


def drain(stream: object, lines: list[str] | None = None) -> None:
    # Keep reading the stack's output so its logs can never fill the pipe and block it.
    for line in stream:  # type: ignore[attr-defined]
        if lines is not None:
            lines.append(line)


def json_log_lines(lines: list[str]) -> list[dict[str, Any]]:
    """The structured (Powertools) log lines among a process's output lines."""
    found = []
    for line in list(lines):
        if line.startswith("{"):
            with contextlib.suppress(ValueError):
                found.append(json.loads(line))
    return found
