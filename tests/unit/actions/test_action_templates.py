"""Field parsing: tokens in URL, headers, plain and form payloads; malformed templates and their positions."""

from __future__ import annotations

import pytest

from eventrelay.actions.errors import TemplateError
from eventrelay.actions.templates import (
    Slot,
    Text,
    Token,
    parse_action_templates,
    parse_form,
    parse_header_value,
    parse_json,
    parse_url,
)


def tokens(segments: tuple[Text | Token, ...]) -> list[tuple[str, Slot]]:
    return [(s.name, s.slot) for s in segments if isinstance(s, Token)]


def template_error(call: object, *args: object) -> TemplateError:
    with pytest.raises(TemplateError) as caught:
        call(*args)  # type: ignore[operator]
    return caught.value


# --- URL ---------------------------------------------------------------------------------------


def test_url_tokens_in_path_query_and_fragment_are_fields_in_order() -> None:
    # Given a relative URL using `id` twice, `author` once and `anchor` in the fragment
    template = parse_url("/tickets/{{id}}/comments?author={{author}}&again={{id}}#c-{{anchor}}")
    # Then the fields are de-duplicated in order of first appearance, all URL-encoded slots
    assert template.field_names == ("id", "author", "anchor")
    assert tokens(template.segments) == [
        ("id", Slot.URL),
        ("author", Slot.URL),
        ("id", Slot.URL),
        ("anchor", Slot.URL),
    ]
    # And the literal text between tokens is kept exactly
    assert [s.text for s in template.segments if isinstance(s, Text)] == [
        "/tickets/",
        "/comments?author=",
        "&again=",
        "#c-",
    ]


def test_spaces_and_tabs_inside_braces_are_ignored() -> None:
    template = parse_url("https://api.example.com/x/{{ id }}/{{\tid\t}}/{{id}}")
    assert template.field_names == ("id",)


def test_field_names_may_use_letters_digits_underscore_dot_and_dash() -> None:
    template = parse_url("/{{ticket.id}}/{{user-name}}/{{_x9}}/{{A_b.c-D}}")
    assert template.field_names == ("ticket.id", "user-name", "_x9", "A_b.c-D")


def test_a_lone_closing_pair_is_literal_text() -> None:
    template = parse_url("/a}}b/{{x}}")
    assert template.field_names == ("x",)
    assert isinstance(template.segments[0], Text)
    assert template.segments[0].text == "/a}}b/"


def test_url_token_in_host_is_refused_at_its_offset() -> None:
    error = template_error(parse_url, "https://{{tenant}}.example.com/api")
    assert error.part == "url"
    assert error.position.offset == 8
    assert (error.position.line, error.position.column) == (1, 9)
    assert "host" in error.message


def test_url_token_right_after_the_host_is_refused() -> None:
    # A token glued to the host could extend it (`example.com` + `.evil.net`).
    error = template_error(parse_url, "https://api.example.com{{path}}")
    assert error.position.offset == len("https://api.example.com")


@pytest.mark.parametrize(
    ("url", "offset", "words"),
    [
        ("ftp://files.example.com/{{x}}", 0, "http"),
        ("javascript:alert(1)", 0, "http"),
        ("//evil.example.com/{{x}}", 0, "//"),
        ("/a b/{{x}}", 2, "whitespace"),
        ("/a/{{x}}/b\tc", 10, "whitespace"),
        ("https:///path", 8, "host"),
        ("https://user:pass@api.example.com/{{x}}", 17, "credentials"),
    ],
)
def test_urls_that_are_not_http_or_have_whitespace_are_refused(url: str, offset: int, words: str) -> None:
    error = template_error(parse_url, url)
    assert error.position.offset == offset
    assert words in error.message


def test_relative_url_may_start_with_a_token() -> None:
    template = parse_url("{{path}}?q=1")
    assert tokens(template.segments) == [("path", Slot.URL)]


# --- headers -------------------------------------------------------------------------------------


def test_header_value_tokens_are_header_slots() -> None:
    template = parse_header_value("Bearer {{token}} for {{ user }}", "headers.Authorization")
    assert tokens(template.segments) == [("token", Slot.HEADER), ("user", Slot.HEADER)]


@pytest.mark.parametrize(("value", "offset"), [("a\r\nX-Evil: 1", 1), ("{{x}}\x00", 5), ("caf\u20ac", 3)])
def test_header_literal_text_must_be_sendable(value: str, offset: int) -> None:
    error = template_error(parse_header_value, value, "headers.X-Test")
    assert error.part == "headers.X-Test"
    assert error.position.offset == offset


# --- plain (JSON) payload ------------------------------------------------------------------------


def test_plain_tokens_inside_strings_and_as_whole_values() -> None:
    template = parse_json('{"text": "Hi {{name}}!", "amount": {{amount}}, "list": [{{flag}}, "{{name}}"]}')
    assert template.field_names == ("name", "amount", "flag")
    assert tokens(template.segments) == [
        ("name", Slot.JSON_STRING),
        ("amount", Slot.JSON_VALUE),
        ("flag", Slot.JSON_VALUE),
        ("name", Slot.JSON_STRING),
    ]


def test_escaped_quote_does_not_end_the_string_around_a_token() -> None:
    # Given `\"` right before a token: the string is still open, so the token is inside it
    template = parse_json(r'{"quote": "\"{{name}}\""}')
    assert tokens(template.segments) == [("name", Slot.JSON_STRING)]


def test_escaped_backslash_before_a_quote_ends_the_string() -> None:
    # Given `"\\"`: the string is one backslash and ends there, so the next token is a whole value
    template = parse_json(r'{"slash": "\\", "value": {{v}}, "s": "\\{{w}}\\"}')
    assert tokens(template.segments) == [("v", Slot.JSON_VALUE), ("w", Slot.JSON_STRING)]


def test_escaped_braces_are_a_literal_double_brace() -> None:
    template = parse_json(r'{"doc": "\u007b\u007bnot a token}}"}')
    assert template.field_names == ()


def test_escaped_quote_cannot_close_a_token() -> None:
    # `\"` between `{{` and `}}` means the token would span text that is not a field name
    error = template_error(parse_json, r'{"a": "{{na\"}}"}')
    assert error.position.offset == 7


def test_duplicate_tokens_in_a_payload_make_one_field() -> None:
    template = parse_json('{"a": "{{x}}", "b": {{x}}, "c": "{{y}}{{x}}"}')
    assert template.field_names == ("x", "y")
    assert len(tokens(template.segments)) == 4


@pytest.mark.parametrize(
    ("source", "offset", "line", "column", "words"),
    [
        # an unclosed token in a multi-line payload: line 3, column 15
        ('{\n  "a": 1,\n  "text": "Hi {{name"\n}', 26, 3, 15, "unclosed"),
        ('{"a": "{{x", "b": "}}"}', 7, 1, 8, "unclosed"),
        ('{"a": {{x}', 6, 1, 7, "unclosed"),
        ('{"a": "{{}}"}', 7, 1, 8, "empty"),
        ('{"a": "{{   }}"}', 7, 1, 8, "empty"),
        ('{"a": "{{first name}}"}', 7, 1, 8, "invalid field name"),
        ('{"a": "{{1st}}"}', 7, 1, 8, "invalid field name"),
        ('{"a": "{{a/b}}"}', 7, 1, 8, "invalid field name"),
        ('{"a": "{{x\ny}}"}', 7, 1, 8, "unclosed"),
    ],
)
def test_malformed_tokens_are_refused_with_their_position(
    source: str, offset: int, line: int, column: int, words: str
) -> None:
    error = template_error(parse_json, source)
    assert error.part == "payload"
    assert (error.position.offset, error.position.line, error.position.column) == (offset, line, column)
    assert words in error.message
    assert f"line {line}, column {column}" in str(error)


@pytest.mark.parametrize(
    ("source", "offset"),
    [
        ('{"a": {{x}} {{y}}}', 12),  # two values in a row
        ('{"a": 1{{x}}}', 7),  # a token glued to a number
        ("{ {{k}}: 1}", 2),  # a token as an unquoted key
        ('{"a": {{x}}, "b": }', 18),  # a key without value
        ('{"a": "{{x}}" "b": 1}', 14),  # missing comma
        ('{"a": NaN}', 6),  # not JSON
        ('{"a": "x"} trailing', 11),
    ],
)
def test_invalid_json_around_tokens_is_refused_with_its_position(source: str, offset: int) -> None:
    error = template_error(parse_json, source)
    assert error.message.startswith("invalid JSON")
    assert error.position.offset == offset


def test_json_nested_too_deeply_is_refused_not_crashed() -> None:
    error = template_error(parse_json, "[" * 50_000 + "{{x}}" + "]" * 50_000)
    assert "nested too deeply" in error.message


def test_invalid_json_position_is_reported_as_line_and_column() -> None:
    source = '{\n  "a": {{amount}},\n  "b": [1 2]\n}'
    error = template_error(parse_json, source)
    assert (error.position.line, error.position.column) == (3, 11)


def test_whole_value_tokens_may_fill_arrays_and_the_top_level() -> None:
    assert parse_json("{{everything}}").field_names == ("everything",)
    assert parse_json("[{{a}}, {{b}}, [{{c}}]]").field_names == ("a", "b", "c")


# --- form payload --------------------------------------------------------------------------------


def test_form_values_are_templates_and_keys_are_literal() -> None:
    form = parse_form([("channel", "#{{channel}}"), ("text", "Hi {{ name }}, {{channel}}")])
    assert [key for key, _ in form] == ["channel", "text"]
    assert form[1][1].field_names == ("name", "channel")
    assert tokens(form[1][1].segments) == [("name", Slot.TEXT), ("channel", Slot.TEXT)]


def test_a_token_in_a_form_key_is_refused() -> None:
    error = template_error(parse_form, [("ok", "1"), ("x-{{k}}", "v")])
    assert error.part == "payload.form[1].key"
    assert error.position.offset == 2


def test_a_malformed_form_value_names_its_key() -> None:
    error = template_error(parse_form, [("text", "Hi {{name")])
    assert error.part == "payload.form.text"
    assert error.position.offset == 3


# --- all parts together --------------------------------------------------------------------------


def test_fields_across_parts_are_ordered_url_headers_payload_and_deduplicated() -> None:
    templates = parse_action_templates(
        url="/rooms/{{room}}",
        headers={"X-Trace": "{{trace}}", "X-Room": "{{room}}"},
        plain='{"who": "{{user}}", "room": "{{room}}", "trace": "{{trace}}"}',
    )
    assert templates.field_names == ("room", "trace", "user")


def test_a_header_error_names_the_header() -> None:
    error = template_error(parse_action_templates, "/x", {"X-Bad": "a {{"})
    assert error.part == "headers.X-Bad"
    assert error.position.offset == 2
