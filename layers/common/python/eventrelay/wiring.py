"""The composition root: builds the services from settings, once per process."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from eventrelay.aws import dynamodb_client, secretsmanager_client, sqs_client
from eventrelay.bulk import BulkService, BulkWorker, JobStore
from eventrelay.clock import Clock, system_clock
from eventrelay.envelopes import MessageQueue
from eventrelay.idempotency import IdempotencyStore
from eventrelay.publishing import Gatekeeper, PublishService, TenantLimits
from eventrelay.ratelimit import FixedWindowRateLimiter
from eventrelay.registrations import RegistrationStore
from eventrelay.settings import Settings, get_settings
from eventrelay.tenants import CredentialVerifier, TenantSecretStore, TenantStore


@dataclass(frozen=True)
class EventServices:
    publish: PublishService
    bulk: BulkService
    bulk_worker: BulkWorker
    limiter: FixedWindowRateLimiter


def build_event_services(settings: Settings, clock: Clock = system_clock) -> EventServices:
    dynamodb = dynamodb_client(settings.region)
    sqs = sqs_client(settings.region)
    limiter = FixedWindowRateLimiter(settings.limits_table, dynamodb, clock=clock)
    gatekeeper = Gatekeeper(
        CredentialVerifier(
            TenantSecretStore(settings.secret_prefix, secretsmanager_client(settings.region)),
            cache_seconds=settings.secret_cache_seconds,
            clock=clock,
        ),
        limiter,
        TenantLimits(TenantStore(settings.config_table, dynamodb), settings.config_cache_seconds, clock),
    )
    registrations = RegistrationStore(settings.config_table, dynamodb, settings.config_cache_seconds, clock)
    events_queue = MessageQueue(settings.events_queue_url, sqs)
    jobs = JobStore(settings.config_table, dynamodb)
    publish = PublishService(
        gatekeeper, registrations, IdempotencyStore(settings.config_table, dynamodb), events_queue, clock
    )
    return EventServices(
        publish=publish,
        bulk=BulkService(gatekeeper, jobs, MessageQueue(settings.jobs_queue_url, sqs), clock),
        bulk_worker=BulkWorker(jobs, publish, events_queue, clock),
        limiter=limiter,
    )


@cache
def event_services() -> EventServices:
    return build_event_services(get_settings())
