"""The local stack started as a user starts it (`eventrelay local`), one per test module."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import threading
import time
from collections.abc import Iterator

import pytest

from tests.conftest import REPO_ROOT
from tests.support.local_stack import EVENTRELAY, RunningStack, drain, user_environment


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
    state = json.loads((state_dir / ".eventrelay" / "local.json").read_text())
    stack = RunningStack(process, api_url.group(1), secret.group(1), state_dir, state["environ"])
    threading.Thread(target=drain, args=(process.stdout, stack.output), daemon=True).start()
    try:
        yield stack
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
