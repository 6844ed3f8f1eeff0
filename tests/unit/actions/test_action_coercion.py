"""Type coercion: what each field type accepts, how it is rendered, and what it refuses (naming the field)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from eventrelay.actions.errors import RenderError
from eventrelay.actions.fields import FieldType, coerce

MOMENT = datetime(2026, 11, 23, 10, 15, tzinfo=UTC)
EPOCH_SECONDS = int(MOMENT.timestamp())
EPOCH_MILLIS = EPOCH_SECONDS * 1000


def refused(field_type: FieldType, value: object, field: str = "amount") -> RenderError:
    with pytest.raises(RenderError) as caught:
        coerce(field, field_type, value)
    return caught.value


# --- Date ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "2026-11-23",
        " 2026-11-23 ",
        "20261123",
        "2026-11-23T10:15:00Z",
        "2026-11-23T23:30:00-05:00",  # the calendar date as written, not shifted to UTC
        "2026-11-23 08:00",
        date(2026, 11, 23),
        datetime(2026, 11, 23, 22, 0),
        datetime(2026, 11, 23, 1, 0, tzinfo=timezone(timedelta(hours=9))),
        EPOCH_SECONDS,
        EPOCH_MILLIS,
        str(EPOCH_SECONDS),
        float(EPOCH_SECONDS) + 0.5,
        Decimal(EPOCH_MILLIS),
    ],
)
def test_dates_from_common_inputs_render_as_iso_dates(value: object) -> None:
    typed = coerce("due", FieldType.DATE, value)
    assert typed.text == "2026-11-23"
    assert typed.json == '"2026-11-23"'


# --- DateTime -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "rendered"),
    [
        ("2026-11-23T10:15:00Z", "2026-11-23T10:15:00Z"),
        ("2026-11-23T12:15:00+02:00", "2026-11-23T10:15:00Z"),
        ("2026-11-23T10:15:00", "2026-11-23T10:15:00Z"),  # no offset: taken as UTC
        ("2026-11-23 10:15", "2026-11-23T10:15:00Z"),
        ("20261123T101500Z", "2026-11-23T10:15:00Z"),
        ("2026-11-23T10:15:00.250Z", "2026-11-23T10:15:00.250Z"),
        ("2026-11-23", "2026-11-23T00:00:00Z"),
        (datetime(2026, 11, 23, 10, 15), "2026-11-23T10:15:00Z"),
        (datetime(2026, 11, 23, 5, 15, tzinfo=timezone(timedelta(hours=-5))), "2026-11-23T10:15:00Z"),
        (date(2026, 11, 23), "2026-11-23T00:00:00Z"),
        (EPOCH_SECONDS, "2026-11-23T10:15:00Z"),
        (EPOCH_MILLIS, "2026-11-23T10:15:00Z"),
        (EPOCH_MILLIS + 123, "2026-11-23T10:15:00.123Z"),
        (EPOCH_SECONDS + 0.5, "2026-11-23T10:15:00.500Z"),
        (str(EPOCH_SECONDS), "2026-11-23T10:15:00Z"),
        (str(EPOCH_MILLIS), "2026-11-23T10:15:00Z"),
        (0, "1970-01-01T00:00:00Z"),
        (datetime(2026, 11, 23, 10, 15, 0, 123456), "2026-11-23T10:15:00.123456Z"),
    ],
)
def test_datetimes_from_common_inputs_render_as_iso_utc(value: object, rendered: str) -> None:
    typed = coerce("at", FieldType.DATETIME, value)
    assert typed.text == rendered
    assert typed.json == f'"{rendered}"'


@pytest.mark.parametrize("field_type", [FieldType.DATE, FieldType.DATETIME])
@pytest.mark.parametrize(
    "value", ["tomorrow", "2026-13-01", "23/11/2026", "", True, 10**30, float("nan"), ["2026-11-23"]]
)
def test_bad_dates_are_refused_naming_the_field(field_type: FieldType, value: object) -> None:
    error = refused(field_type, value, field="dueDate")
    assert error.field == "dueDate"
    assert "dueDate" in str(error)
    assert field_type.value in str(error)


# --- Number -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "rendered"),
    [
        (42, "42"),
        (-7, "-7"),
        (1.5, "1.5"),
        (1e20, "1e+20"),
        ("12.50", "12.50"),  # the digits as given: no float rounding
        (" 42 ", "42"),
        ("+5", "5"),
        ("1e3", "1E+3"),
        ("-0.001", "-0.001"),
        (".5", "0.5"),
        ("12345678901234567890.123456789", "12345678901234567890.123456789"),
        (Decimal("3.14"), "3.14"),
    ],
)
def test_numbers_render_as_json_numbers(value: object, rendered: str) -> None:
    typed = coerce("amount", FieldType.NUMBER, value)
    assert typed.text == rendered
    assert typed.json == rendered


@pytest.mark.parametrize(
    "value",
    [
        True,
        False,
        "abc",
        "",
        "NaN",
        "Infinity",
        "1,000",
        "0x10",
        "1_000",
        "12 apples",
        float("nan"),
        float("inf"),
        Decimal("NaN"),
        Decimal("Infinity"),
        "1e999",
        [],
        {"n": 1},
    ],
)
def test_bad_numbers_are_refused_naming_the_field_not_the_value(value: object) -> None:
    error = refused(FieldType.NUMBER, value, field="order.total")
    assert error.field == "order.total"
    assert str(error).startswith("field 'order.total':")
    if isinstance(value, str) and len(value) > 2:
        assert value not in str(error)


def test_a_bad_number_canary_never_appears_in_the_error() -> None:
    error = refused(FieldType.NUMBER, "canary-5f3a1b-not-a-number", field="total")
    assert "canary-5f3a1b" not in str(error)
    assert "canary-5f3a1b" not in repr(error.args)


# --- Boolean ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "rendered"),
    [
        (True, "true"),
        (False, "false"),
        ("true", "true"),
        ("FALSE", "false"),
        (" 1 ", "true"),
        ("0", "false"),
        (1, "true"),
        (0, "false"),
    ],
)
def test_booleans_render_as_json_literals(value: object, rendered: str) -> None:
    typed = coerce("ok", FieldType.BOOLEAN, value)
    assert typed.text == rendered
    assert typed.json == rendered


@pytest.mark.parametrize("value", ["yes", "", "2", 2, -1, 1.0, None, []])
def test_bad_booleans_are_refused(value: object) -> None:
    error = refused(FieldType.BOOLEAN, value, field="ok")
    assert error.field == "ok"


# --- String -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("plain", "plain"),
        ("", ""),
        (42, "42"),
        (True, "true"),
        (2.5, "2.5"),
        ({"a": [1, "x"]}, '{"a":[1,"x"]}'),
        (date(2026, 11, 23), "2026-11-23"),
        (datetime(2026, 11, 23, 10, 15), "2026-11-23T10:15:00Z"),
    ],
)
def test_strings_accept_scalars_and_objects_as_text(value: object, text: str) -> None:
    typed = coerce("name", FieldType.STRING, value)
    assert typed.text == text


def test_a_string_with_a_lone_surrogate_is_refused() -> None:
    error = refused(FieldType.STRING, "bad \ud800 text", field="name")
    assert error.field == "name"
    assert "surrogate" in error.reason
