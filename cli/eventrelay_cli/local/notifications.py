"""S3 bucket notifications on the local stack: moto's S3 sends none, this poller does.

For each queue notification the template configures on a bucket (`NotificationConfiguration.
QueueConfigurations` with an `s3:ObjectCreated:*` event and a key prefix), `S3NotificationPoller`
lists the bucket under that prefix every `interval_seconds` and, for each object it has not seen
(key + ETag), sends the queue the event AWS would send (`{"Records": [{"eventName":
"ObjectCreated:Put", "s3": {...}}]}`, the key URL-encoded as S3 does). What the bucket holds when
the poller starts is seen already: restarting the local stack starts no run again. Any S3 client's
upload therefore starts a run, as on AWS, at most one interval later.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote_plus

from botocore.exceptions import ClientError

logger = logging.getLogger(__name__)

DEFAULT_INTERVAL_SECONDS = 0.5
OBJECT_CREATED = "s3:ObjectCreated:"


@dataclass(frozen=True)
class QueueNotification:
    """One of a bucket's queue notifications, as the template configures it."""

    bucket_logical_id: str
    queue_logical_id: str
    prefix: str
    suffix: str


def _logical_id(reference: Any) -> str | None:
    """The queue a notification's `Queue` names (`!GetAtt Queue.Arn`, in long or dotted form)."""
    if isinstance(reference, Mapping) and "Fn::GetAtt" in reference:
        target = reference["Fn::GetAtt"]
        return str(target[0] if isinstance(target, list) else str(target).split(".")[0])
    return None


def queue_notifications(template: Mapping[str, Any]) -> list[QueueNotification]:
    """The template's ObjectCreated queue notifications, per bucket (others are not emulated)."""
    found: list[QueueNotification] = []
    for logical_id, resource in template.get("Resources", {}).items():
        if resource.get("Type") != "AWS::S3::Bucket":
            continue
        configuration = resource.get("Properties", {}).get("NotificationConfiguration", {})
        for entry in configuration.get("QueueConfigurations", []):
            queue = _logical_id(entry.get("Queue"))
            if queue is None or not str(entry.get("Event", "")).startswith(OBJECT_CREATED):
                continue
            rules = entry.get("Filter", {}).get("S3Key", {}).get("Rules", [])
            by_name = {str(rule.get("Name", "")).lower(): str(rule.get("Value", "")) for rule in rules}
            found.append(
                QueueNotification(logical_id, queue, by_name.get("prefix", ""), by_name.get("suffix", ""))
            )
    return found


def object_created_event(
    bucket: str, key: str, etag: str, size: int, version_id: str | None, region: str, now: datetime
) -> dict[str, Any]:
    """The notification S3 sends for one created object (event version 2.1)."""
    stored: dict[str, Any] = {
        "key": quote_plus(key, safe="/"),
        "size": size,
        "eTag": etag,
        "sequencer": f"{int(now.timestamp() * 1_000_000):X}",
    }
    if version_id:
        stored["versionId"] = version_id
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": region,
                "eventTime": now.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                "eventName": "ObjectCreated:Put",
                "userIdentity": {"principalId": "local"},
                "requestParameters": {"sourceIPAddress": "127.0.0.1"},
                "responseElements": {"x-amz-request-id": uuid.uuid4().hex[:16].upper()},
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": "local-stack",
                    "bucket": {
                        "name": bucket,
                        "ownerIdentity": {"principalId": "local"},
                        "arn": f"arn:aws:s3:::{bucket}",
                    },
                    "object": stored,
                },
            }
        ]
    }


@dataclass
class S3NotificationPoller:
    """`start()` (seeds what the bucket holds, then polls in a thread), `stop()`; `poll()` once."""

    s3: Any
    sqs: Any
    bucket: str
    queue_url: str
    region: str
    prefix: str = ""
    suffix: str = ""
    interval_seconds: float = DEFAULT_INTERVAL_SECONDS
    _seen: set[tuple[str, str]] = field(default_factory=set, init=False)
    _stopping: threading.Event = field(default_factory=threading.Event, init=False)
    _thread: threading.Thread | None = field(default=None, init=False)

    def _listing(self) -> list[dict[str, Any]]:
        objects: list[dict[str, Any]] = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix):
            objects.extend(o for o in page.get("Contents", []) if str(o["Key"]).endswith(self.suffix))
        return objects

    def seed(self) -> None:
        """What the bucket holds now counts as notified already."""
        self._seen.update((str(o["Key"]), str(o["ETag"])) for o in self._listing())

    def poll(self) -> int:
        """Notify each object not seen before; how many were notified."""
        sent = 0
        for listed in self._listing():
            identity = (str(listed["Key"]), str(listed["ETag"]))
            if identity in self._seen:
                continue
            key = identity[0]
            try:
                head = self.s3.head_object(Bucket=self.bucket, Key=key)
            except ClientError:  # deleted since the listing: nothing to notify
                self._seen.add(identity)
                continue
            version_id = head.get("VersionId")
            event = object_created_event(
                self.bucket,
                key,
                str(head.get("ETag", listed["ETag"])).strip('"'),
                int(head.get("ContentLength", listed.get("Size", 0))),
                version_id if version_id and version_id != "null" else None,
                self.region,
                datetime.now(UTC),
            )
            self.sqs.send_message(QueueUrl=self.queue_url, MessageBody=json.dumps(event))
            self._seen.add(identity)
            sent += 1
        return sent

    def start(self) -> None:
        self.seed()
        self._thread = threading.Thread(target=self._run, name=f"s3-notifications-{self.bucket}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stopping.wait(self.interval_seconds):
            try:
                self.poll()
            except Exception:  # a listing that failed (moto restarting) is tried again next time
                logger.exception("S3 notification poll failed for bucket %s", self.bucket)

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
