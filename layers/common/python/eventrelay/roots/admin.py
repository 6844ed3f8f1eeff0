"""Root of the admin processes (the CLI, `apply`, next the admin HTTP API): the admin service."""

from __future__ import annotations

from functools import partial
from typing import Any

from botocore.config import Config

from eventrelay.actions import ActionStore
from eventrelay.admin.action_test import ActionTester
from eventrelay.admin.audit import UNATTRIBUTED, Actor
from eventrelay.admin.service import AdminService
from eventrelay.audit import AuditLog
from eventrelay.aws import client_config, create_client
from eventrelay.clock import Clock, system_clock
from eventrelay.datasets.progress import DeliveryQueues
from eventrelay.datasets.store import RunStore
from eventrelay.datasets.uploads import DatasetUploads, Presigner
from eventrelay.delivery.replay import ReplayService
from eventrelay.delivery.runner import Queue
from eventrelay.delivery.store import DeliveryStore
from eventrelay.envelopes import MessageQueue
from eventrelay.ratelimit import FixedWindowRateLimiter
from eventrelay.registrations import RegistrationStore
from eventrelay.roots import AwsClients
from eventrelay.roots.connectors import ConnectorServices, build_connector_services
from eventrelay.rules import RuleStore
from eventrelay.settings import Settings
from eventrelay.tenants import TenantSecretStore, TenantStore


def build_admin_service(
    settings: Settings,
    clients: AwsClients,
    clock: Clock = system_clock,
    *,
    connectors: ConnectorServices | None = None,
    actor: Actor = UNATTRIBUTED,
) -> AdminService:
    """`connectors` lets tests bring their own outbound client (deadline, resolver); `actor` is
    who the audit log records as making the changes (see also `AdminService.acting_as`)."""
    dynamodb = clients.dynamodb
    connector_services = connectors or build_connector_services(settings, clients, clock)
    actions = ActionStore(settings.config_table, dynamodb, clock)
    deliveries = (
        DeliveryStore(settings.deliveries_table, dynamodb, clock) if settings.deliveries_table else None
    )
    replay_queue: Queue = MessageQueue(settings.events_queue_url, clients.sqs)
    if settings.dataset_deliveries_queue_url:
        # A replayed dataset row goes back on the dataset queue, as its retries do (fairness).
        replay_queue = DeliveryQueues(
            replay_queue, MessageQueue(settings.dataset_deliveries_queue_url, clients.sqs)
        )
    replay = ReplayService(deliveries, actions, replay_queue, clock) if deliveries is not None else None
    return AdminService(
        tenants=TenantStore(settings.config_table, dynamodb),
        tenant_secrets=TenantSecretStore(settings.secret_prefix, clients.secretsmanager),
        # Admins read what they just wrote: no cache.
        registrations=RegistrationStore(settings.config_table, dynamodb, cache_seconds=0, clock=clock),
        limiter=FixedWindowRateLimiter(settings.limits_table, dynamodb, clock),
        connectors=connector_services.store,
        caller=connector_services.caller,
        authorizer=connector_services.authorizer,
        actions=actions,
        rules=RuleStore(settings.config_table, dynamodb, actions, clock),
        tester=ActionTester(
            actions,
            connector_services.store,
            connector_services.caller,
            max_time_seconds=connector_services.client.deadline,
        ),
        deliveries=deliveries,
        replay=replay,
        audit_log=AuditLog(settings.config_table, dynamodb, clock),
        runs=RunStore(settings.deliveries_table, dynamodb, clock) if settings.deliveries_table else None,
        uploads=(
            DatasetUploads(settings.datasets_bucket, partial(presigning_s3_client, settings.region), clock)
            if settings.datasets_bucket
            else None
        ),
        clock=clock,
        actor=actor,
    )


def presigning_s3_client(region: str) -> Presigner:
    """An S3 client for upload URLs: Signature Version 4 (it signs the Content-Length, and every
    region accepts it), virtual-hosted URLs on the region's own endpoint (path style for an
    endpoint that is an address, as the local stack's)."""
    config = client_config().merge(Config(signature_version="s3v4", s3={"addressing_style": "virtual"}))
    client: Any = create_client("s3", region, config=config)
    return client  # type: ignore[no-any-return]
