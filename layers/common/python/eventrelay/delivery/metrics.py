"""The runner's CloudWatch metrics (Powertools EMF), safe to emit from the call threads.

Names (namespace EventRelay, dimension service=eventrelay): `DeliveriesSucceeded`,
`DeliveriesRetried` (a retry was scheduled), `DeliveriesFailed` (ended FAILED), `AttemptDuration`
(ms, one per attempt), `DeliveryLatency` (ms from the event's receipt to its successful delivery),
`DeliveriesReplayed`, `DeliveriesPaced` (put back on the queue because its connector's rate limit
was reached; one per time, so a delivery that waits twice counts twice).
"""

from __future__ import annotations

import threading

from aws_lambda_powertools.metrics import MetricUnit

from eventrelay.observability import metrics

SUCCEEDED = "DeliveriesSucceeded"
RETRIED = "DeliveriesRetried"
FAILED = "DeliveriesFailed"
REPLAYED = "DeliveriesReplayed"
PACED = "DeliveriesPaced"
ATTEMPT_DURATION = "AttemptDuration"
LATENCY = "DeliveryLatency"

_lock = threading.Lock()


def count(name: str, value: int = 1) -> None:
    with _lock:
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


def milliseconds(name: str, value: float) -> None:
    with _lock:
        metrics.add_metric(name=name, unit=MetricUnit.Milliseconds, value=max(0.0, value))
