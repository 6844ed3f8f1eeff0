"""A batch reads each rule list, action and connector once, even with its records running concurrently."""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any

import pytest

from eventrelay.delivery.config import ConfigSnapshot


class CountingLookup:
    """Stands in for a store (this interface is the snapshot's own); counts reads, sleeps like I/O."""

    def __init__(self, missing: tuple[str, ...] = ()) -> None:
        self.reads: Counter[str] = Counter()
        self.missing = missing
        self.lock = threading.Lock()

    def get(self, tenant_id: str, name: str) -> Any:
        with self.lock:
            self.reads[name] += 1
        time.sleep(0.02)  # a store's read latency: concurrent callers arrive while a read is in flight
        if name in self.missing:
            raise LookupError(name)
        return {"tenant": tenant_id, "name": name}

    def rules_for_event(self, tenant_id: str, event_name: str, event_version: str) -> list[Any]:
        with self.lock:
            self.reads[f"{event_name}/{event_version}"] += 1
        return []


def test_each_item_is_read_once_per_snapshot_even_concurrently() -> None:
    lookup = CountingLookup()
    snapshot = ConfigSnapshot(lookup, lookup, lookup)  # type: ignore[arg-type]
    threads = [threading.Thread(target=snapshot.action, args=("t", "hook")) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    snapshot.connector("t", "crm")
    snapshot.connector("t", "crm")
    snapshot.rules_for_event("t", "OrderPlaced", "v01")
    snapshot.rules_for_event("t", "OrderPlaced", "v01")
    assert lookup.reads == {"hook": 1, "crm": 1, "OrderPlaced/v01": 1}
    # A new snapshot (the next batch) reads again: changes apply from the next batch on
    ConfigSnapshot(lookup, lookup, lookup).action("t", "hook")  # type: ignore[arg-type]
    assert lookup.reads["hook"] == 2


def test_what_was_not_found_is_looked_up_again() -> None:
    lookup = CountingLookup(missing=("gone",))
    snapshot = ConfigSnapshot(lookup, lookup, lookup)  # type: ignore[arg-type]
    for _ in range(2):
        with pytest.raises(LookupError):
            snapshot.action("t", "gone")
    assert lookup.reads["gone"] == 2
