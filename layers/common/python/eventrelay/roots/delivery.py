"""Root of the action runner: the runner, its stores and replay."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from eventrelay.actions import ActionStore
from eventrelay.clock import Clock, system_clock
from eventrelay.datasets.progress import DeliveryQueues, RunProgress
from eventrelay.datasets.store import RunStore
from eventrelay.delivery.pacing import ConnectorPacer
from eventrelay.delivery.replay import ReplayService
from eventrelay.delivery.runner import ActionRunner, Queue
from eventrelay.delivery.schedule import RetryPolicy
from eventrelay.delivery.store import DeliveryStore
from eventrelay.envelopes import MessageQueue
from eventrelay.ratelimit import FixedWindowRateLimiter
from eventrelay.roots import AwsClients
from eventrelay.roots.connectors import ConnectorServices, build_connector_services
from eventrelay.rules import RuleStore
from eventrelay.settings import Settings, SettingsError, get_settings


@dataclass(frozen=True)
class DeliveryServices:
    runner: ActionRunner
    deliveries: DeliveryStore
    replay: ReplayService
    rules: RuleStore
    actions: ActionStore
    connectors: ConnectorServices


def build_delivery_services(
    settings: Settings,
    clients: AwsClients,
    clock: Clock = system_clock,
    *,
    policy: RetryPolicy | None = None,
    connectors: ConnectorServices | None = None,
    queue: Queue | None = None,
    **runner_options: Any,
) -> DeliveryServices:
    """`runner_options` go to ActionRunner (lease_seconds, max_concurrent_calls, ...); `queue`
    replaces the events queue (tests compress time with it)."""
    if not settings.deliveries_table:
        raise SettingsError(
            "invalid or missing eventrelay settings: deliveries_table (EVENTRELAY_DELIVERIES_TABLE)"
        )
    actions = ActionStore(settings.config_table, clients.dynamodb, clock)
    rules = RuleStore(settings.config_table, clients.dynamodb, actions, clock)
    deliveries = DeliveryStore(settings.deliveries_table, clients.dynamodb, clock)
    queue = queue or MessageQueue(settings.events_queue_url, clients.sqs)
    runs: RunProgress | None = None
    dataset_starts: Queue | None = None
    if settings.dataset_deliveries_queue_url:
        # Dataset rows' retries, delays and replays stay on their own queue (README "Dataset runs").
        queue = DeliveryQueues(queue, MessageQueue(settings.dataset_deliveries_queue_url, clients.sqs))
        runs = RunProgress(RunStore(settings.deliveries_table, clients.dynamodb, clock))
    if settings.dataset_runs_queue_url:
        dataset_starts = MessageQueue(settings.dataset_runs_queue_url, clients.sqs)
    connector_services = connectors or build_connector_services(settings, clients, clock)
    runner_options.setdefault(
        "pacer", ConnectorPacer(FixedWindowRateLimiter(settings.limits_table, clients.dynamodb, clock))
    )
    runner = ActionRunner(
        rules=rules,
        actions=actions,
        connectors=connector_services.store,
        caller=connector_services.caller,
        deliveries=deliveries,
        queue=queue,
        policy=policy or RetryPolicy(),
        clock=clock,
        runs=runs,
        dataset_starts=dataset_starts,
        **runner_options,
    )
    return DeliveryServices(
        runner=runner,
        deliveries=deliveries,
        replay=ReplayService(deliveries, actions, queue, clock),
        rules=rules,
        actions=actions,
        connectors=connector_services,
    )


@cache
def runner_root() -> DeliveryServices:
    """The action runner function's services, built once per process."""
    settings = get_settings()
    return build_delivery_services(settings, AwsClients.for_settings(settings))
