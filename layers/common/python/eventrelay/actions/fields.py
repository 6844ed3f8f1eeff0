"""Field types and the coercion of raw values (from an event payload, a rule constant, a default).

Every value is turned into a `TypedValue` before it touches a template: its canonical `text` (used in
URLs, headers, form values and inside JSON strings) and its `json` literal (used where a token stands
as a whole JSON value). Errors name the field and the expected type, never the value.

Accepted inputs, by type:
- String: text as is; numbers, booleans, dates as their canonical text; objects/arrays as compact JSON.
- Number: int, float, Decimal, or a numeric string (`-1.5`, ` 42 `, `1e3`); never bool, NaN or
  infinity. The string's digits are kept (no float rounding).
- Boolean: True/False, 0/1, or the strings "true"/"false"/"1"/"0" (any case, surrounding spaces).
- Date: a `date`, a `datetime` (its own calendar date, as written), an ISO 8601 date or date-time
  string, or epoch seconds/milliseconds (number or digit string; UTC). Rendered `2026-11-23`.
  A string of exactly eight digits is the ISO basic date `YYYYMMDD`; other digit strings are epochs.
- DateTime: a `datetime` (naive means UTC), a `date` (midnight UTC), an ISO 8601 string, or epoch
  seconds/milliseconds. Converted to UTC and rendered `2026-11-23T10:15:00Z` (with `.fff` or
  `.ffffff` only when there are fractions of a second).
Epoch numbers with an absolute value of at least 1e11 are milliseconds (1e11 seconds is year 5138).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum

from eventrelay.actions.errors import RenderError


class FieldType(StrEnum):
    STRING = "String"
    NUMBER = "Number"
    BOOLEAN = "Boolean"
    DATE = "Date"
    DATETIME = "DateTime"


@dataclass(frozen=True)
class TypedValue:
    """A value validated for its field type: `text` for text positions, `json` for whole JSON values."""

    type: FieldType
    text: str
    json: str


_NUMERIC_TEXT = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_JSON_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?")
_EPOCH_TEXT = re.compile(r"[+-]?\d+(?:\.\d+)?")
_BASIC_DATE = re.compile(r"\d{8}")
_EPOCH_MILLIS_THRESHOLD = Decimal(10) ** 11
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_TRUE_TEXT = frozenset({"true", "1"})
_FALSE_TEXT = frozenset({"false", "0"})


def coerce(field: str, field_type: FieldType, value: object) -> TypedValue:
    """Validate `value` for `field_type`; raise RenderError(field, reason) if it does not fit."""
    if field_type is FieldType.STRING:
        text = _string_text(field, value)
        return TypedValue(field_type, text, json.dumps(text, ensure_ascii=False))
    if field_type is FieldType.NUMBER:
        text = _number_text(field, value)
        return TypedValue(field_type, text, text)
    if field_type is FieldType.BOOLEAN:
        text = "true" if _boolean(field, value) else "false"
        return TypedValue(field_type, text, text)
    if field_type is FieldType.DATE:
        text = _date(field, value).isoformat()
        return TypedValue(field_type, text, json.dumps(text))
    text = format_datetime(_datetime(field, value))
    return TypedValue(field_type, text, json.dumps(text))


def format_datetime(moment: datetime) -> str:
    """ISO 8601 in UTC with a `Z`, fractions of a second only when present."""
    moment = moment.astimezone(UTC)
    if moment.microsecond == 0:
        timespec = "seconds"
    elif moment.microsecond % 1000 == 0:
        timespec = "milliseconds"
    else:
        timespec = "microseconds"
    return moment.replace(tzinfo=None).isoformat(timespec=timespec) + "Z"


def _check_unicode(field: str, text: str) -> str:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise RenderError(field, "is not valid Unicode text (it contains a lone surrogate)") from None
    return text


def _string_text(field: str, value: object) -> str:
    if isinstance(value, str):
        return _check_unicode(field, value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        return _number_text(field, value)
    if isinstance(value, datetime):
        return format_datetime(_datetime(field, value))
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict | list | tuple):
        try:
            text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        except (TypeError, ValueError):
            raise RenderError(field, "is an object or array that cannot be written as JSON text") from None
        return _check_unicode(field, text)
    raise RenderError(field, f"cannot be rendered as String (unsupported type {type(value).__name__})")


def _number_text(field: str, value: object) -> str:
    if isinstance(value, bool):
        raise RenderError(field, "must be a Number, not a boolean")
    if isinstance(value, int):
        try:
            return str(value)
        except ValueError:  # more digits than int->str conversion allows
            raise RenderError(field, "is a Number with too many digits") from None
    if isinstance(value, float):
        if not math.isfinite(value):
            raise RenderError(field, "must be a finite Number (NaN and infinity are refused)")
        return repr(value)
    if isinstance(value, Decimal):
        return _decimal_text(field, value)
    if isinstance(value, str):
        stripped = value.strip()
        if len(stripped) > 400 or not _NUMERIC_TEXT.fullmatch(stripped):
            raise RenderError(field, "is not a Number")
        try:
            return _decimal_text(field, Decimal(stripped))
        except InvalidOperation:
            raise RenderError(field, "is not a Number") from None
    raise RenderError(field, f"must be a Number (got type {type(value).__name__})")


def _decimal_text(field: str, number: Decimal) -> str:
    if not number.is_finite():
        raise RenderError(field, "must be a finite Number (NaN and infinity are refused)")
    if number != 0 and not -308 <= number.adjusted() <= 308:
        raise RenderError(field, "is a Number out of range")
    text = str(number)
    if not _JSON_NUMBER.fullmatch(text):  # str(Decimal) is always JSON for finite numbers; stay sure
        raise RenderError(field, "is not a Number")
    return text


def _boolean(field: str, value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return value == 1
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in _TRUE_TEXT:
            return True
        if lowered in _FALSE_TEXT:
            return False
    raise RenderError(field, 'must be a Boolean (true/false, 1/0, "true"/"false", "1"/"0")')


def _date(field: str, value: object) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    parsed = _parse_temporal(field, value, "Date")
    return parsed.date() if isinstance(parsed, datetime) else parsed


def _datetime(field: str, value: object) -> datetime:
    parsed = value if isinstance(value, date) else _parse_temporal(field, value, "DateTime")
    if isinstance(parsed, datetime):
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    return datetime(parsed.year, parsed.month, parsed.day, tzinfo=UTC)


def _parse_temporal(field: str, value: object, type_name: str) -> date | datetime:
    """ISO 8601 text or epoch seconds/millis; a date-only string stays a `date`."""
    if isinstance(value, bool):
        raise RenderError(field, f"must be a {type_name}, not a boolean")
    if isinstance(value, int | float | Decimal):
        return _from_epoch(field, value, type_name)
    if not isinstance(value, str):
        raise RenderError(field, f"must be a {type_name} (got type {type(value).__name__})")
    text = value.strip()
    if len(text) <= 40 and _EPOCH_TEXT.fullmatch(text) and not _BASIC_DATE.fullmatch(text):
        return _from_epoch(field, Decimal(text), type_name)
    if len(text) > 64:
        raise RenderError(field, f"is not an ISO 8601 {type_name}")
    try:
        return date.fromisoformat(text)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise RenderError(
            field, f"is not an ISO 8601 {type_name} (e.g. 2026-11-23 or 2026-11-23T10:15:00Z)"
        ) from None


def _from_epoch(field: str, value: int | float | Decimal, type_name: str) -> datetime:
    if isinstance(value, float) and not math.isfinite(value):
        raise RenderError(field, f"must be a finite epoch timestamp for a {type_name}")
    number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    if not number.is_finite():
        raise RenderError(field, f"must be a finite epoch timestamp for a {type_name}")
    scale = 1000 if abs(number) >= _EPOCH_MILLIS_THRESHOLD else 1_000_000
    try:
        micros = int((number * scale).to_integral_value())
        return _EPOCH + timedelta(microseconds=micros)
    except (OverflowError, ValueError, InvalidOperation):
        raise RenderError(field, f"is an epoch timestamp out of range for a {type_name}") from None
