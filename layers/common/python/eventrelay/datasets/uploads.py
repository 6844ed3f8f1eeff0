"""Uploads to the stack's datasets bucket by presigned URL: how `eventrelay dataset run` puts a
file where its run starts, in its own process and over the admin API alike.

An upload is a presigned S3 PUT (Signature Version 4) of one new key under the rule's prefix,
`tenants/<tenant>/rules/<rule>/<UTC timestamp>-<file name>` (a new key per upload, so every upload
is a new run), valid for `UPLOAD_URL_SECONDS`. The file's Content-Length is one of the signed
headers: S3 refuses a body of any other length, so the size the caller declared, at most
`MAX_UPLOAD_BYTES`, is the size stored. The URL is signed with the admin process's credentials
(the admin function's role may put objects under the bucket's `tenants/` prefix and nowhere else)
and lets whoever holds it put that one key until it expires (or the signing credentials do, if
sooner), so it is handed to the caller and never logged.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Protocol

from eventrelay.clock import Clock, iso_utc, system_clock
from eventrelay.datasets.models import upload_prefix

# At least 100,000 rows (the cap per run) of about 1 KiB each; a larger file goes up with any S3 client.
MAX_UPLOAD_BYTES = 100 * 1024 * 1024
UPLOAD_URL_SECONDS = 900
MAX_FILE_NAME_CHARS = 200


class Presigner(Protocol):
    """An S3 client signing with SigV4 (`roots.admin.presigning_s3_client`)."""

    def generate_presigned_url(self, ClientMethod: str, Params: Any = ..., ExpiresIn: int = ...) -> str: ...


def upload_key(tenant_id: str, rule_name: str, file_name: str, now: float) -> str:
    """Where an upload for `rule_name` goes: a new key per upload, so every upload is a new run."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
    return f"{upload_prefix(tenant_id, rule_name)}{stamp}-{file_name}"


def file_name_problem(file_name: str) -> str | None:
    """Why `file_name` cannot end an upload's key (None when it can): a plain name, its extension
    telling the format (`.jsonl`/`.ndjson` JSON Lines, anything else CSV)."""
    if not file_name or len(file_name) > MAX_FILE_NAME_CHARS:
        return f"fileName must be 1 to {MAX_FILE_NAME_CHARS} characters"
    if "/" in file_name or "\\" in file_name or file_name in (".", ".."):
        return "fileName must be a file's name, without a directory"
    if any(ord(character) < 32 or ord(character) == 127 for character in file_name):
        return "fileName must not hold control characters"
    return None


@dataclass(frozen=True)
class UploadTicket:
    """What the caller needs to put the file: the URL, the method and headers to send."""

    bucket: str
    key: str
    url: str
    size: int
    expires_at: float

    def to_view(self) -> dict[str, Any]:
        return {
            "bucket": self.bucket,
            "key": self.key,
            "method": "PUT",
            "url": self.url,
            "headers": {"Content-Length": str(self.size)},
            "size": self.size,
            "expiresAt": iso_utc(self.expires_at),
        }


class DatasetUploads:
    """Presigned PUTs into `bucket`; the signing client is made on first use (few calls need it)."""

    def __init__(self, bucket: str, presigner: Callable[[], Presigner], clock: Clock = system_clock) -> None:
        self._bucket = bucket
        self._make_presigner = presigner
        self._clock = clock

    @cached_property
    def _presigner(self) -> Presigner:
        return self._make_presigner()

    def ticket(self, tenant_id: str, rule_name: str, file_name: str, size: int) -> UploadTicket:
        """A URL to PUT exactly `size` bytes as a new file of `rule_name` (checked by the caller)."""
        now = self._clock()
        key = upload_key(tenant_id, rule_name, file_name, now)
        url = self._presigner.generate_presigned_url(
            ClientMethod="put_object",
            Params={"Bucket": self._bucket, "Key": key, "ContentLength": size},
            ExpiresIn=UPLOAD_URL_SECONDS,
        )
        return UploadTicket(self._bucket, key, url, size, now + UPLOAD_URL_SECONDS)
