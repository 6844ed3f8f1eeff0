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
def harness(settings: Settings, clock: ControlledClock) -> Iterator[Harness]:
    sqs = sqs_client(settings.region)
    queue_url = sqs.create_queue(QueueName=f"ds-runner-{uuid.uuid4().hex[:12]}")["QueueUrl"]
    client = OutboundClient(SsrfGuard("127.0.0.0/8"), connect_timeout=10, read_timeout=10, deadline=20)
    built = Harness(settings, clock, queue_url, RetryPolicy(random=lambda: 0.5), client)
    yield built
    built.runner.close()
    client.close()
    sqs.delete_queue(QueueUrl=queue_url)


@pytest.fixture
def target() -> Iterator[RecordingServer]:
    with RecordingServer() as server:
        yield server
