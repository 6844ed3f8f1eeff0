"""Roots of the Events API processes: the publish function and the bulk worker."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from eventrelay.bulk import BulkService, BulkWorker, JobStore
from eventrelay.clock import Clock, system_clock
from eventrelay.envelopes import MessageQueue
from eventrelay.idempotency import IdempotencyStore
from eventrelay.publishing import Gatekeeper, PublishService, TenantLimits
from eventrelay.ratelimit import FixedWindowRateLimiter
from eventrelay.registrations import RegistrationStore
from eventrelay.roots import AwsClients
from eventrelay.settings import Settings, get_settings
from eventrelay.tenants import CredentialVerifier, TenantSecretStore, TenantStore


@dataclass(frozen=True)
class EventServices:
    publish: PublishService
    bulk: BulkService
    bulk_worker: BulkWorker
    limiter: FixedWindowRateLimiter


def build_event_services(
    settings: Settings, clients: AwsClients, clock: Clock = system_clock
) -> EventServices:
    dynamodb = clients.dynamodb
    limiter = FixedWindowRateLimiter(settings.limits_table, dynamodb, clock=clock)
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
    jobs = JobStore(settings.config_table, dynamodb)
    publish = PublishService(
        gatekeeper, registrations, IdempotencyStore(settings.config_table, dynamodb), events_queue, clock
    )
    return EventServices(
        publish=publish,
        bulk=BulkService(gatekeeper, jobs, MessageQueue(settings.jobs_queue_url, clients.sqs), clock),
        bulk_worker=BulkWorker(jobs, publish, events_queue, clock),
        limiter=limiter,
    )


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
