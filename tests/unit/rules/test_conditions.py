"""Rule conditions: equality, comparison, presence and membership on payload paths; the one-line form."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from eventrelay.rules.conditions import (
    ConditionError,
    condition_to_dict,
    describe,
    evaluate,
    json_equal,
    parse_condition,
    parse_condition_text,
)

PAYLOAD: dict[str, Any] = {
    "total": 150,
    "price": 9.5,
    "status": "NEW",
    "tags": ["vip", "eu"],
    "email": "ada@example.com",
    "empty": None,
    "active": True,
    "when": "2026-11-23T10:15:00Z",
    "order": {"lines": [{"qty": 2}]},
}


def holds(condition: Any) -> bool:
    return evaluate(parse_condition(condition), PAYLOAD)


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"path": "$.total", "op": "eq", "value": 150}, True),
        ({"path": "$.total", "op": "eq", "value": 150.0}, True),
        ({"path": "$.total", "op": "eq", "value": "150"}, False),
        ({"path": "$.active", "op": "eq", "value": 1}, False),
        ({"path": "$.active", "op": "eq", "value": True}, True),
        ({"path": "$.status", "op": "ne", "value": "OLD"}, True),
        ({"path": "$.total", "op": "gt", "value": 100}, True),
        ({"path": "$.total", "op": "gte", "value": 150}, True),
        ({"path": "$.total", "op": "lt", "value": 150}, False),
        ({"path": "$.price", "op": "lte", "value": 9.5}, True),
        ({"path": "$.total", "op": "gt", "value": "100"}, False),
        ({"path": "$.when", "op": "gte", "value": "2026-11-01T00:00:00Z"}, True),
        ({"path": "$.active", "op": "gt", "value": 0}, False),
        ({"path": "$.status", "op": "in", "value": ["NEW", "OPEN"]}, True),
        ({"path": "$.status", "op": "notIn", "value": ["NEW", "OPEN"]}, False),
        ({"path": "$.tags", "op": "contains", "value": "vip"}, True),
        ({"path": "$.email", "op": "contains", "value": "@example."}, True),
        ({"path": "$.total", "op": "contains", "value": 1}, False),
        ({"path": "$.email", "op": "exists"}, True),
        ({"path": "$.empty", "op": "exists"}, False),
        ({"path": "$.missing", "op": "notExists"}, True),
        ({"path": "$.order.lines[0].qty", "op": ">=", "value": 2}, True),
        ({"path": "$.tags", "op": "==", "value": ["vip", "eu"]}, True),
    ],
)
def test_comparisons(condition: dict[str, Any], expected: bool) -> None:
    assert holds(condition) is expected


@pytest.mark.parametrize("op", ["eq", "ne", "gt", "gte", "lt", "lte", "in", "notIn", "contains"])
def test_a_missing_path_never_matches_a_comparison(op: str) -> None:
    value: Any = ["x"] if op in ("in", "notIn") else "x"
    assert holds({"path": "$.missing", "op": op, "value": value}) is False
    assert holds({"path": "$.empty", "op": op, "value": value}) is False


def test_all_any_not_combine() -> None:
    assert holds(
        {
            "all": [
                {"path": "$.total", "op": "gt", "value": 100},
                {"path": "$.status", "op": "eq", "value": "NEW"},
            ]
        }
    )
    assert not holds(
        {
            "all": [
                {"path": "$.total", "op": "gt", "value": 100},
                {"path": "$.status", "op": "eq", "value": "X"},
            ]
        }
    )
    assert holds(
        {"any": [{"path": "$.missing", "op": "exists"}, {"path": "$.status", "op": "eq", "value": "NEW"}]}
    )
    assert holds({"not": {"path": "$.status", "op": "eq", "value": "OLD"}})
    assert holds({"all": []})


def test_no_condition_always_holds() -> None:
    assert evaluate(None, {}) is True


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        ({"path": "$.a", "op": "gtt", "value": 1}, "condition.op: unknown operator 'gtt'"),
        ({"path": "$.a", "op": "eq"}, "condition.value: 'eq' needs a value"),
        ({"path": "$.a", "op": "exists", "value": 3}, "'exists' takes no value"),
        ({"path": "$.a", "op": "in", "value": "x"}, "needs a non-empty list"),
        ({"path": "$.a", "op": "in", "value": []}, "needs a non-empty list"),
        ({"path": "$.a", "op": "gt", "value": [1]}, "compares with a number or a string"),
        ({"path": "$.a[*]", "op": "exists"}, "condition.path: invalid path"),
        (
            {"all": [{"path": "$.a", "op": "eq", "value": 1}, {"path": "$.b", "op": "nope", "value": 1}]},
            "condition.all[1].op",
        ),
        ({"any": []}, "condition.any: needs at least one"),
        ({"all": "x"}, "must be a list"),
        ({"path": "$.a", "op": "eq", "value": 1, "extra": 2}, "unknown key"),
        ({"all": [], "any": []}, "exactly one of"),
        ("text", "a condition is an object"),
    ],
)
def test_invalid_conditions_are_refused_naming_where(condition: Any, message: str) -> None:
    with pytest.raises(ConditionError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_condition(condition)


def test_nesting_is_bounded() -> None:
    condition: Any = {"path": "$.a", "op": "exists"}
    for _ in range(5):
        condition = {"not": condition}
    with pytest.raises(ConditionError, match="nested at most 5"):
        parse_condition(condition)


@pytest.mark.parametrize(
    ("text", "as_dict"),
    [
        ("$.total >= 100", {"path": "$.total", "op": "gte", "value": 100}),
        ("total>100", {"path": "total", "op": "gt", "value": 100}),
        ('$.status in ["NEW","OPEN"]', {"path": "$.status", "op": "in", "value": ["NEW", "OPEN"]}),
        ("$.status not in [1, 2]", {"path": "$.status", "op": "notIn", "value": [1, 2]}),
        ("$.email exists", {"path": "$.email", "op": "exists"}),
        ("$.email not exists", {"path": "$.email", "op": "notExists"}),
        ("status == NEW", {"path": "status", "op": "eq", "value": "NEW"}),
        ('status != "a b"', {"path": "status", "op": "ne", "value": "a b"}),
        ("$.tags contains vip", {"path": "$.tags", "op": "contains", "value": "vip"}),
    ],
)
def test_one_line_form(text: str, as_dict: dict[str, Any]) -> None:
    assert condition_to_dict(parse_condition_text(text)) == as_dict


@pytest.mark.parametrize("text", ["", "total", "$.a in", "$.a ~ 3"])
def test_one_line_form_refuses_what_it_cannot_read(text: str) -> None:
    with pytest.raises(ConditionError):
        parse_condition_text(text)


def test_json_form_round_trips_and_describes() -> None:
    data = {
        "all": [
            {"path": "$.total", "op": "gte", "value": 100},
            {
                "any": [
                    {"path": "$.status", "op": "in", "value": ["NEW"]},
                    {"not": {"path": "$.x", "op": "exists"}},
                ]
            },
        ]
    }
    condition = parse_condition(data)
    assert condition_to_dict(condition) == data
    assert describe(condition) == '$.total >= 100 and ($.status in ["NEW"] or not $.x exists)'


finite_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=5)
)
any_scalars = finite_scalars | st.floats()
finite_values = st.recursive(
    finite_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=8,
)
payload_values = st.recursive(
    any_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=8,
)


def _fits(op: str, value: Any) -> bool:
    if op in ("gt", "gte", "lt", "lte"):
        return isinstance(value, int | float | str) and not isinstance(value, bool)
    if op == "contains":
        return not isinstance(value, list | dict)
    return True


@given(value=payload_values, other=finite_values)
def test_evaluation_never_raises(value: Any, other: Any) -> None:
    # Given any payload value (NaN and infinity included) and any valid comparison value
    for op in ("eq", "ne", "gt", "gte", "lt", "lte", "contains", "in", "notIn"):
        compared = [other] if op in ("in", "notIn") else other
        if not _fits(op, compared):
            continue
        # Then evaluating never raises and gives a boolean
        result = evaluate(parse_condition({"path": "$.v", "op": op, "value": compared}), {"v": value})
        assert isinstance(result, bool)


@given(value=finite_values)
def test_every_value_equals_itself_and_is_in_a_list_of_itself(value: Any) -> None:
    assert json_equal(value, value)
    assert evaluate(parse_condition({"path": "$.v", "op": "in", "value": [value]}), {"v": value}) is (
        value is not None
    )
