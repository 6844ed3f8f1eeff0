"""SQS messages → the Lambda SQS event, and the ReportBatchItemFailures response rules."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from eventrelay_cli.local.sqs_event_source import SqsEventSource, build_sqs_event, failed_message_ids

SAMPLE = json.loads((Path(__file__).parent / "sqs_event_sample.json").read_text(encoding="utf-8"))


def as_receive_message(record: dict[str, Any]) -> dict[str, Any]:
    """The ReceiveMessage (boto3) shape of a sample record, as SQS would have returned it."""
    message: dict[str, Any] = {
        "MessageId": record["messageId"],
        "ReceiptHandle": record["receiptHandle"],
        "MD5OfBody": record["md5OfBody"],
        "Body": record["body"],
        # SQS returns system attributes in its own order; Lambda's order is fixed.
        "Attributes": dict(reversed(list(record["attributes"].items()))),
    }
    if record["messageAttributes"]:
        message["MD5OfMessageAttributes"] = record["md5OfMessageAttributes"]
        message["MessageAttributes"] = {
            name: {"StringValue": value["stringValue"], "DataType": value["dataType"]}
            for name, value in record["messageAttributes"].items()
        }
    return message


def test_messages_become_exactly_the_documented_lambda_event() -> None:
    # Given the messages SQS returned for the records of AWS's sample event
    messages = [as_receive_message(record) for record in SAMPLE["Records"]]
    # When the event is built for the sample's queue
    event = build_sqs_event(messages, "arn:aws:sqs:us-east-2:123456789012:my-queue")  # type: ignore[arg-type]
    # Then it is the sample, key for key and value for value
    assert event == SAMPLE
    assert [list(record) for record in event["Records"]] == [list(record) for record in SAMPLE["Records"]]
    assert [list(r["attributes"]) for r in event["Records"]] == [
        list(r["attributes"]) for r in SAMPLE["Records"]
    ]


def test_binary_attributes_are_base64_in_lambda_shape() -> None:
    message: dict[str, Any] = {
        "MessageId": "m",
        "ReceiptHandle": "h",
        "MD5OfBody": "x",
        "Body": "b",
        "Attributes": {"ApproximateReceiveCount": "1", "AWSTraceHeader": "Root=1-a-b", "Unlisted": "dropped"},
        "MD5OfMessageAttributes": "y",
        "MessageAttributes": {"blob": {"BinaryValue": b"\x00\xff", "DataType": "Binary"}},
    }
    record = build_sqs_event([message], "arn:aws:sqs:eu-west-1:1:q")["Records"][0]  # type: ignore[list-item]
    assert record["messageAttributes"] == {
        "blob": {"binaryValue": "AP8=", "stringListValues": [], "binaryListValues": [], "dataType": "Binary"}
    }
    assert record["attributes"] == {"ApproximateReceiveCount": "1", "AWSTraceHeader": "Root=1-a-b"}
    assert record["awsRegion"] == "eu-west-1"


BATCH = {"m1", "m2", "m3"}


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        # AWS: all of these mean the whole batch succeeded
        (None, set()),
        ({}, set()),
        ({"batchItemFailures": None}, set()),
        ({"batchItemFailures": []}, set()),
        # partial failure
        ({"batchItemFailures": [{"itemIdentifier": "m2"}]}, {"m2"}),
        ({"batchItemFailures": [{"itemIdentifier": "m1"}, {"itemIdentifier": "m3"}]}, {"m1", "m3"}),
        # AWS: all of these fail the whole batch
        ({"batchItemFailures": [{"itemIdentifier": ""}]}, None),
        ({"batchItemFailures": [{"itemIdentifier": None}]}, None),
        ({"batchItemFailures": [{"itemId": "m1"}]}, None),
        ({"batchItemFailures": [{"itemIdentifier": "not-in-batch"}]}, None),
        ({"batchItemFailures": "m1"}, None),
        ("ok", None),
    ],
)
def test_report_batch_item_failures_rules(response: Any, expected: set[str] | None) -> None:
    assert failed_message_ids(response, BATCH) == expected


@pytest.mark.parametrize(
    "options",
    [
        {"batch_size": 0},
        {"batch_size": 11},  # above 10 needs a batching window, as in Lambda
        {"concurrency": 0},
        {"wait_time_seconds": 21},
        {"maximum_batching_window_seconds": 301},
    ],
)
def test_invalid_mappings_are_refused(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"must|needs"):
        SqsEventSource("http://127.0.0.1:1/q", lambda event, context: None, sqs=None, **options)  # type: ignore[arg-type]
