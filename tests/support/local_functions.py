"""Handler files for the local Lambda runtime's tests, written to a temporary function folder."""

from __future__ import annotations

import textwrap
from pathlib import Path


def write_function(root: Path, name: str, source: str, filename: str = "app.py") -> Path:
    """`<root>/functions/<name>/<filename>` with `source` (dedented); returns the function folder."""
    folder = root / "functions" / name
    (folder / filename).parent.mkdir(parents=True, exist_ok=True)
    (folder / filename).write_text(textwrap.dedent(source), encoding="utf-8")
    return folder


# Counts its invocations in a module global. With {"gate": dir, "hold": true} it marks that it
# started and waits (bounded) for `<gate>/release`, so a test can hold two invocations at once.
COUNTING_HANDLER = """
import os
import pathlib
import time

calls = 0


def lambda_handler(event, context):
    global calls
    calls += 1
    gate = pathlib.Path(event["gate"])
    (gate / f"in-{os.getpid()}-{calls}").write_text(context.aws_request_id)
    if event.get("hold"):
        deadline = time.monotonic() + 30
        while not (gate / "release").exists() and time.monotonic() < deadline:
            time.sleep(0.01)
    return {"pid": os.getpid(), "calls": calls}
"""

# Marks that it started, works for event["workSeconds"], then sends an SQS message and writes
# `<markers>/finished`: what a killed invocation must never get to do.
SLOW_SENDER_HANDLER = """
import json
import os
import pathlib
import time

import boto3

sqs = boto3.client("sqs")


def lambda_handler(event, context):
    if "requestContext" in event:  # behind the HTTP gateway: the instructions are the body
        event = json.loads(event["body"])
    markers = pathlib.Path(event["markers"])
    (markers / f"started-{os.getpid()}").write_text(context.aws_request_id)
    time.sleep(event["workSeconds"])
    sqs.send_message(QueueUrl=event["queueUrl"], MessageBody=event["body"])
    (markers / "finished").write_text(str(os.getpid()))
    return {"statusCode": 200, "body": str(os.getpid())}
"""
