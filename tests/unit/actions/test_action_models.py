"""Action definitions: constraints at the edge, fields derived from templates, admin choices kept."""

from __future__ import annotations

from typing import Any

import pytest

from eventrelay.actions import (
    Action,
    ActionDraft,
    ActionField,
    FieldType,
    FormPayload,
    HttpMethod,
    InvalidAction,
    PlainPayload,
    TemplateError,
    compile_action,
    parse_draft,
)


def draft_data(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "connector": "jira",
        "name": "create-issue",
        "method": "POST",
        "url": "/rest/api/2/issue?project={{project}}",
        "headers": {"X-Reporter": "{{reporter}}"},
        "payload": {"type": "plain", "text": '{"summary": "{{summary}}", "points": {{points}}}'},
    }
    data.update(overrides)
    return data


def invalid(data: dict[str, Any]) -> InvalidAction:
    with pytest.raises(InvalidAction) as caught:
        parse_draft(data)
    return caught.value


def test_a_draft_accepts_camel_case_and_snake_case_and_defaults_max_retries_to_3() -> None:
    camel = parse_draft(draft_data(maxRetries=5))
    snake = parse_draft(draft_data(max_retries=0))
    default = parse_draft(draft_data())
    assert (camel.max_retries, snake.max_retries, default.max_retries) == (5, 0, 3)


@pytest.mark.parametrize("retries", [6, -1, 100])
def test_max_retries_out_of_range_is_refused_with_a_clear_message(retries: int) -> None:
    error = invalid(draft_data(maxRetries=retries))
    assert error.problems == [f"maxRetries: max retries must be between 0 and 5, got {retries}"]


@pytest.mark.parametrize("retries", ["3", 2.5, True])
def test_max_retries_must_be_an_integer(retries: object) -> None:
    error = invalid(draft_data(maxRetries=retries))
    assert error.problems[0].startswith("maxRetries:")


def test_method_is_case_insensitive_and_limited_to_five_verbs() -> None:
    assert parse_draft(draft_data(method="patch")).method is HttpMethod.PATCH
    error = invalid(draft_data(method="TRACE"))
    assert error.problems[0].startswith("method:")


@pytest.mark.parametrize(
    ("overrides", "location"),
    [
        ({"name": ""}, "name"),
        ({"name": "has space"}, "name"),
        ({"name": "x" * 129}, "name"),
        ({"connector": "a#b"}, "connector"),
        ({"headers": {"Bad Header": "x"}}, "headers"),
        ({"headers": {"X-A": "1", "x-a": "2"}}, "headers"),
        ({"headers": {"Host": "evil.example"}}, "headers"),
        ({"headers": {"content-length": "{{n}}"}}, "headers"),
        ({"maxRetry": 2}, "maxRetry"),  # a typo is refused, not ignored
        ({"payload": {"type": "xml", "text": "<a/>"}}, "payload"),
    ],
)
def test_constraints_are_checked_at_the_edge(overrides: dict[str, Any], location: str) -> None:
    error = invalid(draft_data(**overrides))
    assert any(problem.startswith(location) for problem in error.problems), error.problems


def test_a_bare_string_payload_is_plain_and_a_mapping_form_keeps_its_order() -> None:
    plain = parse_draft(draft_data(payload='{"a": "{{b}}"}'))
    assert isinstance(plain.payload, PlainPayload)
    form = parse_draft(draft_data(payload={"type": "form", "pairs": {"z": "{{z}}", "a": "1"}}))
    assert isinstance(form.payload, FormPayload)
    assert [pair.key for pair in form.payload.pairs] == ["z", "a"]


def test_compiling_derives_fields_in_order_as_strings_without_default() -> None:
    action = compile_action("t-1", parse_draft(draft_data()), now="2026-11-23T10:15:00.000Z")
    assert [(f.name, f.type, f.default) for f in action.fields] == [
        ("project", FieldType.STRING, None),
        ("reporter", FieldType.STRING, None),
        ("summary", FieldType.STRING, None),
        ("points", FieldType.STRING, None),
    ]
    assert (action.version, action.created_at, action.updated_at) == (
        1,
        "2026-11-23T10:15:00.000Z",
        action.created_at,
    )


def test_compiling_applies_the_admins_type_and_default_choices() -> None:
    draft = parse_draft(draft_data(fields=[{"name": "points", "type": "number", "default": 3}]))
    action = compile_action("t-1", draft)
    assert action.field("points") == ActionField(name="points", type=FieldType.NUMBER, default=3)


def test_a_malformed_template_is_refused_at_compile_time_with_its_position() -> None:
    draft = parse_draft(draft_data(payload='{"a": "{{b"}'))
    with pytest.raises(TemplateError) as caught:
        compile_action("t-1", draft)
    assert caught.value.part == "payload"
    assert caught.value.position.offset == 7


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ([{"name": "nope"}], "'nope' is not used"),
        ([{"name": "points"}, {"name": "points", "type": "Number"}], "listed more than once"),
    ],
)
def test_field_choices_must_name_fields_of_the_templates_once(
    fields: list[dict[str, Any]], words: str
) -> None:
    with pytest.raises(InvalidAction) as caught:
        compile_action("t-1", parse_draft(draft_data(fields=fields)))
    assert any(words in problem for problem in caught.value.problems)


@pytest.mark.parametrize(
    ("field_type", "default"),
    [
        ("Number", "lots"),
        ("Boolean", "maybe"),
        ("Date", "someday"),
        ("DateTime", "2026-99-01"),
        ("Number", True),
    ],
)
def test_a_default_must_fit_its_type(field_type: str, default: object) -> None:
    error = invalid(draft_data(fields=[{"name": "points", "type": field_type, "default": default}]))
    assert "points" in error.problems[0]
    assert field_type in error.problems[0]


def test_recompiling_keeps_choices_for_remaining_fields_and_drops_removed_ones() -> None:
    # Given a saved action where the admin typed `points` and `project`
    first = compile_action(
        "t-1",
        parse_draft(
            draft_data(
                fields=[
                    {"name": "points", "type": "Number", "default": 1},
                    {"name": "project", "default": "OPS"},
                ]
            )
        ),
        now="a",
    )
    # When the template is changed: `project` removed, `due` added, `points` kept
    changed = parse_draft(
        draft_data(
            url="/rest/api/2/issue", payload='{"points": {{points}}, "due": "{{due}}", "s": "{{summary}}"}'
        )
    )
    second = compile_action("t-1", changed, previous=first, now="b")
    # Then `points` keeps Number/1, new `due` is String, `project` is gone
    assert [(f.name, f.type, f.default) for f in second.fields] == [
        ("reporter", FieldType.STRING, None),
        ("points", FieldType.NUMBER, 1),
        ("due", FieldType.STRING, None),
        ("summary", FieldType.STRING, None),
    ]
    assert (second.version, second.created_at, second.updated_at) == (2, "a", "b")


def test_an_action_whose_fields_do_not_match_its_templates_is_invalid() -> None:
    action = compile_action("t-1", parse_draft(draft_data()))
    data = action.model_dump(by_alias=True)
    data["fields"] = data["fields"][:2]
    with pytest.raises(ValueError, match="fields must be exactly"):
        Action.model_validate(data)


def test_an_action_round_trips_through_json_and_back_to_a_draft() -> None:
    action = compile_action(
        "t-1", parse_draft(draft_data(fields=[{"name": "points", "type": "Number"}])), now="x"
    )
    again = Action.model_validate_json(action.model_dump_json(by_alias=True))
    assert again == action
    draft = action.to_draft()
    assert isinstance(draft, ActionDraft)
    assert compile_action("t-1", draft, now="x") == action
