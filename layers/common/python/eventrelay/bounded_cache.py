"""The one per-instance cache type: a size bound, a time to live, least recently used evicted first.

Every cache a Lambda instance keeps (tenant secrets and profiles, refetch times, registrations,
schema validators, the rate limiter's remembered refusals) is one of these, so no caller, however
many distinct tenant ids it invents, can grow an instance's memory without bound: a cache holds at
most `max_entries` entries, and an entry older than its time to live is never returned.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Generic, TypeVar

from eventrelay.clock import Clock, system_clock

K = TypeVar("K")
V = TypeVar("V")


@dataclass(frozen=True)
class Cached(Generic[V]):
    """One cached value (which may itself be None, e.g. "this tenant has no secret")."""

    value: V
    expires_at: float


class BoundedCache(Generic[K, V]):
    """At most `max_entries` entries, each returned until `ttl_seconds` after it was put (None: no
    expiry, only eviction). Thread-safe."""

    def __init__(self, max_entries: int, ttl_seconds: float | None, clock: Clock = system_clock) -> None:
        if max_entries < 1:
            raise ValueError("a bounded cache holds at least one entry")
        self.max_entries = max_entries
        self._ttl = ttl_seconds
        self._clock = clock
        self._entries: OrderedDict[K, Cached[V]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> Cached[V] | None:
        now = self._clock()
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if now >= entry.expires_at:
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return entry

    def put(self, key: K, value: V, ttl_seconds: float | None = None) -> None:
        """Store `value`; `ttl_seconds` overrides the cache's time to live for this entry."""
        ttl = ttl_seconds if ttl_seconds is not None else self._ttl
        expires_at = self._clock() + ttl if ttl is not None else float("inf")
        with self._lock:
            self._entries[key] = Cached(value, expires_at)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def pop(self, key: K) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
