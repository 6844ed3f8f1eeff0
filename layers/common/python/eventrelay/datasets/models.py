"""Dataset runs: what a run is, where its file is, and the messages that drive it.

A **run** is one file read through one dataset rule: a job with a state (ACCEPTED, RUNNING,
SUCCEEDED, PARTIAL_SUCCESS, FAILED), counts and per-row errors. Its id derives from the tenant,
the rule and the S3 object (bucket, key, version id or else ETag), so the same upload notified
twice is one run, and a new upload to the same key is a new one.

Counts: `rows` read; `skipped` by the rule's condition; `invalid` (not a valid row, a value that
does not fit the action's field, beyond the cap of `MAX_ROWS_PER_RUN`); `queued` deliveries;
`delivered` and `failed` deliveries as they finish (`pending` = queued and not finished yet).
The first `MAX_ROW_ERRORS` per-row errors are kept (line, row, reason); `errorsOmitted` counts the rest.

A run ends once its file is read (`expanded`) and no delivery is pending: SUCCEEDED when no row
was invalid and no delivery failed, PARTIAL_SUCCESS when some were and some rows were delivered,
FAILED when none was delivered (or the file could not be read: `reason`).

Each row becomes one delivery: `delivery_id` derives from (tenant, run, row number), the
delivery's `eventId` is the run id (so `delivery list|replay --run` find a run's deliveries).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from eventrelay.clock import iso_utc
from eventrelay.datasets.reader import DatasetFormat, Position

MAX_ROWS_PER_RUN = 100_000
MAX_ROW_ERRORS = 100
MAX_REASON_CHARS = 300
DATASET_ROW_KIND = "eventrelay.dataset_row"
DATASET_START_KIND = "eventrelay.dataset_start"
DATASET_PAGE_KIND = "eventrelay.dataset_page"
# Deliveries of dataset rows: their id prefix tells every sender which queue they belong on.
DATASET_DELIVERY_PREFIX = "ds-"
DATASET_EVENT_NAME = "dataset"
DATASET_EVENT_VERSION = "row"
# tenants/<tenantId>/rules/<rule>/<anything>: an upload there starts a run of that rule.
UPLOAD_KEY = re.compile(
    r"^tenants/(?P<tenant>[A-Za-z0-9][A-Za-z0-9_.-]{0,63})/rules/(?P<rule>[^/]{1,128})/.+$"
)


def upload_prefix(tenant_id: str, rule_name: str) -> str:
    return f"tenants/{tenant_id}/rules/{rule_name}/"


class RunState(StrEnum):
    ACCEPTED = "ACCEPTED"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    PARTIAL_SUCCESS = "PARTIAL_SUCCESS"
    FAILED = "FAILED"

    @property
    def finished(self) -> bool:
        return self in (RunState.SUCCEEDED, RunState.PARTIAL_SUCCESS, RunState.FAILED)


def run_id_for(tenant_id: str, rule_name: str, bucket: str, key: str, version: str) -> str:
    """The run of one object version through one rule (the same for a notification seen twice)."""
    parts = (tenant_id, rule_name, bucket, key, version)
    return "run-" + hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:32]


def dataset_delivery_id(tenant_id: str, run_id: str, row: int) -> str:
    """The delivery of row `row` of a run: one per row, whoever enqueues it and however often."""
    digest = hashlib.sha256("\x1f".join((tenant_id, run_id, str(row))).encode("utf-8")).hexdigest()
    return f"{DATASET_DELIVERY_PREFIX}{digest[:32]}"


def is_dataset_delivery(delivery_id: str) -> bool:
    return delivery_id.startswith(DATASET_DELIVERY_PREFIX)


@dataclass(frozen=True)
class DatasetObject:
    """One version of one S3 object; `version` is its version id, or else its ETag."""

    bucket: str
    key: str
    version: str
    size: int
    version_id: str | None = None

    @property
    def format(self) -> DatasetFormat:
        from eventrelay.datasets.reader import format_for_key

        return format_for_key(self.key)


@dataclass(frozen=True)
class RowError:
    line: int
    row: int
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"line": self.line, "row": self.row, "reason": self.reason}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RowError:
        return cls(int(data["line"]), int(data["row"]), str(data["reason"]))


@dataclass(frozen=True)
class Run:
    run_id: str
    tenant_id: str
    rule_name: str
    bucket: str
    key: str
    version: str
    version_id: str | None
    size: int
    format: DatasetFormat
    started_by: str  # upload | event | cli
    state: RunState
    created_at: float
    updated_at: float
    event_id: str | None = None
    rows: int = 0
    skipped: int = 0
    invalid: int = 0
    queued: int = 0
    delivered: int = 0
    failed: int = 0
    pending: int = 0
    position: Position = field(default_factory=Position)
    columns: tuple[str, ...] | None = None
    expanded: bool = False
    errors: tuple[RowError, ...] = ()
    errors_omitted: int = 0
    reason: str | None = None
    finished_at: float | None = None

    def with_changes(self, **changes: Any) -> Run:
        return replace(self, **changes)

    def final_state(self) -> RunState:
        """The state a run whose rows are all settled ends in."""
        if self.reason is not None:
            return RunState.FAILED
        if self.invalid == 0 and self.failed == 0:
            return RunState.SUCCEEDED
        return RunState.PARTIAL_SUCCESS if self.delivered > 0 else RunState.FAILED

    def to_view(self) -> dict[str, Any]:
        """JSON-ready, camelCase (the CLI's and the admin API's answer)."""
        return {
            "runId": self.run_id,
            "tenantId": self.tenant_id,
            "rule": self.rule_name,
            "state": self.state.value,
            "file": {"bucket": self.bucket, "key": self.key, "version": self.version, "size": self.size},
            "format": self.format.value,
            "startedBy": self.started_by,
            "eventId": self.event_id,
            "rows": self.rows,
            "skipped": self.skipped,
            "invalid": self.invalid,
            "queued": self.queued,
            "delivered": self.delivered,
            "failed": self.failed,
            "pending": self.pending,
            "fileRead": self.expanded,
            "bytesRead": self.position.offset,
            "reason": self.reason,
            "errors": [error.to_dict() for error in self.errors],
            "errorsOmitted": self.errors_omitted,
            "createdAt": iso_utc(self.created_at),
            "updatedAt": iso_utc(self.updated_at),
            "finishedAt": iso_utc(self.finished_at) if self.finished_at is not None else None,
        }


@dataclass(frozen=True)
class StartMessage:
    """Start the run of `rule` on a file a System Asset Event named (sent by the action runner)."""

    tenant_id: str
    rule_name: str
    bucket: str
    key: str
    event_id: str

    def to_body(self) -> str:
        return json.dumps(
            {
                "kind": DATASET_START_KIND,
                "tenantId": self.tenant_id,
                "rule": self.rule_name,
                "bucket": self.bucket,
                "key": self.key,
                "eventId": self.event_id,
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StartMessage:
        return cls(
            str(data["tenantId"]),
            str(data["rule"]),
            str(data["bucket"]),
            str(data["key"]),
            str(data["eventId"]),
        )


@dataclass(frozen=True)
class PageMessage:
    """Read the next page of a run's file from `position` (the expander sends it to itself)."""

    run_id: str
    position: Position

    def to_body(self) -> str:
        return json.dumps(
            {
                "kind": DATASET_PAGE_KIND,
                "runId": self.run_id,
                "offset": self.position.offset,
                "line": self.position.line,
                "rows": self.position.rows,
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PageMessage:
        return cls(str(data["runId"]), Position(int(data["offset"]), int(data["line"]), int(data["rows"])))
