"""Roots of the Events API processes: the publish function and the bulk worker."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache, cached_property
from typing import TYPE_CHECKING

from eventrelay.clock import Clock, system_clock
from eventrelay.envelopes import MessageQueue
from eventrelay.idempotency import IdempotencyStore
from eventrelay.publishing import Gatekeeper, PublishService, TenantLimits
from eventrelay.ratelimit import FixedWindowRateLimiter
from eventrelay.registrations import RegistrationStore
from eventrelay.roots import AwsClients
from eventrelay.settings import Settings, get_settings
from eventrelay.tenants import CredentialVerifier, TenantSecretStore, TenantStore

if TYPE_CHECKING:
    from eventrelay.bulk import BulkService, BulkWorker


class EventServices:
    """The Events API's services. Bulk's are built (and `eventrelay.bulk`, with its pydantic job
    models, imported) on first use: a publish never needs them, a cold start does not pay for them."""

    def __init__(
        self,
        publish: PublishService,
        limiter: FixedWindowRateLimiter,
        build_bulk: Callable[[], tuple[BulkService, BulkWorker]],
    ) -> None:
        self.publish = publish
        self.limiter = limiter
        self._build_bulk = build_bulk

    @cached_property
    def _bulk_services(self) -> tuple[BulkService, BulkWorker]:
        return self._build_bulk()

    @property
    def bulk(self) -> BulkService:
        return self._bulk_services[0]

    @property
    def bulk_worker(self) -> BulkWorker:
        return self._bulk_services[1]


def build_event_services(
    settings: Settings, clients: AwsClients, clock: Clock = system_clock
) -> EventServices:
    dynamodb = clients.dynamodb
    limiter = FixedWindowRateLimiter(
        settings.limits_table, dynamodb, clock=clock, refund_dynamodb=clients.quick_dynamodb
    )
    gatekeeper = Gatekeeper(
        CredentialVerifier(
            TenantSecretStore(settings.secret_prefix, clients.secretsmanager),
            cache_seconds=settings.secret_cache_seconds,
            clock=clock,
        ),
        limiter,
        TenantLimits(TenantStore(settings.config_table, dynamodb), settings.config_cache_seconds, clock),
    )
    registrations = RegistrationStore(settings.config_table, dynamodb, settings.config_cache_seconds, clock)
    events_queue = MessageQueue(settings.events_queue_url, clients.sqs)
    publish = PublishService(
        gatekeeper, registrations, IdempotencyStore(settings.config_table, dynamodb), events_queue, clock
    )

    def build_bulk() -> tuple[BulkService, BulkWorker]:
        from eventrelay.bulk import BulkService, BulkWorker, JobStore

        jobs = JobStore(settings.config_table, dynamodb)
        bulk = BulkService(gatekeeper, jobs, MessageQueue(settings.jobs_queue_url, clients.sqs), clock)
        return bulk, BulkWorker(jobs, publish, events_queue, clock)

    return EventServices(publish=publish, limiter=limiter, build_bulk=build_bulk)


@cache
def _process_event_services() -> EventServices:
    settings = get_settings()
    return build_event_services(settings, AwsClients.for_settings(settings))


def publish_root() -> EventServices:
    """The publish function's services (publish, bulk, job status), built once per process."""
    return _process_event_services()


def bulk_worker_root() -> BulkWorker:
    """The bulk worker function's worker, built once per process."""
    return _process_event_services().bulk_worker
