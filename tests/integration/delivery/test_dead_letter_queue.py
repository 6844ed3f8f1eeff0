"""The DLQ receives only what the runner itself cannot process; failed deliveries stay in the records."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator

import pytest

from eventrelay.aws import sqs_client
from eventrelay.delivery.models import DeliveryState
from eventrelay.settings import Settings
from eventrelay_cli.local.lambda_runtime import LocalFunction
from eventrelay_cli.local.sqs_event_source import SqsEventSource
from tests.support.delivery import Harness
from tests.support.http_servers import RecordingServer, Reply


@pytest.fixture
def queue_with_dlq(settings: Settings) -> Iterator[tuple[str, str]]:
    sqs = sqs_client(settings.region)
    suffix = uuid.uuid4().hex[:10]
    dlq = sqs.create_queue(QueueName=f"dlq-{suffix}")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    main = sqs.create_queue(
        QueueName=f"events-{suffix}",
        Attributes={
            "VisibilityTimeout": "1",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2}),
        },
    )["QueueUrl"]
    yield main, dlq
    sqs.delete_queue(QueueUrl=main)
    sqs.delete_queue(QueueUrl=dlq)


# Runs the runner behind the local SQS event source, through visibility timeouts.
@pytest.mark.slow
def test_only_unprocessable_messages_reach_the_dead_letter_queue(
    settings: Settings, harness: Harness, tenant_id: str, queue_with_dlq: tuple[str, str]
) -> None:
    main, dlq = queue_with_dlq
    sqs = sqs_client(settings.region)
    with RecordingServer(lambda _r: Reply(status=500)) as server:
        # Given an event whose target always fails (no retries) and a message nobody can read
        harness.connector(tenant_id, server.url())
        harness.action(tenant_id, name="hook", url="/hook", maxRetries=0)
        harness.rule(tenant_id, name="hook", action="hook")
        envelope = harness.envelope(tenant_id, {"n": 1})
        sqs.send_message(QueueUrl=main, MessageBody=envelope.to_message_body())
        sqs.send_message(QueueUrl=main, MessageBody="{not json")
        # When the runner consumes the queue behind Lambda's (emulated) SQS event source
        function = LocalFunction.from_handler(
            "ActionRunnerFunction", lambda event, _ctx: harness.handler(event), timeout_seconds=1
        )
        source = SqsEventSource(
            main, function, sqs=sqs, report_batch_item_failures=True, concurrency=1, wait_time_seconds=1
        )
        dead: list[str] = []
        with source:
            deadline = time.monotonic() + 15
            while not dead and time.monotonic() < deadline:
                dead = [
                    m["Body"]
                    for m in sqs.receive_message(QueueUrl=dlq, WaitTimeSeconds=1).get("Messages", [])
                ]
        # Then the unreadable message went to the DLQ after maxReceiveCount receives
        assert dead == ["{not json"]
        # And the failed delivery did not: FAILED in the records, message consumed, target called once
        assert harness.delivery_of(envelope, "hook").state is DeliveryState.FAILED
        assert len(server.requests) == 1
    assert sqs.receive_message(QueueUrl=main, WaitTimeSeconds=0).get("Messages", []) == []
