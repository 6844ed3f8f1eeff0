"""How the action runner tells a run that one of its rows' deliveries finished, and where a
dataset delivery's messages go.

`RunProgress.row_settled` counts the finish once per delivery and state (see `store.RunStore`),
then ends the run if it was its last pending row. `DeliveryQueues` sends each delivery message
to the queue its delivery belongs on: dataset rows' retries, delays and replays stay on the
dataset deliveries queue, so they never queue in front of events.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Protocol

from eventrelay.datasets.metrics import run_finished
from eventrelay.datasets.models import is_dataset_delivery
from eventrelay.datasets.store import RunStore
from eventrelay.delivery.models import DeliveryState


class Queue(Protocol):
    def send(self, body: str, attributes: dict[str, Any] | None = None, delay_seconds: int = 0) -> None: ...


@dataclass(frozen=True)
class RunProgress:
    runs: RunStore

    def row_settled(self, delivery_id: str, run_id: str, state: DeliveryState) -> None:
        if not state.finished or not is_dataset_delivery(delivery_id):
            return
        if self.runs.row_finished(delivery_id, run_id, state.value):
            finished = self.runs.finish(run_id)
            if finished is not None:
                run_finished(finished)


@dataclass(frozen=True)
class DeliveryQueues:
    """A `Queue` for delivery messages: dataset deliveries to `datasets`, the others to `events`."""

    events: Queue
    datasets: Queue

    def send(self, body: str, attributes: dict[str, Any] | None = None, delay_seconds: int = 0) -> None:
        delivery_id = str(json.loads(body).get("deliveryId", ""))
        queue = self.datasets if is_dataset_delivery(delivery_id) else self.events
        queue.send(body, attributes, delay_seconds)
