"""Root of the dataset expander function: the expander, its stores, S3 and its queues."""

from __future__ import annotations

from functools import cache
from typing import Any

from eventrelay.actions import ActionStore
from eventrelay.aws import s3_client
from eventrelay.clock import Clock, system_clock
from eventrelay.datasets.expander import DatasetExpander
from eventrelay.datasets.files import DatasetFiles
from eventrelay.datasets.store import RunStore
from eventrelay.envelopes import MessageQueue
from eventrelay.roots import AwsClients
from eventrelay.rules import RuleStore
from eventrelay.settings import Settings, SettingsError, get_settings


def build_dataset_expander(
    settings: Settings, clients: AwsClients, s3: Any, clock: Clock = system_clock, **options: Any
) -> DatasetExpander:
    """`options` go to DatasetExpander (page_rows, ...)."""
    missing = [
        name
        for name in (
            "deliveries_table",
            "datasets_bucket",
            "dataset_runs_queue_url",
            "dataset_deliveries_queue_url",
        )
        if not getattr(settings, name)
    ]
    if missing:
        raise SettingsError(f"invalid or missing eventrelay settings: {', '.join(missing)}")
    actions = ActionStore(settings.config_table, clients.dynamodb, clock)
    return DatasetExpander(
        runs=RunStore(settings.deliveries_table, clients.dynamodb, clock),
        files=DatasetFiles(s3),
        rules=RuleStore(settings.config_table, clients.dynamodb, actions, clock),
        actions=actions,
        rows_queue=MessageQueue(settings.dataset_deliveries_queue_url, clients.sqs),
        pages_queue=MessageQueue(settings.dataset_runs_queue_url, clients.sqs),
        stack_bucket=settings.datasets_bucket,
        allowed_buckets=settings.allowed_buckets,
        clock=clock,
        **options,
    )


@cache
def expander_root() -> DatasetExpander:
    """The dataset expander function's expander, built once per process."""
    settings = get_settings()
    return build_dataset_expander(settings, AwsClients.for_settings(settings), s3_client(settings.region))
