"""Dataset files in S3: what the expander needs (look up a version, read from an offset).

The expander reads one version of an object for the whole run (its version id when the bucket
keeps versions, else `If-Match` on the ETag): a file replaced mid-run fails the run instead of
mixing two files' rows. Errors become `FileProblem` (the run fails with its message: the file is
missing, changed, or not readable by the stack) or DependencyFailure (S3 unavailable: the page is
tried again).
"""

from __future__ import annotations

from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from eventrelay.datasets.models import DatasetObject
from eventrelay.datasets.reader import ByteStream
from eventrelay.errors import DependencyFailure

_MISSING = {"NoSuchKey", "404", "NotFound", "NoSuchBucket"}
_REFUSED = {"AccessDenied", "403", "Forbidden"}
_CHANGED = {"PreconditionFailed", "412"}


class FileProblem(Exception):
    """The file cannot be read for a reason retrying does not change."""


class S3Client(Protocol):
    def head_object(self, **kwargs: Any) -> Any: ...

    def get_object(self, **kwargs: Any) -> Any: ...


class _Empty:
    def read(self, amt: int | None = None) -> bytes:
        return b""


class DatasetFiles:
    def __init__(self, client: S3Client) -> None:
        self._client = client

    def head(self, bucket: str, key: str) -> DatasetObject:
        answer = self._call(bucket, key, lambda: self._client.head_object(Bucket=bucket, Key=key))
        version_id = answer.get("VersionId")
        if version_id == "null":
            version_id = None
        etag = str(answer.get("ETag", "")).strip('"')
        return DatasetObject(bucket, key, version_id or etag, int(answer.get("ContentLength", 0)), version_id)

    def open(self, dataset: DatasetObject, offset: int) -> ByteStream:
        """The object's bytes from `offset` to its end, as a stream (never read whole)."""
        if offset >= dataset.size:
            return _Empty()
        request: dict[str, Any] = {"Bucket": dataset.bucket, "Key": dataset.key}
        if offset:
            request["Range"] = f"bytes={offset}-"
        if dataset.version_id:
            request["VersionId"] = dataset.version_id
        else:
            request["IfMatch"] = f'"{dataset.version}"'
        answer = self._call(dataset.bucket, dataset.key, lambda: self._client.get_object(**request))
        body: ByteStream = answer["Body"]
        return body

    @staticmethod
    def _call(bucket: str, key: str, request: Any) -> Any:
        try:
            return request()
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            where = f"s3://{bucket}/{key}"
            if code in _MISSING:
                raise FileProblem(f"{where} does not exist") from None
            if code in _REFUSED:
                raise FileProblem(f"{where} cannot be read by the stack (access denied)") from None
            if code in _CHANGED:
                raise FileProblem(f"{where} was replaced while the run was reading it") from None
            raise DependencyFailure(f"S3 answered {code or 'an error'} for {where}") from None
        except BotoCoreError:
            raise DependencyFailure("S3 is unavailable") from None
