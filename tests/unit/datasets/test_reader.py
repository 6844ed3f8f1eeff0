"""The dataset reader: RFC 4180 CSV and JSON Lines, streamed in chunks, resumable at any row."""

from __future__ import annotations

import io

import pytest

from eventrelay.datasets.reader import CHUNK_BYTES, DatasetFormat, DatasetReader, DatasetUnreadable, Position


class ChunksOnly:
    """A streaming body that refuses to be read whole: only reads of at most one chunk."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)
        self.largest_read = 0
        self.reads = 0

    def read(self, amt: int | None = None) -> bytes:
        if amt is None or amt > CHUNK_BYTES:
            raise AssertionError("the reader asked for the whole body")
        self.reads += 1
        self.largest_read = max(self.largest_read, amt)
        return self._data.read(amt)


def csv_rows(data: bytes) -> list[tuple[int, int, dict[str, str] | None, str | None]]:
    reader = DatasetReader(ChunksOnly(data), DatasetFormat.CSV)
    return [(row.number, row.line, row.values, row.error) for row in reader]


def test_a_bom_quoted_commas_quotes_and_newlines_are_read_as_rfc_4180_says() -> None:
    data = b'\xef\xbb\xbfid,title\r\n1,"a, b"\r\n2,"say ""hi"""\r\n3,"two\r\nlines"\r\n4,plain\n'
    assert csv_rows(data) == [
        (1, 2, {"id": "1", "title": "a, b"}, None),
        (2, 3, {"id": "2", "title": 'say "hi"'}, None),
        (3, 4, {"id": "3", "title": "two\r\nlines"}, None),
        (4, 6, {"id": "4", "title": "plain"}, None),
    ]


def test_bad_rows_are_reported_with_their_line_and_reading_goes_on() -> None:
    data = b"a,b\n1,2\n1,2,3\n\n\xff\xfe,x\n5,6"
    rows = csv_rows(data)
    assert [(number, line, error) for number, line, _, error in rows] == [
        (1, 2, None),
        (2, 3, "the row has 3 fields, the header has 2"),
        (3, 5, "line 5 is not valid UTF-8"),
        (4, 6, None),
    ]


def test_a_file_without_a_header_or_with_a_repeated_column_is_unreadable() -> None:
    with pytest.raises(DatasetUnreadable, match="empty"):
        csv_rows(b"")
    with pytest.raises(DatasetUnreadable, match="twice: a"):
        csv_rows(b"a,b,a\n1,2,3\n")


def test_json_lines_rows_and_bad_lines() -> None:
    data = b'{"a": 1}\n\n[1]\nnot json\n{"a": 2}'
    reader = DatasetReader(ChunksOnly(data), DatasetFormat.JSON_LINES)
    assert [(row.number, row.line, row.values, row.error) for row in reader] == [
        (1, 1, {"a": 1}, None),
        (2, 3, None, "not a JSON object"),
        (3, 4, None, "not valid JSON"),
        (4, 5, {"a": 2}, None),
    ]


def test_reading_resumes_at_a_rows_end_with_the_same_rows_and_lines() -> None:
    data = b'id,note\n1,"x\ny"\n2,b\n3,c\n'
    first = DatasetReader(ChunksOnly(data), DatasetFormat.CSV)
    rows = iter(first)
    one = next(rows)
    assert one.end == Position(offset=len(b'id,note\n1,"x\ny"\n'), line=4, rows=1)
    # A new reader on the bytes from there (an S3 ranged GET) continues where the first stopped.
    rest = DatasetReader(ChunksOnly(data[one.end.offset :]), DatasetFormat.CSV, one.end, first.columns)
    assert [(row.number, row.line, row.values) for row in rest] == [
        (2, 4, {"id": "2", "note": "b"}),
        (3, 5, {"id": "3", "note": "c"}),
    ]
    assert rest.position.offset == len(data)


def test_a_large_file_is_read_in_chunks_and_rows_one_at_a_time() -> None:
    # 200,000 rows (~3 MB): the body is only ever read a chunk at a time
    data = b"n,text\n" + b"".join(b"%d,row number %d\n" % (n, n) for n in range(200_000))
    body = ChunksOnly(data)
    reader = DatasetReader(body, DatasetFormat.CSV)
    count = sum(1 for _ in reader)
    assert count == 200_000
    assert body.largest_read == CHUNK_BYTES
    assert body.reads >= len(data) // CHUNK_BYTES
    assert reader.position.offset == len(data)
