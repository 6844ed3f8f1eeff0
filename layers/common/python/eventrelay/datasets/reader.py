"""Reading a dataset file as a stream of rows, resumable at any row boundary.

Formats: CSV (RFC 4180: a header row, fields quoted with `"` may hold commas, quotes written `""`
and line breaks; CRLF or LF line ends) and JSON Lines (one JSON object per line). UTF-8, with or
without a byte order mark. Blank lines are not rows.

The body is read in chunks of `CHUNK_BYTES` and split into lines here; the csv module pulls lines
one at a time, only as many as the current record needs, so after each row the reader knows the
exact byte offset where the next row starts (`Position`). A page of rows ends at such a position
and the next page starts there (an S3 ranged GET): memory holds one chunk and one row, whatever the
file's size. A line longer than `MAX_LINE_BYTES` makes the file unreadable (`DatasetUnreadable`).

Row numbers count data rows from 1; `line` is the line on which a row starts (the header is line
1 of a CSV file), which is what a person looking at the file finds.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

CHUNK_BYTES = 64 * 1024
MAX_LINE_BYTES = 1024 * 1024
BOM = b"\xef\xbb\xbf"


class DatasetFormat(StrEnum):
    CSV = "csv"
    JSON_LINES = "jsonl"


def format_for_key(key: str) -> DatasetFormat:
    """JSON Lines for `.jsonl`/`.ndjson` files, CSV for every other name."""
    lowered = key.lower()
    return DatasetFormat.JSON_LINES if lowered.endswith((".jsonl", ".ndjson")) else DatasetFormat.CSV


class DatasetUnreadable(Exception):
    """The file cannot be read as a dataset at all (no header, a line too long): the run fails."""


class ByteStream(Protocol):
    """What the reader needs of a body (botocore's StreamingBody fits)."""

    def read(self, amt: int | None = None) -> bytes: ...


@dataclass(frozen=True)
class Position:
    """Where reading stands: the byte offset of the next row, its line, and rows read before it."""

    offset: int = 0
    line: int = 1
    rows: int = 0


@dataclass(frozen=True)
class RowRead:
    """One data row: its values, or why it is not a valid row; `end` is where the next row starts."""

    number: int
    line: int
    values: dict[str, Any] | None
    error: str | None
    end: Position


class _Lines:
    """The body's lines (with their line ends), decoded; counts bytes and lines handed out."""

    def __init__(self, stream: ByteStream, start: Position) -> None:
        self._stream = stream
        self._buffer = b""
        self._exhausted = False
        self.offset = start.offset
        self.lines = start.line - 1
        self.undecodable: set[int] = set()
        self._at_start = start.offset == 0

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        line = self._next_bytes()
        if line is None:
            raise StopIteration
        self.offset += len(line)
        self.lines += 1
        if self._at_start:
            self._at_start = False
            line = line.removeprefix(BOM)
        try:
            return line.decode("utf-8")
        except UnicodeDecodeError:
            self.undecodable.add(self.lines)
            return line.decode("utf-8", errors="replace")

    def _next_bytes(self) -> bytes | None:
        while True:
            end = self._buffer.find(b"\n")
            if end >= 0:
                line, self._buffer = self._buffer[: end + 1], self._buffer[end + 1 :]
                return line
            if self._exhausted:
                line, self._buffer = self._buffer, b""
                return line or None
            if len(self._buffer) > MAX_LINE_BYTES:
                raise DatasetUnreadable(f"line {self.lines + 1} is longer than {MAX_LINE_BYTES} bytes")
            chunk = self._stream.read(CHUNK_BYTES)
            if not chunk:
                self._exhausted = True
            else:
                self._buffer += chunk


class DatasetReader:
    """Rows of one file from `start`. A CSV file read from its beginning reads its header first
    (`columns`); one read from a later position is given the header read then."""

    def __init__(
        self,
        stream: ByteStream,
        file_format: DatasetFormat,
        start: Position | None = None,
        columns: Sequence[str] | None = None,
    ) -> None:
        self.format = file_format
        self._start = start or Position()
        self._lines = _Lines(stream, self._start)
        self._rows = self._start.rows
        self.columns: list[str] | None = list(columns) if columns is not None else None
        self._csv = csv.reader(self._lines, strict=True) if file_format is DatasetFormat.CSV else None
        if self._csv is not None and self.columns is None:
            if self._start.offset != 0:
                raise ValueError("a CSV file read from the middle needs the columns of its header")
            self.columns = self._read_header()

    def _read_header(self) -> list[str]:
        assert self._csv is not None
        try:
            header = next(self._csv)
            while not header:  # blank lines before the header
                header = next(self._csv)
        except StopIteration:
            raise DatasetUnreadable("the file is empty: a CSV file starts with a header row") from None
        except csv.Error as exc:
            raise DatasetUnreadable(f"the header row cannot be read: {exc}") from None
        columns = [name.strip() for name in header]
        if any(not name for name in columns):
            raise DatasetUnreadable("the header row has an empty column name")
        duplicates = sorted({name for name in columns if columns.count(name) > 1})
        if duplicates:
            raise DatasetUnreadable(f"the header row names a column twice: {', '.join(duplicates)}")
        return columns

    @property
    def position(self) -> Position:
        return Position(self._lines.offset, self._lines.lines + 1, self._rows)

    def __iter__(self) -> Iterator[RowRead]:
        return self._csv_rows() if self._csv is not None else self._json_rows()

    def _row(self, line: int, values: dict[str, Any] | None, error: str | None) -> RowRead:
        self._rows += 1
        return RowRead(self._rows, line, values, error, self.position)

    def _csv_rows(self) -> Iterator[RowRead]:
        assert self._csv is not None
        assert self.columns is not None
        while True:
            line = self._lines.lines + 1
            try:
                record = next(self._csv)
            except StopIteration:
                return
            except csv.Error as exc:
                yield self._row(line, None, f"not a valid CSV record: {exc}")
                continue
            if not record:
                continue  # a blank line
            undecodable = sorted(n for n in self._lines.undecodable if n >= line)
            self._lines.undecodable.clear()
            if undecodable:
                yield self._row(line, None, f"line {undecodable[0]} is not valid UTF-8")
            elif len(record) != len(self.columns):
                yield self._row(
                    line, None, f"the row has {len(record)} fields, the header has {len(self.columns)}"
                )
            else:
                yield self._row(line, dict(zip(self.columns, record, strict=True)), None)

    def _json_rows(self) -> Iterator[RowRead]:
        for text in self._lines:
            line = self._lines.lines
            if not text.strip():
                continue
            if line in self._lines.undecodable:
                yield self._row(line, None, f"line {line} is not valid UTF-8")
                continue
            try:
                value = json.loads(text)
            except ValueError:
                yield self._row(line, None, "not valid JSON")
                continue
            if not isinstance(value, dict):
                yield self._row(line, None, "not a JSON object")
                continue
            yield self._row(line, value, None)
