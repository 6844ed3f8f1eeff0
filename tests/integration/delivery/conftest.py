from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest

from eventrelay.aws import sqs_client
from eventrelay.delivery.schedule import RetryPolicy
from eventrelay.outbound.client import OutboundClient
from eventrelay.outbound.ssrf import SsrfGuard
from eventrelay.settings import Settings
from tests.support.api import ControlledClock
from tests.support.delivery import Harness
from tests.support.http_servers import RecordingServer


@pytest.fixture
def clock() -> ControlledClock:
    return ControlledClock(time.time())


@pytest.fixture
def queue_url(settings: Settings) -> Iterator[str]:
    """A queue of this test alone for the runner's messages."""
    sqs = sqs_client(settings.region)
    url = sqs.create_queue(
        QueueName=f"runner-{uuid.uuid4().hex[:12]}", Attributes={"VisibilityTimeout": "30"}
    )["QueueUrl"]
    yield url
    sqs.delete_queue(QueueUrl=url)


@pytest.fixture
def policy() -> RetryPolicy:
    # Jitter pinned at the middle: each delay is 0.75 x the backoff (base 10 s, doubling, cap 900 s).
    return RetryPolicy(random=lambda: 0.5)


@pytest.fixture
def client() -> Iterator[OutboundClient]:
    # Generous timeouts: on a loaded machine a recording server can take over a second to accept a
    # connection, and a timed-out call is retried (one more message) though the target saw nothing.
    # Tests about timeouts build their own client.
    outbound = OutboundClient(SsrfGuard("127.0.0.0/8"), connect_timeout=10, read_timeout=10, deadline=20)
    yield outbound
    outbound.close()


@pytest.fixture
def harness(
    settings: Settings, clock: ControlledClock, queue_url: str, policy: RetryPolicy, client: OutboundClient
) -> Iterator[Harness]:
    built = Harness(settings, clock, queue_url, policy, client)
    yield built
    built.runner.close()


@pytest.fixture
def target() -> Iterator[RecordingServer]:
    with RecordingServer() as server:
        yield server
