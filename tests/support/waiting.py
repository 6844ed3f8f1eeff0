"""Waiting in tests: on a condition with a deadline, never for a fixed time.

`wait_until` polls a condition until it holds or the deadline passes (then it fails the test,
saying what it waited for). To prove that something did NOT happen, wait for a later event that
would come after it (a probe connection queued behind any leaked one, a barrier, a handler that
finished, a process that is gone), then assert.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

DEFAULT_TIMEOUT_SECONDS = 10.0
DEFAULT_POLL_SECONDS = 0.01


def wait_until(
    condition: Callable[[], bool],
    what: str = "the condition holds",
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
    interval: float = DEFAULT_POLL_SECONDS,
) -> bool:
    """True once `condition()` holds; fails the test, naming `what`, if it does not within `timeout` s."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting until {what}")
        # Polling interval of a condition with a deadline (not a wait that orders or proves anything).
        time.sleep(interval)
    return True


def process_is_gone(pid: int) -> bool:
    """True once no process has this id (it exited and was reaped)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False
