"""The local stack's S3 notifications (moto server sends none): the poller against moto's S3 and SQS."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

import pytest

from eventrelay.aws import s3_client, sqs_client
from eventrelay_cli.local.environment import LocalAws, unique_name
from eventrelay_cli.local.notifications import QueueNotification, S3NotificationPoller, queue_notifications
from eventrelay_cli.local.template_resources import load_template
from tests.support.waiting import wait_until

TEMPLATE = Path(__file__).resolve().parents[3] / "template.yaml"


@pytest.fixture
def poller(local_aws: LocalAws) -> Iterator[S3NotificationPoller]:
    region = local_aws.settings.region
    s3, sqs = s3_client(region), sqs_client(region)
    bucket = unique_name("notified").lower()
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    queue_url = sqs.create_queue(QueueName=unique_name("notifications"))["QueueUrl"]
    built = S3NotificationPoller(
        s3=s3,
        sqs=sqs,
        bucket=bucket,
        queue_url=queue_url,
        region=region,
        prefix="tenants/",
        interval_seconds=0.1,
    )
    try:
        yield built
    finally:
        built.stop()
        sqs.delete_queue(QueueUrl=queue_url)


def received(poller: S3NotificationPoller) -> list[dict[str, Any]]:
    answer = poller.sqs.receive_message(QueueUrl=poller.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
    messages = answer.get("Messages", [])
    for message in messages:
        poller.sqs.delete_message(QueueUrl=poller.queue_url, ReceiptHandle=message["ReceiptHandle"])
    return [json.loads(message["Body"]) for message in messages]


def test_the_template_notifies_the_expander_queue_of_uploads_under_tenants() -> None:
    assert queue_notifications(load_template(TEMPLATE)) == [
        QueueNotification("DatasetsBucket", "DatasetRunsQueue", "tenants/", "")
    ]


def test_each_new_object_is_notified_once_as_s3_does_and_old_ones_never(poller: S3NotificationPoller) -> None:
    # Given an object the bucket held before the poller started, and one outside the prefix
    s3 = poller.s3
    s3.put_object(Bucket=poller.bucket, Key="tenants/acme/rules/r/old.csv", Body=b"a\n1\n")
    poller.start()
    s3.put_object(Bucket=poller.bucket, Key="elsewhere/x.csv", Body=b"a\n1\n")
    # When a file is put under the prefix (a key with a space and a plus, which S3 URL-encodes)
    key = "tenants/acme/rules/r/new rows+more.csv"
    put = s3.put_object(Bucket=poller.bucket, Key=key, Body=b"a\n1\n2\n")
    # Then exactly one ObjectCreated notification arrives, shaped as S3's
    notifications: list[dict[str, Any]] = []
    wait_until(
        lambda: bool(notifications.extend(received(poller)) or notifications),
        timeout=10,
        what="a notification",
    )
    [notification] = notifications
    [record] = notification["Records"]
    assert (record["eventSource"], record["eventName"]) == ("aws:s3", "ObjectCreated:Put")
    assert record["s3"]["bucket"]["name"] == poller.bucket
    stored = record["s3"]["object"]
    assert stored["key"] != key  # URL-encoded, as S3 sends it
    assert unquote_plus(stored["key"]) == key
    assert (stored["size"], stored["eTag"]) == (6, put["ETag"].strip('"'))
    assert stored["versionId"] == put["VersionId"]
    # And polling again (the thread stopped: these polls are the only ones) sends nothing more;
    # a new version of the key is a new notification
    poller.stop()
    assert poller.poll() == 0
    s3.put_object(Bucket=poller.bucket, Key=key, Body=b"a\n3\n")
    assert poller.poll() == 1
