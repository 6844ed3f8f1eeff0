"""From a payload to an action's request: paths, constants, defaults, and the reasons it cannot be built."""

from __future__ import annotations

import json
from typing import Any

import pytest

from eventrelay.actions import ActionDraft, compile_action
from eventrelay.rules import MappingError, check_against_action, parse_rule_draft, render_request

ACTION = compile_action(
    "t1",
    ActionDraft.model_validate(
        {
            "connector": "helpdesk",
            "name": "create-ticket",
            "method": "POST",
            "url": "tickets/{{orderId}}",
            "headers": {"X-Priority": "{{priority}}"},
            "payload": '{"amount": {{amount}}, "summary": "{{summary}}", "urgent": {{urgent}}}',
            "fields": [
                {"name": "amount", "type": "Number"},
                {"name": "urgent", "type": "Boolean", "default": False},
                {"name": "priority", "default": "normal"},
            ],
        }
    ),
)
BASE_URL = "https://helpdesk.example.com/api"


def rule(mapping: dict[str, Any]) -> Any:
    return parse_rule_draft(
        {
            "name": "r",
            "eventName": "OrderPlaced",
            "eventVersion": "v01",
            "action": "create-ticket",
            "mapping": mapping,
        }
    )


FULL = {
    "orderId": "$.order.id",
    "amount": "$.total",
    "summary": {"path": "order.title"},
    "priority": {"constant": "high"},
}


def test_paths_constants_and_defaults_render_the_request() -> None:
    payload = {"order": {"id": "o/1", "title": 'Big "one"'}, "total": "150.5"}
    request = render_request(rule(FULL), ACTION, payload, BASE_URL)
    assert request.url == "https://helpdesk.example.com/api/tickets/o%2F1"
    assert request.headers["X-Priority"] == "high"
    assert json.loads(request.body or b"") == {"amount": 150.5, "summary": 'Big "one"', "urgent": False}


def test_a_missing_path_uses_the_default_when_there_is_one() -> None:
    mapping = {**FULL, "urgent": "$.flags.urgent", "priority": "$.priority"}
    request = render_request(
        rule(mapping), ACTION, {"order": {"id": "1", "title": "t"}, "total": 1}, BASE_URL
    )
    assert request.headers["X-Priority"] == "normal"
    assert json.loads(request.body or b"")["urgent"] is False


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (
            {"order": {"title": "t"}, "total": 1},
            "field 'orderId' (path $.order.id): is missing from the payload and the field has no default",
        ),
        (
            {"order": {"id": None, "title": "t"}, "total": 1},
            "field 'orderId' (path $.order.id): is null in the payload and the field has no default",
        ),
        (
            {"order": {"id": "1", "title": "t"}, "total": "lots"},
            "field 'amount' (path $.total, type Number): is not a Number",
        ),
        (
            {"order": {"id": "1", "title": "t"}, "total": True},
            "field 'amount' (path $.total, type Number): must be a Number, not a boolean",
        ),
    ],
)
def test_unusable_values_are_mapping_errors_naming_field_path_and_reason(
    payload: dict[str, Any], message: str
) -> None:
    with pytest.raises(MappingError) as failed:
        render_request(rule(FULL), ACTION, payload, BASE_URL)
    assert str(failed.value) == message


def test_a_header_value_with_a_line_break_is_refused() -> None:
    payload = {"order": {"id": "1", "title": "t"}, "total": 1}
    with pytest.raises(MappingError, match=r"field 'priority' .*control characters"):
        render_request(
            rule({**FULL, "priority": {"constant": "high\r\nX-Evil: 1"}}), ACTION, payload, BASE_URL
        )


def test_saving_checks_the_mapping_against_the_action() -> None:
    # Every field mapped (or defaulted): fits
    assert check_against_action(rule(FULL), ACTION) == []
    # A field without default left out: refused, naming the field
    problems = check_against_action(rule({k: v for k, v in FULL.items() if k != "amount"}), ACTION)
    assert problems == [
        "mapping.amount: field 'amount' of action 'create-ticket' has no default, "
        "so the rule must map it to a payload path or a constant"
    ]
    # A name that is not a field, and a constant of the wrong type
    problems = check_against_action(
        rule({**FULL, "colour": {"constant": "red"}, "amount": {"constant": "lots"}}), ACTION
    )
    assert "mapping.amount: the constant is not a Number (type Number)" in problems
    assert any(p.startswith("mapping.colour: not a field of action 'create-ticket'") for p in problems)
