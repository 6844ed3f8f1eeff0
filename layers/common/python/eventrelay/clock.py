"""Time as the logic sees it: injectable so tests can control window boundaries and expiries."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], float]

system_clock: Clock = time.time


def iso_utc(epoch_seconds: float) -> str:
    """RFC 3339 / ISO 8601 UTC timestamp with milliseconds, e.g. 2026-11-23T10:15:00.123Z."""
    return (
        datetime.fromtimestamp(epoch_seconds, tz=UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )
