"""Read what the publish path left on SQS."""

from __future__ import annotations

import json
from typing import Any

import boto3


def drain(queue_url: str, region: str = "us-east-1", max_rounds: int = 50) -> list[dict[str, Any]]:
    """Receive and delete every visible message; returns their decoded bodies with attributes."""
    sqs = boto3.client("sqs", region_name=region)
    messages: list[dict[str, Any]] = []
    for _ in range(max_rounds):
        batch = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0, MessageAttributeNames=["All"]
        ).get("Messages", [])
        if not batch:
            break
        for message in batch:
            messages.append(
                {"body": json.loads(message["Body"]), "attributes": message.get("MessageAttributes", {})}
            )
        sqs.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)],
        )
    return messages
