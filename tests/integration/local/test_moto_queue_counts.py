"""The moto server's queue counts (patched in `eventrelay_cli.local.moto_process` to read the clock
once per count): visible, in flight and delayed messages are each counted as SQS counts them."""

from __future__ import annotations

import uuid

from eventrelay.aws import sqs_client
from eventrelay.settings import Settings

COUNTS = (
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
)


def test_visible_in_flight_and_delayed_messages_are_counted_apart(settings: Settings) -> None:
    sqs = sqs_client(settings.region)
    url = sqs.create_queue(QueueName=f"counts-{uuid.uuid4().hex[:12]}")["QueueUrl"]
    try:
        # Given three messages ready, one of them then received (in flight), and two delayed
        sqs.send_message_batch(
            QueueUrl=url, Entries=[{"Id": str(n), "MessageBody": f"m{n}"} for n in range(3)]
        )
        sqs.send_message_batch(
            QueueUrl=url,
            Entries=[{"Id": str(n), "MessageBody": "later", "DelaySeconds": 600} for n in range(2)],
        )
        received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, VisibilityTimeout=600)
        assert len(received["Messages"]) == 1
        # When the queue's counts are read
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=list(COUNTS))["Attributes"]
        # Then each is counted once, in its own count
        assert {name: int(attributes[name]) for name in COUNTS} == dict(zip(COUNTS, (2, 1, 2), strict=True))
    finally:
        sqs.delete_queue(QueueUrl=url)
