"""The publish path: credentials → rate limit → registration → payload → idempotency → enqueue.

Nothing accepted is lost: the publisher hears 200 only after SQS has the event. A failure to accept
answers 1009 and the rate-limit counters are refunded (best effort); when SQS gave no answer (the
event may be on the queue) the message says so. Keyed requests get an eventId derived from tenant,
key and body, so their retries never make a second event.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from eventrelay.bounded_cache import BoundedCache
from eventrelay.clock import Clock, iso_utc, system_clock
from eventrelay.envelopes import EventEnvelope, MessageQueue, SendOutcomeUnknown
from eventrelay.errors import (
    ApiError,
    DependencyFailure,
    ErrorCode,
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
from eventrelay.tenants import CACHED_TENANTS, CredentialVerifier, LimitOverrides, TenantStore

# Documented caps (README): a single event's body, and a bulk request's body and item count.
MAX_EVENT_BODY_BYTES = 128 * 1024
MAX_BULK_BODY_BYTES = 200 * 1024
MAX_BULK_EVENTS = 100

T = TypeVar("T")

# Keyed publishes get their eventId from (tenant, key, body): a retry and a late first send of the
# same request are one event (the runner's deliveries derive from eventId and rule); a key reused
# with another body after its record expired is another event.
KEYED_EVENT_ID_NAMESPACE = uuid.UUID("0b6f5a52-8d0e-4c6a-9d3e-2f7c1a9e4b58")
KEYED_OUTCOME_UNKNOWN = (
    "The event queue did not answer, so the event may have been accepted: retry with the same "
    "Idempotency-Key and body, and it is delivered once"
)
UNKEYED_OUTCOME_UNKNOWN = (
    "The event queue did not answer, so the event may have been accepted: a retry may deliver it "
    "twice (send an Idempotency-Key to make retries safe)"
)


def keyed_event_id(tenant_id: str, idempotency_key: str, body_fingerprint: str) -> str:
    return str(uuid.uuid5(KEYED_EVENT_ID_NAMESPACE, f"{tenant_id}\n{idempotency_key}\n{body_fingerprint}"))


class OutcomeUnknown(Unavailable):
    """1009 for a call whose event may have been accepted. It is refunded like every 1009: a hung
    queue must not eat the tenant's quota call after call (issue 13), and the refund errs for the
    tenant by at most the events that did land late, which the message tells them to retry with a
    key."""


class EventTooLarge(ApiError):
    """1007: the event would not fit where it is queued or stored, although its body is under the cap."""

    def __init__(self, why: str) -> None:
        super().__init__(ErrorCode.BODY_TOO_LARGE, f"Event too large: {why}")


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
    """Each tenant's profile (its limit overrides), cached per instance for `cache_seconds`.

    The profile is how the publish path learns that a tenant exists: one DynamoDB read, before any
    Secrets Manager call. Unknown tenants are not cached (no caller can fill the cache with invented
    ids, and a tenant created a moment ago is found at once); known ones are, at most
    `CACHED_TENANTS` of them per instance.
    """

    def __init__(self, store: TenantStore, cache_seconds: float = 30, clock: Clock = system_clock) -> None:
        self._store = store
        self._profiles: BoundedCache[str, LimitOverrides] = BoundedCache(CACHED_TENANTS, cache_seconds, clock)

    def overrides(self, tenant_id: str) -> LimitOverrides | None:
        """The tenant's limit overrides, or None when no such tenant exists."""
        cached = self._profiles.get(tenant_id)
        if cached is not None:
            return cached.value
        tenant = self._store.get(tenant_id)
        if tenant is None:
            return None
        self._profiles.put(tenant_id, tenant.limits)
        return tenant.limits


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
            overrides = self._limits.overrides(caller.tenant_id)
            if overrides is None:
                self._verifier.refuse_unknown(caller.shared_secret)
            self._verifier.verify(caller.tenant_id, caller.shared_secret)
            hit = self._limiter.hit(caller.tenant_id, kind, effective_limits(kind, overrides))
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
        """Run the admitted call's work: 4xx answers keep the count; a 1009 (nothing accepted, or
        SQS gave no answer) is refunded (best effort: the refund is a DynamoDB write)."""
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
        key = request.idempotency_key
        body_fingerprint = fingerprint(request.event_name, request.event_version, request.body)
        event_id = (
            str(uuid.uuid4()) if key is None else keyed_event_id(caller.tenant_id, key, body_fingerprint)
        )
        envelope = EventEnvelope(
            eventId=event_id,
            tenantId=caller.tenant_id,
            eventName=request.event_name,
            eventVersion=request.event_version,
            receivedAt=iso_utc(now),
            requestId=caller.request_id,
            payload=payload,
        ).with_payload_text(request.body.decode("utf-8"))
        too_large = envelope.storage_problem()
        if too_large is not None:
            raise EventTooLarge(too_large)
        if key is not None:
            claim = self._idempotency.claim(caller.tenant_id, key, body_fingerprint, event_id, now)
            if claim.replay:
                return Accepted(claim.event_id, replayed=True)
        try:
            self._events_queue.send_envelope(envelope)
        except DependencyFailure as failure:
            if key is not None:
                # A retry then sends again under the same derived eventId, never a second event.
                self._release_claim(caller.tenant_id, key, event_id)
            if isinstance(failure, SendOutcomeUnknown):
                raise OutcomeUnknown(KEYED_OUTCOME_UNKNOWN if key else UNKEYED_OUTCOME_UNKNOWN) from None
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
