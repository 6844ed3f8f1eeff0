"""Request bodies as JSON values that can travel: every accepted value re-encodes as strict JSON.

`json.loads` accepts two things that cannot be sent on as JSON: numbers out of float range
(`1e999` becomes `inf`, then `Infinity` on the queue) and `\\ud800`-style escapes of a lone UTF-16
surrogate (a str that UTF-8 cannot encode, so the send fails and the publisher would be told to
retry for ever). Both are the caller's bad input (1003), found here, before anything is accepted.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from eventrelay.errors import BadBody

# A \u escape of a UTF-16 surrogate: only then can a parsed str hold a lone one.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def unrepresentable_value(value: Any) -> str | None:
    """Why `value` cannot be re-encoded as strict UTF-8 JSON, or None when it can."""
    stack = [value]
    while stack:
        current = stack.pop()
        if isinstance(current, str):
            try:
                current.encode("utf-8")
            except UnicodeEncodeError:
                return "a string holds a lone UTF-16 surrogate (\\ud800-\\udfff escape)"
        elif isinstance(current, float):
            if not math.isfinite(current):
                return "a number is out of range"
        elif isinstance(current, dict):
            stack.extend(current.keys())
            stack.extend(current.values())
        elif isinstance(current, list):
            stack.extend(current)
    return None


def parse_json_object(body: bytes, *, refuse_unrepresentable: bool = True) -> dict[str, Any]:
    """The body as a JSON object, or BadBody (1003) saying why: never an unhandled error.

    With `refuse_unrepresentable=False` (bulk: one bad item is that item's error, not the
    request's) values that cannot travel are left for the caller to check per item with
    `unrepresentable_value`.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise BadBody("Body is not valid UTF-8") from None
    out_of_range = False

    def parse_float(literal: str) -> float:
        nonlocal out_of_range
        number = float(literal)
        out_of_range = out_of_range or not math.isfinite(number)
        return number

    try:
        value = json.loads(text, parse_constant=_refuse_constant, parse_float=parse_float)
    except json.JSONDecodeError as exc:
        raise BadBody(f"Body is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise BadBody("Body is not valid JSON: nested too deeply") from None
    except ValueError as exc:
        raise BadBody(f"Body is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise BadBody(
            f"Body must be a JSON object, not {type(value).__name__ if value is not None else 'null'}"
        )
    if refuse_unrepresentable and (out_of_range or _SURROGATE_ESCAPE.search(text)):
        problem = unrepresentable_value(value)
        if problem is not None:
            raise BadBody(f"Body is not valid JSON: {problem}")
    return value
