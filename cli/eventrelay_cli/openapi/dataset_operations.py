"""The dataset run routes' operations (see `eventrelay.admin_api.datasets`)."""

from __future__ import annotations

from eventrelay.datasets.uploads import MAX_FILE_NAME_CHARS, MAX_UPLOAD_BYTES, UPLOAD_URL_SECONDS
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
        "DatasetUpload": obj(
            {
                "bucket": TEXT,
                "key": {
                    "type": "string",
                    "description": "tenants/<tenantId>/rules/<rule>/<UTC timestamp>-<fileName>",
                },
                "method": {"enum": ["PUT"]},
                "url": {
                    "type": "string",
                    "description": "a presigned S3 URL (SigV4), a credential for this key until it expires",
                },
                "headers": obj(
                    {"Content-Length": TEXT},
                    ["Content-Length"],
                ),
                "size": COUNT,
                "expiresAt": TEXT,
            },
            ["bucket", "key", "method", "url", "headers", "size", "expiresAt"],
        ),
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
        ("POST", f"{T}/datasets/uploads"): Operation(
            "An upload URL for a file of a dataset rule: PUT the file there and its run starts",
            ref("DatasetUpload"),
            status=201,
            body=obj(
                {
                    "rule": {"type": "string", "description": "a dataset rule of the tenant"},
                    "fileName": {
                        "type": "string",
                        "minLength": 1,
                        "maxLength": MAX_FILE_NAME_CHARS,
                        "description": "the file's name: .jsonl or .ndjson is JSON Lines, anything else CSV",
                    },
                    "size": {"type": "integer", "minimum": 0, "maximum": MAX_UPLOAD_BYTES},
                },
                ["rule", "fileName", "size"],
                closed=True,
            ),
            example_body={"rule": "escalations", "fileName": "rows.csv", "size": 48213},
            description=(
                f"The URL is valid for {UPLOAD_URL_SECONDS // 60} minutes and for a body of exactly "
                "`size` bytes (Content-Length is signed). The run's id derives from the object "
                "S3 stores (its version id): follow it with the runs routes."
            ),
            tags=datasets,
        ),
        ("GET", f"{T}/datasets/runs/{{runId}}"): Operation(
            "A dataset run: state, counts and per-row errors (line, row, reason)",
            ref("DatasetRun"),
            tags=datasets,
        ),
    }
