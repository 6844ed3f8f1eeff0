"""Wait for a condition with a deadline (never a bare sleep to let something happen or not happen)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable


def wait_until(
    condition: Callable[[], bool], timeout: float = 10.0, interval: float = 0.05, what: str = "condition"
) -> None:
    """Return as soon as `condition()` holds; AssertionError if it still does not after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what} not met within {timeout}s")
        time.sleep(interval)


def process_is_gone(pid: int) -> bool:
    """True once no process has this id (it exited and was reaped)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False
