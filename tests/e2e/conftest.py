"""The local stack started as a user starts it (`eventrelay local`), one per test module."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

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


def _drain(stream: object) -> None:
    # Keep reading the stack's output so its logs can never fill the pipe and block it.
    for _ in stream:  # type: ignore[attr-defined]
        pass


@pytest.fixture(scope="module")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    state_dir = tmp_path_factory.mktemp("local-stack")
    process = subprocess.Popen(
        [str(EVENTRELAY), "local", "--port", "0", "--state-dir", str(state_dir)],
        cwd=REPO_ROOT,
        env=user_environment(),
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
    threading.Thread(target=_drain, args=(process.stdout,), daemon=True).start()
    state = json.loads((state_dir / ".eventrelay" / "local.json").read_text())
    try:
        yield RunningStack(process, api_url.group(1), secret.group(1), state_dir, state["environ"])
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
