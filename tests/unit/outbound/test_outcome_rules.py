"""How responses become outcomes: status classes, Retry-After, kept headers, body previews."""

from __future__ import annotations

import email.utils

import pytest

from eventrelay.outbound.outcome import (
    Outcome,
    OutcomeKind,
    classify_status,
    parse_retry_after,
    select_headers,
)

NOW = 1_800_000_000.0


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (200, OutcomeKind.SUCCESS),
        (299, OutcomeKind.SUCCESS),
        (100, OutcomeKind.PERMANENT),
        (302, OutcomeKind.PERMANENT),
        (307, OutcomeKind.PERMANENT),
        (400, OutcomeKind.PERMANENT),
        (403, OutcomeKind.PERMANENT),
        (408, OutcomeKind.RETRYABLE),
        (422, OutcomeKind.PERMANENT),
        (429, OutcomeKind.RETRYABLE),
        (500, OutcomeKind.RETRYABLE),
        (599, OutcomeKind.RETRYABLE),
    ],
)
def test_status_classes(status: int, kind: OutcomeKind) -> None:
    assert classify_status(status) is kind


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("0", 0.0),
        ("120", 120.0),
        (" 7 ", 7.0),
        (email.utils.formatdate(NOW + 30, usegmt=True), 30.0),
        (email.utils.formatdate(NOW - 30, usegmt=True), 0.0),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),
        ("-5", None),
        ("1.5", None),
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_accepts_seconds_and_http_dates(value: str | None, seconds: float | None) -> None:
    assert parse_retry_after(value, NOW) == seconds


def test_only_known_response_headers_are_kept_lower_cased() -> None:
    kept = select_headers(
        {"Content-Type": "text/plain", "Set-Cookie": "a=b", "Retry-After": "5", "X-Other": "1"}
    )
    assert kept == {"content-type": "text/plain", "retry-after": "5"}


def test_body_preview_is_truncated_and_tolerates_invalid_utf8() -> None:
    outcome = Outcome(OutcomeKind.SUCCESS, status=200, body=b"\xff" + b"a" * 10)
    assert outcome.body_text(limit=5) == "\ufffdaaaa…"
    summary = outcome.to_dict(body_limit=5)
    assert summary["bodyTruncated"] is True
    assert summary["outcome"] == "SUCCESS"
