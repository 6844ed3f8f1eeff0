"""One admin operation as the OpenAPI document describes it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from eventrelay_cli.openapi.schemas import Schema


@dataclass(frozen=True)
class Operation:
    """One admin operation: `answer` is the schema of the success envelope's `data`."""

    summary: str
    answer: Schema
    status: int = 200
    body: Schema | None = None
    query: tuple[dict[str, Any], ...] = ()
    conflicts: bool = False  # may answer 1012 (exists, in use, changed concurrently)
    example_body: dict[str, Any] | None = None
    description: str = ""
    tags: tuple[str, ...] = field(default=())
