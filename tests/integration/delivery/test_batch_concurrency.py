"""A batch's calls run at the same time: ten calls to a 200 ms target take about 200 ms, not 2 s."""

from __future__ import annotations

import threading
import time

from eventrelay.delivery.models import DeliveryState
from eventrelay_cli.local.sqs_event_source import build_sqs_event
from tests.support.delivery import Harness
from tests.support.http_servers import RecordedRequest, RecordingServer, Reply


class SlowTarget:
    """Answers after 200 ms and records how many requests it had in flight at once."""

    def __init__(self, seconds: float = 0.2) -> None:
        self.seconds = seconds
        self.lock = threading.Lock()
        self.in_flight = 0
        self.peak = 0

    def __call__(self, _request: RecordedRequest) -> Reply:
        with self.lock:
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
        time.sleep(self.seconds)  # a slow server: the time it takes to answer
        with self.lock:
            self.in_flight -= 1
        return Reply()


def test_a_batch_of_ten_calls_runs_concurrently(harness: Harness, tenant_id: str) -> None:
    # Given ten events on the queue whose rule calls a target that answers after 200 ms
    slow = SlowTarget()
    with RecordingServer(slow) as server:
        harness.connector(tenant_id, server.url())
        harness.action(tenant_id, name="slow", url="/slow/{{n}}")
        harness.rule(tenant_id, name="slow", action="slow", mapping={"n": "$.n"})
        envelopes = [harness.envelope(tenant_id, {"n": n}) for n in range(10)]
        harness.publish(*envelopes)
        messages = []
        while len(messages) < 10:
            messages += harness.receive(10 - len(messages))
        arn = harness.sqs.get_queue_attributes(QueueUrl=harness.queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        # When the runner's handler gets them as one Lambda batch
        started = time.monotonic()
        response = harness.handler(build_sqs_event(messages, arn))
        elapsed = time.monotonic() - started
        # Then the target saw the calls in flight at the same time (one at a time if they were sequential;
        # the records' bookkeeping before each call staggers their starts a little on a busy machine)
        assert response == {"batchItemFailures": []}
        assert len(server.requests) == 10
        assert slow.peak >= 5, slow.peak
        # And the batch took far less than the sum of its calls (over 2 s if they were sequential)
        assert elapsed < 1.5, elapsed
    assert {harness.delivery_of(e, "slow").state for e in envelopes} == {DeliveryState.SUCCEEDED}


class GatheringTarget:
    """Holds every call until `expected` calls are in flight together (or 3 s pass)."""

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.condition = threading.Condition()
        self.in_flight = 0
        self.peak = 0

    def __call__(self, _request: RecordedRequest) -> Reply:
        with self.condition:
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
            self.condition.notify_all()
            self.condition.wait_for(lambda: self.peak >= self.expected, timeout=3)
            self.in_flight -= 1
        return Reply()


def test_all_ten_calls_of_a_batch_can_be_in_flight_together(harness: Harness, tenant_id: str) -> None:
    # Given a target that answers only once ten calls are waiting on it at the same time
    gathering = GatheringTarget(10)
    with RecordingServer(gathering) as server:
        harness.connector(tenant_id, server.url())
        harness.action(tenant_id, name="gather", url="/gather/{{n}}")
        harness.rule(tenant_id, name="gather", action="gather", mapping={"n": "$.n"})
        harness.publish(*[harness.envelope(tenant_id, {"n": n}) for n in range(10)])
        messages = []
        while len(messages) < 10:
            messages += harness.receive(10 - len(messages))
        arn = harness.sqs.get_queue_attributes(QueueUrl=harness.queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        started = time.monotonic()
        harness.handler(build_sqs_event(messages, arn))
        elapsed = time.monotonic() - started
    # Then all ten were in flight at once, and nobody had to wait for the 3 s give-up
    assert gathering.peak == 10
    assert elapsed < 2.5, elapsed


def test_the_rules_of_one_event_are_called_concurrently(harness: Harness, tenant_id: str) -> None:
    slow = SlowTarget()
    with RecordingServer(slow) as server:
        harness.connector(tenant_id, server.url())
        harness.action(tenant_id, name="slow", url="/slow")
        for n in range(4):
            harness.rule(tenant_id, name=f"rule-{n}", action="slow")
        started = time.monotonic()
        report = harness.handle(harness.envelope(tenant_id, {}))
        elapsed = time.monotonic() - started
        assert len(report.steps) == 4
        assert slow.peak == 4
        assert elapsed < 0.8, elapsed
