"""Builds the runner, the deliveries store and replay from settings, once per process."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from eventrelay.actions import ActionStore
from eventrelay.aws import dynamodb_client, sqs_client
from eventrelay.clock import Clock, system_clock
from eventrelay.connectors.wiring import ConnectorServices, build_connector_services
from eventrelay.delivery.replay import ReplayService
from eventrelay.delivery.runner import ActionRunner
from eventrelay.delivery.schedule import RetryPolicy
from eventrelay.delivery.store import DeliveryStore
from eventrelay.envelopes import MessageQueue
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
    clock: Clock = system_clock,
    *,
    policy: RetryPolicy | None = None,
    connectors: ConnectorServices | None = None,
    **runner_options: Any,
) -> DeliveryServices:
    """`runner_options` go to ActionRunner (lease_seconds, max_concurrent_calls, ...)."""
    if not settings.deliveries_table:
        raise SettingsError(
            "invalid or missing eventrelay settings: deliveries_table (EVENTRELAY_DELIVERIES_TABLE)"
        )
    dynamodb = dynamodb_client(settings.region)
    actions = ActionStore(settings.config_table, dynamodb, clock)
    rules = RuleStore(settings.config_table, dynamodb, actions, clock)
    deliveries = DeliveryStore(settings.deliveries_table, dynamodb, clock)
    queue = MessageQueue(settings.events_queue_url, sqs_client(settings.region))
    connector_services = connectors or build_connector_services(settings, clock)
    runner = ActionRunner(
        rules=rules,
        actions=actions,
        connectors=connector_services.store,
        caller=connector_services.caller,
        deliveries=deliveries,
        queue=queue,
        policy=policy or RetryPolicy(),
        clock=clock,
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
def delivery_services() -> DeliveryServices:
    return build_delivery_services(get_settings())
