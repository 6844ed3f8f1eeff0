"""The publish path: credentials → rate limit → registration → payload → idempotency → enqueue.

Nothing accepted is lost: the publisher hears 200 only after SQS has the event; any failure to
accept answers 1009 and refunds the rate-limit counters.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from eventrelay.clock import Clock, iso_utc, system_clock
from eventrelay.envelopes import EventEnvelope, MessageQueue
from eventrelay.errors import (
    ApiError,
    DependencyFailure,
    InvalidPayload,
    NotRegistered,
    RateLimited,
    Unavailable,
)
from eventrelay.idempotency import IdempotencyStore, fingerprint
from eventrelay.json_body import parse_json_object
from eventrelay.observability import logger
from eventrelay.ratelimit import (
    DEFAULT_LIMITS,
    FixedWindowRateLimiter,
    Granularity,
    HitResult,
    LimitKind,
    RateLimitItem,
)
from eventrelay.registrations import Registration, RegistrationStore
from eventrelay.tenants import CredentialVerifier, LimitOverrides, TenantStore

# Documented caps (README): a single event's body, and a bulk request's body and item count.
MAX_EVENT_BODY_BYTES = 128 * 1024
MAX_BULK_BODY_BYTES = 200 * 1024
MAX_BULK_EVENTS = 100

T = TypeVar("T")


def effective_limits(kind: LimitKind, overrides: LimitOverrides) -> tuple[RateLimitItem, ...]:
    chosen = {
        (LimitKind.SYNC, Granularity.MINUTE): overrides.sync_per_minute,
        (LimitKind.SYNC, Granularity.DAY): overrides.sync_per_day,
        (LimitKind.ASYNC, Granularity.HOUR): overrides.async_per_hour,
        (LimitKind.ASYNC, Granularity.DAY): overrides.async_per_day,
    }
    return tuple(
        RateLimitItem(amount, item.granularity)
        if (amount := chosen.get((kind, item.granularity))) is not None
        else item
        for item in DEFAULT_LIMITS[kind]
    )


class TenantLimits:
    """Each tenant's effective limits, cached per instance (a missing profile means the defaults)."""

    def __init__(self, store: TenantStore, cache_seconds: float = 30, clock: Clock = system_clock) -> None:
        self._store = store
        self._cache_seconds = cache_seconds
        self._clock = clock
        self._cache: dict[str, tuple[LimitOverrides, float]] = {}
        self._lock = threading.Lock()

    def for_tenant(self, tenant_id: str, kind: LimitKind) -> tuple[RateLimitItem, ...]:
        now = self._clock()
        cached = self._cache.get(tenant_id)
        if cached is None or now - cached[1] >= self._cache_seconds:
            tenant = self._store.get(tenant_id)
            overrides = tenant.limits if tenant else LimitOverrides()
            with self._lock:
                self._cache[tenant_id] = (overrides, now)
        else:
            overrides = cached[0]
        return effective_limits(kind, overrides)


@dataclass(frozen=True)
class CallerIdentity:
    """Who calls the Events API: the tenant, the shared secret they present (not yet verified) and
    the API Gateway request id."""

    tenant_id: str
    shared_secret: str
    request_id: str


@dataclass(frozen=True)
class PublishRequest:
    caller: CallerIdentity
    event_name: str
    event_version: str
    body: bytes
    idempotency_key: str | None = None


@dataclass(frozen=True)
class Accepted:
    event_id: str
    rate_limit_headers: dict[str, str] = field(default_factory=dict)
    replayed: bool = False


class Gatekeeper:
    """Authenticates a caller and admits the call against its rate-limit windows (fail closed)."""

    def __init__(
        self, verifier: CredentialVerifier, limiter: FixedWindowRateLimiter, limits: TenantLimits
    ) -> None:
        self._verifier = verifier
        self._limiter = limiter
        self._limits = limits

    def admit(self, caller: CallerIdentity, kind: LimitKind) -> HitResult:
        try:
            self._verifier.verify(caller.tenant_id, caller.shared_secret)
            hit = self._limiter.hit(caller.tenant_id, kind, self._limits.for_tenant(caller.tenant_id, kind))
        except DependencyFailure:
            raise Unavailable() from None
        if not hit.admitted:
            raise RateLimited(hit.refusal_description(), hit.headers())
        return hit

    def _refund(self, hit: HitResult) -> None:
        try:
            self._limiter.refund(hit)
        except DependencyFailure:
            # The caller still hears 1009; the window then over-counts this one call until it resets.
            logger.warning("rate-limit refund failed", extra={"tenant_id": hit.tenant_id})

    def run_admitted(self, hit: HitResult, work: Callable[[], T]) -> T:
        """Run the admitted call's work: 4xx answers keep the count; a failure to accept refunds it."""
        try:
            return work()
        except (DependencyFailure, Unavailable) as exc:
            self._refund(hit)
            error = exc if isinstance(exc, Unavailable) else Unavailable()
            error.headers = {**hit.headers(), **(error.headers or {})}
            raise error from None
        except ApiError as exc:
            exc.headers = {**hit.headers(), **(exc.headers or {})}
            raise


class PublishService:
    def __init__(
        self,
        gatekeeper: Gatekeeper,
        registrations: RegistrationStore,
        idempotency: IdempotencyStore,
        events_queue: MessageQueue,
        clock: Clock = system_clock,
    ) -> None:
        self._gatekeeper = gatekeeper
        self._registrations = registrations
        self._idempotency = idempotency
        self._events_queue = events_queue
        self._clock = clock

    def publish(self, request: PublishRequest) -> Accepted:
        hit = self._gatekeeper.admit(request.caller, LimitKind.SYNC)
        accepted = self._gatekeeper.run_admitted(hit, lambda: self._accept(request))
        return Accepted(accepted.event_id, hit.headers(), accepted.replayed)

    def registration_for(self, tenant_id: str, event_name: str, event_version: str) -> Registration:
        registration = self._registrations.get(tenant_id, event_name, event_version)
        if registration is None:
            raise NotRegistered
        return registration

    def _accept(self, request: PublishRequest) -> Accepted:
        caller = request.caller
        registration = self.registration_for(caller.tenant_id, request.event_name, request.event_version)
        payload = parse_json_object(request.body)
        problems = registration.payload_problems(payload, caller.tenant_id)
        if problems:
            raise InvalidPayload(problems)
        now = self._clock()
        event_id = str(uuid.uuid4())
        key = request.idempotency_key
        if key is not None:
            body_fingerprint = fingerprint(request.event_name, request.event_version, request.body)
            claim = self._idempotency.claim(caller.tenant_id, key, body_fingerprint, event_id, now)
            if claim.replay:
                return Accepted(claim.event_id, replayed=True)
        envelope = EventEnvelope(
            eventId=event_id,
            tenantId=caller.tenant_id,
            eventName=request.event_name,
            eventVersion=request.event_version,
            receivedAt=iso_utc(now),
            requestId=caller.request_id,
            payload=payload,
        )
        try:
            self._events_queue.send_envelope(envelope)
        except DependencyFailure:
            if key is not None:
                self._release_claim(caller.tenant_id, key, event_id)
            raise
        if key is not None:
            self._complete_claim(caller.tenant_id, key)
        return Accepted(event_id)

    def _release_claim(self, tenant_id: str, key: str, event_id: str) -> None:
        try:
            self._idempotency.release(tenant_id, key, event_id)
        except DependencyFailure:
            # The claim expires by itself; until then a retry with this key answers 1009.
            logger.warning("idempotency claim not released", extra={"tenant_id": tenant_id})

    def _complete_claim(self, tenant_id: str, key: str) -> None:
        try:
            self._idempotency.complete(tenant_id, key)
        except DependencyFailure:
            # The event is on the queue: answer 200. A retry within the claim expiry answers 1009.
            logger.warning("idempotency record not completed", extra={"tenant_id": tenant_id})
