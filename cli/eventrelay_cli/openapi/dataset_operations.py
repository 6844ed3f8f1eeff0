"""The dataset run routes' operations (see `eventrelay.admin_api.datasets`)."""

from __future__ import annotations

from eventrelay_cli.openapi.operation import Operation
from eventrelay_cli.openapi.schemas import Schema, array, nullable, obj, ref

T = "/v1/admin/tenants/{tenantId}"
TEXT: Schema = {"type": "string"}
COUNT: Schema = {"type": "integer", "minimum": 0}
RUN_STATES = ["ACCEPTED", "RUNNING", "SUCCEEDED", "PARTIAL_SUCCESS", "FAILED"]


def components() -> dict[str, Schema]:
    row_error = obj(
        {
            "line": {"type": "integer", "description": "the line the row starts on (the header is line 1)"},
            "row": {"type": "integer"},
            "reason": TEXT,
        },
        ["line", "row", "reason"],
    )
    counts = dict.fromkeys(("rows", "skipped", "invalid", "queued", "delivered", "failed"), COUNT)
    return {
        "DatasetRun": obj(
            {
                "runId": TEXT,
                "tenantId": TEXT,
                "rule": TEXT,
                "state": {"enum": RUN_STATES},
                "file": obj(
                    {"bucket": TEXT, "key": TEXT, "version": TEXT, "size": COUNT},
                    ["bucket", "key", "version", "size"],
                ),
                "format": {"enum": ["csv", "jsonl"]},
                "startedBy": TEXT,
                "eventId": nullable(TEXT),
                **counts,
                "pending": {"type": "integer"},
                "fileRead": {"type": "boolean"},
                "bytesRead": COUNT,
                "reason": nullable(TEXT),
                "errors": array(row_error),
                "errorsOmitted": COUNT,
                "createdAt": TEXT,
                "updatedAt": TEXT,
                "finishedAt": nullable(TEXT),
            },
            ["runId", "tenantId", "rule", "state", *counts, "pending", "errors", "errorsOmitted"],
        ),
    }


def operations() -> dict[tuple[str, str], Operation]:
    datasets = ("datasets",)
    return {
        ("GET", f"{T}/datasets/runs"): Operation(
            "A tenant's latest dataset runs, newest first",
            obj({"runs": array(ref("DatasetRun"))}, ["runs"]),
            query=(
                {
                    "name": "limit",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "integer", "minimum": 1, "maximum": 200},
                },
            ),
            tags=datasets,
        ),
        ("GET", f"{T}/datasets/runs/{{runId}}"): Operation(
            "A dataset run: state, counts and per-row errors (line, row, reason)",
            ref("DatasetRun"),
            tags=datasets,
        ),
    }
