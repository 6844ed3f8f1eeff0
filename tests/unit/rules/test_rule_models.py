"""Rule definitions as admins write them: mapping forms, conditions, and clear refusals."""

from __future__ import annotations

from typing import Any

import pytest

from eventrelay.rules import ConstantSource, InvalidRule, PathSource, parse_rule_draft

BASE: dict[str, Any] = {
    "name": "notify-big-orders",
    "eventName": "OrderPlaced",
    "eventVersion": "v01",
    "action": "create-ticket",
}


def test_a_rule_in_camel_case_with_every_mapping_form() -> None:
    draft = parse_rule_draft(
        {
            **BASE,
            "condition": {"path": "$.total", "op": ">=", "value": 100},
            "mapping": {
                "orderId": "$.order.id",
                "summary": {"path": "order.title"},
                "priority": {"constant": "high"},
                "count": {"constant": 3},
            },
            "enabled": False,
        }
    )
    assert isinstance(draft.mapping["orderId"], PathSource)
    assert draft.mapping["orderId"].path.text == "$.order.id"
    assert isinstance(draft.mapping["summary"], PathSource)
    assert draft.mapping["priority"] == ConstantSource(constant="high")
    assert draft.enabled is False
    # The JSON form is what was written, with operators by name
    dumped = draft.model_dump(mode="json", by_alias=True)
    assert dumped["mapping"]["orderId"] == {"path": "$.order.id"}
    assert dumped["condition"] == {"path": "$.total", "op": "gte", "value": 100}
    assert parse_rule_draft(dumped) == draft


def test_snake_case_input_is_accepted() -> None:
    draft = parse_rule_draft({"name": "r", "event_name": "E", "event_version": "v1", "action": "a"})
    assert (draft.event_name, draft.event_version, draft.condition, draft.mapping) == ("E", "v1", None, {})


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"name": "bad name"}, "name: String should match pattern"),
        ({"eventVersion": "1"}, "eventVersion: String should match pattern"),
        ({"mapping": {"x": "order.id"}}, 'mapping.x: write {"path": "..."} for a payload path'),
        ({"mapping": {"x": {"path": "$.a[*]"}}}, "mapping.x: invalid path '$.a[*]'"),
        ({"mapping": {"x": {"constant": None}}}, "mapping.x: a constant may not be null"),
        ({"mapping": {"x": {"path": "$.a", "constant": 1}}}, 'mapping.x: a mapping is {"path"'),
        ({"mapping": {"bad field!": {"constant": 1}}}, "mapping.bad field!.[key]"),
        (
            {"condition": {"path": "$.a", "op": "between", "value": 1}},
            "condition.op: unknown operator 'between'",
        ),
        ({"enabled": "yes"}, "enabled: Input should be a valid boolean"),
        ({"colour": "red"}, "colour: Extra inputs are not permitted"),
    ],
)
def test_invalid_rules_are_refused_with_one_line_per_problem(change: dict[str, Any], problem: str) -> None:
    with pytest.raises(InvalidRule) as refused:
        parse_rule_draft({**BASE, **change})
    assert any(line.startswith(problem) for line in refused.value.problems), refused.value.problems
