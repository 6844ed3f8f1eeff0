"""Rendering one action into an OutboundRequest: URL joining and encoding, headers, bodies, errors."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import pytest

from eventrelay.actions import Action, RenderError, compile_action, parse_draft, render
from eventrelay.outbound.request import OutboundRequest

BASE = "https://api.example.com/v2"
CANARY = "canary-7d1e-secret"


def make_action(**overrides: Any) -> Action:
    data: dict[str, Any] = {"connector": "crm", "name": "a", "method": "POST", "url": ""}
    data.update(overrides)
    return compile_action("t-1", parse_draft(data))


def render_error(action: Action, values: dict[str, object], base_url: str = BASE) -> RenderError:
    with pytest.raises(RenderError) as caught:
        render(action, values, base_url)
    return caught.value


# --- URL ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("base", "url", "expected"),
    [
        ("https://api.example.com/v2", "tickets/{{id}}", "https://api.example.com/v2/tickets/42"),
        ("https://api.example.com/v2/", "/tickets/{{id}}", "https://api.example.com/v2/tickets/42"),
        ("https://api.example.com", "/tickets/{{id}}", "https://api.example.com/tickets/42"),
        ("https://api.example.com/v2", "?id={{id}}", "https://api.example.com/v2?id=42"),
        ("https://api.example.com/v2", "", "https://api.example.com/v2"),
        (
            "https://api.example.com/v2",
            "https://other.example.net/x/{{id}}",
            "https://other.example.net/x/42",
        ),
        ("http://127.0.0.1:8080", "{{id}}", "http://127.0.0.1:8080/42"),
    ],
)
def test_relative_urls_are_appended_to_the_base_url(base: str, url: str, expected: str) -> None:
    request = render(make_action(url=url, method="GET"), {"id": 42}, base)
    assert request.url == expected


def test_a_value_cannot_change_the_url_structure() -> None:
    # Given values full of URL syntax in a path segment and a query value
    action = make_action(url="/users/{{user}}/items?q={{q}}&page=1#{{frag}}")
    request = render(action, {"user": "../admin/?x=1#", "q": "a&page=2 +=%", "frag": "a#b"}, BASE)
    parts = urlsplit(request.url)
    # Then the path still has 4 segments, the query 2 parameters, and each value decodes back
    segments = parts.path.split("/")
    assert segments[:3] == ["", "v2", "users"]
    assert len(segments) == 5
    assert unquote(segments[3]) == "../admin/?x=1#"
    assert parts.query.split("&")[1] == "page=1"
    assert unquote(parts.query.split("&")[0].removeprefix("q=")) == "a&page=2 +=%"
    assert unquote(parts.fragment) == "a#b"


def test_a_relative_url_starting_with_a_token_cannot_choose_the_scheme() -> None:
    action = make_action(url="{{x}}:8080/path")
    request = render(action, {"x": "javascript"}, BASE)
    assert request.url == "https://api.example.com/v2/javascript:8080/path"


def test_a_bad_base_url_is_refused_without_repeating_it() -> None:
    action = make_action(url="/x")
    error = render_error(action, {}, base_url=f"ftp://{CANARY}@example.com")
    assert error.field is None
    assert CANARY not in str(error)


# --- headers -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [f"{CANARY}\r\nX-Injected: 1", f"{CANARY}\n", f"\x00{CANARY}", f"{CANARY}\x7f", f"tab\t{CANARY}", "\x85"],
)
def test_header_values_with_control_characters_are_refused_naming_the_field(value: str) -> None:
    action = make_action(headers={"X-Customer": "id={{customer}}"})
    error = render_error(action, {"customer": value})
    assert error.field == "customer"
    assert "control characters" in error.reason
    assert CANARY not in str(error)


def test_header_values_outside_latin1_are_refused() -> None:
    action = make_action(headers={"X-Name": "{{name}}"})
    error = render_error(action, {"name": "Zoë 🎉"})
    assert error.field == "name"
    assert "ISO-8859-1" in error.reason


def test_header_values_are_sent_as_is_and_trimmed() -> None:
    action = make_action(headers={"Authorization": "Bearer {{token}}", "X-Pad": " {{pad}} "})
    request = render(action, {"token": "a.b-c=/+{{x}}", "pad": "  v  "}, BASE)
    assert request.headers["Authorization"] == "Bearer a.b-c=/+{{x}}"
    assert request.headers["X-Pad"] == "v"


# --- bodies and Content-Type --------------------------------------------------------------------


def test_plain_payload_renders_json_with_typed_whole_values() -> None:
    action = make_action(
        payload=(
            '{"text": "Hi {{name}}!", "amount": {{amount}}, "ok": {{ok}}, "due": {{due}}, "who": {{name}}}'
        ),
        fields=[
            {"name": "amount", "type": "Number"},
            {"name": "ok", "type": "Boolean"},
            {"name": "due", "type": "Date"},
        ],
    )
    request = render(action, {"name": 'O"Brien\\', "amount": "12.50", "ok": "1", "due": "2026-11-23"}, BASE)
    assert request.body is not None
    assert request.body == (
        b'{"text": "Hi O\\"Brien\\\\!", "amount": 12.50, "ok": true, "due": "2026-11-23", '
        b'"who": "O\\"Brien\\\\"}'
    )
    assert json.loads(request.body)["text"] == 'Hi O"Brien\\!'
    assert request.headers == {"Content-Type": "application/json"}


def test_template_syntax_in_a_value_is_rendered_literally() -> None:
    # Given one value that looks like a token of another field holding a canary
    action = make_action(payload='{"a": "{{a}}", "b": "{{b}}"}', headers={"X-A": "{{a}}"}, url="/{{a}}")
    request = render(action, {"a": "{{b}}", "b": CANARY}, BASE)
    # Then it is sent as those characters, never replaced by the other field's value
    assert request.body is not None
    assert json.loads(request.body) == {"a": "{{b}}", "b": CANARY}
    assert request.headers["X-A"] == "{{b}}"
    assert request.url.endswith("/%7B%7Bb%7D%7D")


def test_a_string_whole_value_with_an_object_stays_a_string() -> None:
    action = make_action(payload='{"data": {{data}}}')
    request = render(action, {"data": {"nested": [1, 2]}}, BASE)
    assert request.body is not None
    assert json.loads(request.body) == {"data": '{"nested":[1,2]}'}


def test_form_payload_is_urlencoded_with_literal_keys() -> None:
    action = make_action(
        payload={
            "type": "form",
            "pairs": [{"key": "text", "value": "Hi {{name}}"}, {"key": "a b&c", "value": "{{n}}"}],
        }
    )
    request = render(action, {"name": "x&y=z +ü", "n": 5}, BASE)
    assert request.body is not None
    assert parse_qsl(request.body.decode("ascii"), keep_blank_values=True) == [
        ("text", "Hi x&y=z +ü"),
        ("a b&c", "5"),
    ]
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"


def test_an_admin_content_type_wins_over_the_default() -> None:
    action = make_action(payload='{"a": 1}', headers={"content-type": "application/vnd.api+json"})
    request = render(action, {}, BASE)
    assert request.headers == {"content-type": "application/vnd.api+json"}


def test_without_payload_there_is_no_body_and_no_content_type() -> None:
    request = render(make_action(method="DELETE", url="/items/{{id}}"), {"id": "9"}, BASE)
    assert request == OutboundRequest(method="DELETE", url=f"{BASE}/items/9", headers={}, body=None)


# --- values, defaults and errors ----------------------------------------------------------------


def test_defaults_fill_missing_and_null_values() -> None:
    action = make_action(
        url="/x?a={{a}}&b={{b}}",
        fields=[{"name": "a", "default": "A"}, {"name": "b", "type": "Number", "default": 7}],
    )
    assert render(action, {"b": None}, BASE).url == f"{BASE}/x?a=A&b=7"
    assert render(action, {"a": "given"}, BASE).url == f"{BASE}/x?a=given&b=7"


def test_a_missing_value_without_default_is_an_error_naming_the_field() -> None:
    action = make_action(url="/x/{{ticket.id}}")
    error = render_error(action, {"other": 1})
    assert error.field == "ticket.id"
    assert str(error) == "field 'ticket.id': has no value and no default"


def test_a_bad_number_is_refused_naming_the_field_and_not_the_value() -> None:
    action = make_action(payload='{"n": {{n}}}', fields=[{"name": "n", "type": "Number"}])
    error = render_error(action, {"n": CANARY})
    assert error.field == "n"
    assert CANARY not in str(error)
