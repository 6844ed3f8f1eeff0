"""A batch's calls run at the same time.

Proved with targets that answer only once N calls wait on them together, not with wall-clock
limits (a loaded machine would make those flaky): how long a batch takes compared with one call
is measured by `make bench` (bench/runner_bench.py).
"""

from __future__ import annotations

import threading

from eventrelay_cli.local.sqs_event_source import build_sqs_event
from tests.support.delivery import Harness
from tests.support.http_servers import RecordedRequest, RecordingServer, Reply


class GatheringTarget:
    """Holds every call until `expected` calls are in flight together; gives up after 10 s."""

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.condition = threading.Condition()
        self.in_flight = 0
        self.peak = 0
        self.gave_up = False

    def __call__(self, _request: RecordedRequest) -> Reply:
        with self.condition:
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
            self.condition.notify_all()
            if not self.condition.wait_for(lambda: self.peak >= self.expected, timeout=10):
                self.gave_up = True
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
        response = harness.handler(build_sqs_event(messages, arn))
    # Then all ten were in flight at once (sequential calls would each have waited for the others in vain)
    assert response == {"batchItemFailures": []}
    assert (gathering.peak, gathering.gave_up) == (10, False)
    assert len(server.requests) == 10


def test_the_rules_of_one_event_are_called_concurrently(harness: Harness, tenant_id: str) -> None:
    gathering = GatheringTarget(4)
    with RecordingServer(gathering) as server:
        harness.connector(tenant_id, server.url())
        harness.action(tenant_id, name="slow", url="/slow")
        for n in range(4):
            harness.rule(tenant_id, name=f"rule-{n}", action="slow")
        report = harness.handle(harness.envelope(tenant_id, {}))
        assert len(report.steps) == 4
        assert (gathering.peak, gathering.gave_up) == (4, False)
