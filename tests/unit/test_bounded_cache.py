"""The one per-instance cache type, and the caches of the publish path that use it, stay bounded."""

from __future__ import annotations

import json

import pytest

from eventrelay.bounded_cache import BoundedCache
from eventrelay.envelopes import MAX_ENVELOPE_BYTES, EventEnvelope
from eventrelay.tenants import CACHED_TENANTS, CredentialVerifier, TenantSecret
from tests.support.api import ControlledClock


class CountingSecretStore:
    def __init__(self) -> None:
        self.lookups: list[str] = []

    def get(self, tenant_id: str) -> TenantSecret | None:
        self.lookups.append(tenant_id)
        return TenantSecret(f"secret-of-{tenant_id}")


def test_the_least_recently_used_entry_is_evicted_beyond_the_bound() -> None:
    cache: BoundedCache[str, int] = BoundedCache(2, None, ControlledClock(0))
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") is not None  # a is now the most recently used
    cache.put("c", 3)
    assert len(cache) == 2
    assert cache.get("b") is None
    assert [cache.get(key).value for key in ("a", "c")] == [1, 3]  # type: ignore[union-attr]


def test_entries_expire_after_their_time_to_live_and_may_hold_none() -> None:
    clock = ControlledClock(100)
    cache: BoundedCache[str, int | None] = BoundedCache(10, 5, clock)
    cache.put("absent", None)
    cache.put("short", 1, ttl_seconds=1)
    cached = cache.get("absent")
    assert cached is not None
    assert cached.value is None
    clock.advance(1)
    assert cache.get("short") is None
    assert cache.get("absent") is not None
    clock.advance(4)
    assert cache.get("absent") is None
    assert len(cache) == 0


def test_a_cache_holds_at_least_one_entry() -> None:
    with pytest.raises(ValueError, match="at least one entry"):
        BoundedCache(0, None)


def test_the_credential_cache_keeps_at_most_its_bound_of_tenants() -> None:
    store = CountingSecretStore()
    verifier = CredentialVerifier(store, clock=ControlledClock(0))  # type: ignore[arg-type]
    for n in range(CACHED_TENANTS + 1):
        verifier.verify(f"t{n}", f"secret-of-t{n}")
    assert len(store.lookups) == CACHED_TENANTS + 1
    # The most recent tenant is still cached; the first one was evicted and is read again
    verifier.verify(f"t{CACHED_TENANTS}", f"secret-of-t{CACHED_TENANTS}")
    assert len(store.lookups) == CACHED_TENANTS + 1
    verifier.verify("t0", "secret-of-t0")
    assert store.lookups[-1] == "t0"


def envelope(payload_text: str) -> EventEnvelope:
    return EventEnvelope(
        eventId="e-1",
        tenantId="t",
        eventName="OrderPlaced",
        eventVersion="v01",
        receivedAt="2026-01-01T00:00:00.000Z",
        requestId="r",
        payload=json.loads(payload_text),
    ).with_payload_text(payload_text)


def test_an_envelope_read_from_its_message_writes_the_same_text_back() -> None:
    message = envelope('{"n": 1E15, "s": "\\u00e9"}').to_message_body()
    assert '"payload":{"n": 1E15, "s": "\\u00e9"}' in message
    again = EventEnvelope.from_message_body(message)
    assert again.to_message_body() == message
    assert again.payload == {"n": 1e15, "s": "é"}
    # A copy with another payload writes that payload, never the old text
    assert '"payload":{"x":1}' in again.model_copy(update={"payload": {"x": 1}}).to_message_body()


def test_an_envelope_without_its_text_reads_from_an_older_layout() -> None:
    older = '{"eventId":"e","tenantId":"t","eventName":"n","eventVersion":"v01","receivedAt":"r",' + (
        '"requestId":"q","payload":{"a": [1, 2]},"source":"bulk","jobId":"j"}'
    )
    read = EventEnvelope.from_message_body(older)
    assert (read.source, read.jobId, read.payload) == ("bulk", "j", {"a": [1, 2]})
    assert read.to_message_body().endswith(',"payload":{"a": [1, 2]}}')


def test_storage_counts_the_payload_as_a_consumer_would_write_it_out() -> None:
    short_spelling = '{"n":[' + ",".join(["1E15"] * 20_000) + "]}"
    assert len(short_spelling) < MAX_ENVELOPE_BYTES
    problem = envelope(short_spelling).storage_problem()
    assert problem is not None
    assert str(MAX_ENVELOPE_BYTES) in problem
    assert envelope('{"n":[' + ",".join(["1E15"] * 1_000) + "]}").storage_problem() is None
