"""Rule conditions: when an event's payload triggers a rule.

A condition is JSON (or YAML) in one of four shapes, nested at most 5 levels, at most 50
comparisons in all:

    {"path": "$.total", "op": "gte", "value": 100}        a comparison on one payload path
    {"all": [<condition>, ...]}                           every one holds (an empty list holds)
    {"any": [<condition>, ...]}                           at least one holds (needs one or more)
    {"not": <condition>}                                  the condition does not hold

Operators (symbols are accepted as aliases and stored as the name):
- `eq` (`==`, `=`), `ne` (`!=`): JSON equality. Types matter: `1` equals `1.0` but not `"1"` nor
  `true`; lists and objects are compared element by element.
- `gt` (`>`), `gte` (`>=`), `lt` (`<`), `lte` (`<=`): the value is a number or a string. Numbers
  compare with numbers (booleans are not numbers), strings with strings by code point (so ISO 8601
  timestamps written the same way compare in time order). Any other pairing is false.
- `in`, `notIn`: the value is a non-empty list (at most 100 items); the payload value is (not)
  equal to one of them.
- `contains`: the payload value is a list with an item equal to the value, or a string that
  contains the value (a string).
- `exists`, `notExists`: the path is present with a non-null value (or not); no value is given.
A missing path (or a null value) makes every comparison false except `notExists`, including `ne`
and `notIn`: write `{"any": [{"path": p, "op": "notExists"}, {"path": p, "op": "ne", ...}]}` to
include events without the field. Evaluation never raises.

One-line form (the CLI's `--where`, several are ANDed): `PATH OP [VALUE]`, e.g. `$.total >= 100`,
`$.status in ["NEW","OPEN"]`, `$.customer.email exists`, `order.type == "retail"`. VALUE is JSON;
text that is not JSON is taken as a string (`status == NEW` compares with "NEW").
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from eventrelay.rules.paths import PathError, PayloadPath, parse_path

MAX_DEPTH = 5
MAX_COMPARISONS = 50
MAX_LIST_ITEMS = 100
MAX_VALUE_CHARS = 4096


class ConditionError(ValueError):
    """A condition that cannot be saved; the message names where (`condition.all[1].op`) and why."""


class Operator(StrEnum):
    EQ = "eq"
    NE = "ne"
    GT = "gt"
    GTE = "gte"
    LT = "lt"
    LTE = "lte"
    IN = "in"
    NOT_IN = "notIn"
    CONTAINS = "contains"
    EXISTS = "exists"
    NOT_EXISTS = "notExists"


_ALIASES: dict[str, Operator] = {
    "==": Operator.EQ,
    "=": Operator.EQ,
    "!=": Operator.NE,
    ">": Operator.GT,
    ">=": Operator.GTE,
    "<": Operator.LT,
    "<=": Operator.LTE,
    "not in": Operator.NOT_IN,
    "not exists": Operator.NOT_EXISTS,
}
_BY_NAME = {op.value.lower(): op for op in Operator}
_ORDERING = (Operator.GT, Operator.GTE, Operator.LT, Operator.LTE)
_PRESENCE = (Operator.EXISTS, Operator.NOT_EXISTS)
_MEMBERSHIP = (Operator.IN, Operator.NOT_IN)
_SYMBOLS = {
    Operator.EQ: "==",
    Operator.NE: "!=",
    Operator.GT: ">",
    Operator.GTE: ">=",
    Operator.LT: "<",
    Operator.LTE: "<=",
}


def operator_named(name: str) -> Operator | None:
    text = " ".join(name.split())
    return _ALIASES.get(text) or _BY_NAME.get(text.lower())


@dataclass(frozen=True)
class Comparison:
    path: PayloadPath
    op: Operator
    value: Any = None


@dataclass(frozen=True)
class AllOf:
    conditions: tuple[Condition, ...]


@dataclass(frozen=True)
class AnyOf:
    conditions: tuple[Condition, ...]


@dataclass(frozen=True)
class Not:
    condition: Condition


Condition = Comparison | AllOf | AnyOf | Not


# ---------------------------------------------------------------------------------------------
# Parsing and serialising


def parse_condition(data: object, where: str = "condition") -> Condition:
    """A condition from its JSON form; ConditionError names the location and the problem."""
    counter = [0]
    return _parse(data, where, 1, counter)


def _parse(data: object, where: str, depth: int, counter: list[int]) -> Condition:
    if depth > MAX_DEPTH:
        raise ConditionError(f"{where}: conditions may be nested at most {MAX_DEPTH} levels")
    if isinstance(data, (Comparison, AllOf, AnyOf, Not)):
        return data
    if not isinstance(data, Mapping):
        raise ConditionError(
            f"{where}: a condition is an object with 'path' and 'op', or 'all', 'any' or 'not'"
        )
    keys = set(data)
    if keys in ({"all"}, {"any"}):
        name = "all" if "all" in keys else "any"
        items = data[name]
        if not isinstance(items, list):
            raise ConditionError(f"{where}.{name}: must be a list of conditions")
        if name == "any" and not items:
            raise ConditionError(f"{where}.any: needs at least one condition")
        parsed = tuple(
            _parse(item, f"{where}.{name}[{i}]", depth + 1, counter) for i, item in enumerate(items)
        )
        return AllOf(parsed) if name == "all" else AnyOf(parsed)
    if keys == {"not"}:
        return Not(_parse(data["not"], f"{where}.not", depth + 1, counter))
    if "path" in keys and "op" in keys and keys <= {"path", "op", "value"}:
        counter[0] += 1
        if counter[0] > MAX_COMPARISONS:
            raise ConditionError(f"{where}: a condition may hold at most {MAX_COMPARISONS} comparisons")
        return _comparison(data, where)
    unknown = sorted(keys - {"path", "op", "value", "all", "any", "not"})
    if unknown:
        raise ConditionError(f"{where}: unknown key(s) {', '.join(map(repr, unknown))}")
    raise ConditionError(
        f"{where}: give either 'path' and 'op' (and 'value'), or exactly one of 'all', 'any', 'not'"
    )


def _comparison(data: Mapping[str, Any], where: str) -> Comparison:
    raw_path = data["path"]
    if not isinstance(raw_path, str):
        raise ConditionError(f"{where}.path: must be a text such as $.order.total")
    try:
        path = parse_path(raw_path)
    except PathError as exc:
        raise ConditionError(f"{where}.path: {exc}") from None
    raw_op = data["op"]
    op = operator_named(raw_op) if isinstance(raw_op, str) else None
    if op is None:
        names = ", ".join(o.value for o in Operator)
        raise ConditionError(f"{where}.op: unknown operator {raw_op!r}; use one of {names}")
    has_value = "value" in data
    value = data.get("value")
    _check_value(op, has_value, value, where)
    return Comparison(path, op, _freeze(value))


def _check_value(op: Operator, has_value: bool, value: Any, where: str) -> None:
    if op in _PRESENCE:
        if has_value and value is not None:
            raise ConditionError(f"{where}.value: '{op.value}' takes no value")
        return
    if not has_value:
        raise ConditionError(f"{where}.value: '{op.value}' needs a value")
    try:
        text = json.dumps(value, allow_nan=False, default=_decimal_default)
    except (TypeError, ValueError):
        raise ConditionError(f"{where}.value: must be a JSON value (finite numbers only)") from None
    if len(text) > MAX_VALUE_CHARS:
        raise ConditionError(f"{where}.value: at most {MAX_VALUE_CHARS} characters of JSON")
    if op in _ORDERING and not (_is_number(value) or isinstance(value, str)):
        raise ConditionError(f"{where}.value: '{op.value}' compares with a number or a string")
    if op in _MEMBERSHIP:
        if not isinstance(value, list | tuple) or not value:
            raise ConditionError(f'{where}.value: \'{op.value}\' needs a non-empty list such as ["a", "b"]')
        if len(value) > MAX_LIST_ITEMS:
            raise ConditionError(f"{where}.value: at most {MAX_LIST_ITEMS} items")
    if op is Operator.CONTAINS and isinstance(value, list | tuple | dict):
        raise ConditionError(f"{where}.value: 'contains' looks for one item or a piece of text, not a list")


def _decimal_default(value: object) -> object:
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(type(value).__name__)


def _freeze(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return tuple(_freeze(item) for item in value)
    return value


def _thaw(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_thaw(item) for item in value]
    return value


def condition_to_dict(condition: Condition) -> dict[str, Any]:
    """The JSON form (what `parse_condition` reads back)."""
    if isinstance(condition, AllOf):
        return {"all": [condition_to_dict(c) for c in condition.conditions]}
    if isinstance(condition, AnyOf):
        return {"any": [condition_to_dict(c) for c in condition.conditions]}
    if isinstance(condition, Not):
        return {"not": condition_to_dict(condition.condition)}
    out: dict[str, Any] = {"path": condition.path.text, "op": condition.op.value}
    if condition.op not in _PRESENCE:
        out["value"] = _thaw(condition.value)
    return out


def describe(condition: Condition) -> str:
    """One line for people: `$.total >= 100 and ($.status in ["NEW"] or not $.test exists)`."""
    if isinstance(condition, AllOf | AnyOf):
        joiner = " and " if isinstance(condition, AllOf) else " or "
        if not condition.conditions:
            return "always"
        parts = [_nested(c) for c in condition.conditions]
        return joiner.join(parts)
    if isinstance(condition, Not):
        return f"not {_nested(condition.condition)}"
    op = _SYMBOLS.get(condition.op, condition.op.value)
    if condition.op in _PRESENCE:
        return f"{condition.path.text} {op}"
    return f"{condition.path.text} {op} {json.dumps(_thaw(condition.value), ensure_ascii=False)}"


def _nested(condition: Condition) -> str:
    text = describe(condition)
    return f"({text})" if isinstance(condition, AllOf | AnyOf) and len(condition.conditions) > 1 else text


_SYMBOLIC = re.compile(
    r"^\s*(?P<path>[^\s<>=!]+)\s*(?P<op>==|!=|>=|<=|=|>|<)\s*(?P<value>.*?)\s*$", re.DOTALL
)
_WORDED = re.compile(
    r"^\s*(?P<path>\S+)\s+(?P<op>not\s+in|not\s+exists|notIn|notExists|in|contains|exists|eq|ne|gte|gt|lte|lt)"
    r"(?:\s+(?P<value>.*?))?\s*$",
    re.DOTALL | re.IGNORECASE,
)


def parse_condition_text(text: str) -> Comparison:
    """`PATH OP [VALUE]` (see the module's doc); ConditionError if it does not read as one comparison."""
    match = _SYMBOLIC.match(text) or _WORDED.match(text)
    if match is None:
        raise ConditionError(
            f"cannot read {text!r} as 'PATH OP [VALUE]', e.g. '$.total >= 100' or '$.email exists'"
        )
    op = operator_named(match.group("op"))
    assert op is not None
    data: dict[str, Any] = {"path": match.group("path"), "op": op.value}
    raw_value = match.group("value")
    if raw_value:
        data["value"] = _value_from_text(raw_value)
    parsed = _comparison(data, "condition")
    return parsed


def _value_from_text(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


# ---------------------------------------------------------------------------------------------
# Evaluating


def evaluate(condition: Condition | None, payload: Any) -> bool:
    """Whether the payload satisfies the condition (None: always). Never raises."""
    if condition is None:
        return True
    if isinstance(condition, AllOf):
        return all(evaluate(c, payload) for c in condition.conditions)
    if isinstance(condition, AnyOf):
        return any(evaluate(c, payload) for c in condition.conditions)
    if isinstance(condition, Not):
        return not evaluate(condition.condition, payload)
    found, actual = condition.path.resolve(payload)
    present = found and actual is not None
    if condition.op in _PRESENCE:
        return present if condition.op is Operator.EXISTS else not present
    return present and _compare(actual, condition.op, condition.value)


def _compare(actual: Any, op: Operator, expected: Any) -> bool:
    if op in (Operator.EQ, Operator.NE):
        return json_equal(actual, expected) is (op is Operator.EQ)
    if op in _MEMBERSHIP:
        member = any(json_equal(actual, item) for item in expected)
        return member is (op is Operator.IN)
    if op is Operator.CONTAINS:
        if isinstance(actual, str):
            return isinstance(expected, str) and expected in actual
        return isinstance(actual, list | tuple) and any(json_equal(item, expected) for item in actual)
    return _ordered(actual, op, expected)


def _ordered(actual: Any, op: Operator, expected: Any) -> bool:
    left: Decimal | str
    right: Decimal | str
    if _is_number(actual) and _is_number(expected):
        left, right = _number(actual), _number(expected)
    elif isinstance(actual, str) and isinstance(expected, str):
        left, right = actual, expected
    else:
        return False
    try:
        if op is Operator.GT:
            return left > right  # type: ignore[operator]
        if op is Operator.GTE:
            return left >= right  # type: ignore[operator]
        if op is Operator.LT:
            return left < right  # type: ignore[operator]
        return left <= right  # type: ignore[operator]
    except InvalidOperation:  # NaN in a payload compares with nothing
        return False


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def _number(value: Any) -> Decimal:
    if isinstance(value, Decimal):
        return value
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)


def json_equal(left: Any, right: Any) -> bool:
    """Equality of JSON values: booleans are not numbers, 1 == 1.0, containers compared deeply."""
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left is right
    if _is_number(left) and _is_number(right):
        return _number(left) == _number(right)
    if isinstance(left, list | tuple) and isinstance(right, list | tuple):
        return len(left) == len(right) and all(json_equal(a, b) for a, b in zip(left, right, strict=True))
    if isinstance(left, Mapping) and isinstance(right, Mapping):
        return left.keys() == right.keys() and all(json_equal(left[k], right[k]) for k in left)
    if type(left) is not type(right):
        return False
    return bool(left == right)
