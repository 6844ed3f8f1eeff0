"""Properties of rendering arbitrary values: JSON keeps its shape, URLs their structure, headers stay safe."""

from __future__ import annotations

import json
import math
import unicodedata
from decimal import Decimal
from urllib.parse import unquote, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eventrelay.actions import (
    Action,
    FieldType,
    RenderError,
    UrlPathSegmentRefused,
    compile_action,
    parse_draft,
    render,
)

BASE = "http://127.0.0.1:8080/api"
PROPERTY = settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])

PLAIN_ACTION = compile_action(
    "t-1",
    parse_draft(
        {
            "connector": "c",
            "name": "plain",
            "method": "POST",
            "url": "/x",
            "payload": (
                '{"text": "Hi {{name}}!", "raw": "{{name}}", "whole": {{name}},\n'
                ' "escaped": "\\"{{other}}\\\\", "nested": {"list": ["{{other}}", {{name}}]}}'
            ),
        }
    ),
)


def changes_the_path(value: str) -> bool:
    """Issue 8: a path-segment value that is empty, `.` or `..`, also once percent-decoded (up to 8
    times; a value still decoding after that is refused too), would change which path is called."""
    for _ in range(8):
        if value in ("", ".", ".."):
            return True
        decoded = unquote(value)
        if decoded == value:
            return False
        value = decoded
    return True


URL_ACTION = compile_action(
    "t-1",
    parse_draft(
        {
            "connector": "c",
            "name": "url",
            "method": "GET",
            "url": "/users/{{segment}}/items?q={{query}}&page=1&{{key}}=v#{{frag}}",
        }
    ),
)

HEADER_ACTION = compile_action(
    "t-1",
    parse_draft(
        {
            "connector": "c",
            "name": "header",
            "method": "GET",
            "url": "/h",
            "headers": {"X-Customer": "id {{customer}}"},
        }
    ),
)

TYPED_ACTION = compile_action(
    "t-1",
    parse_draft(
        {
            "connector": "c",
            "name": "typed",
            "method": "POST",
            "url": "/t",
            "payload": '{"amount": {{amount}}, "ok": {{ok}}, "in_text": "{{amount}} {{ok}}"}',
            "fields": [{"name": "amount", "type": "Number"}, {"name": "ok", "type": "Boolean"}],
        }
    ),
)

# Unicode category Cc: C0 controls, DEL and C1 controls (CR, LF, NUL among them).
CONTROL_CHARACTERS = st.one_of(st.integers(0x00, 0x1F), st.integers(0x7F, 0x9F)).map(chr)


def body_json(action: Action, values: dict[str, object]) -> object:
    request = render(action, values, BASE)
    assert request.body is not None
    return json.loads(request.body)


@PROPERTY
@given(name=st.text(), other=st.text())
def test_a_rendered_plain_payload_is_json_with_the_templates_shape_and_values_round_trip(
    name: str, other: str
) -> None:
    data = body_json(PLAIN_ACTION, {"name": name, "other": other})
    assert data == {
        "text": f"Hi {name}!",
        "raw": name,
        "whole": name,
        "escaped": f'"{other}\\',
        "nested": {"list": [other, name]},
    }


@PROPERTY
@given(segment=st.text(), query=st.text(), key=st.text(), frag=st.text())
def test_url_values_round_trip_and_never_change_the_url_structure(
    segment: str, query: str, key: str, frag: str
) -> None:
    values = {"segment": segment, "query": query, "key": key, "frag": frag}
    if changes_the_path(segment):
        with pytest.raises(UrlPathSegmentRefused) as refused:
            render(URL_ACTION, values, BASE)
        assert refused.value.field == "segment"
        return
    request = render(URL_ACTION, values, BASE)
    parts = urlsplit(request.url)
    # The scheme and host are the base URL's; the path has exactly its template's segments
    assert (parts.scheme, parts.netloc) == ("http", "127.0.0.1:8080")
    path = parts.path.split("/")
    assert len(path) == 5
    assert (path[0], path[1], path[2], path[4]) == ("", "api", "users", "items")
    assert unquote(path[3]) == segment
    # The query has exactly three parameters, in order, and the fragment is one component
    params = parts.query.split("&")
    assert len(params) == 3
    q_name, q_value = params[0].split("=")
    assert (q_name, unquote(q_value)) == ("q", query)
    assert params[1] == "page=1"
    k_name, k_value = params[2].split("=")
    assert (unquote(k_name), k_value) == (key, "v")
    assert unquote(parts.fragment) == frag


@PROPERTY
@given(before=st.text(), control=CONTROL_CHARACTERS, after=st.text())
def test_header_values_with_control_characters_are_always_refused(
    before: str, control: str, after: str
) -> None:
    assert unicodedata.category(control) == "Cc"
    value = before + control + after
    with pytest.raises(RenderError) as caught:
        render(HEADER_ACTION, {"customer": value}, BASE)
    assert caught.value.field == "customer"
    if len(value) >= 8:
        assert value not in str(caught.value)


@PROPERTY
@given(value=st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E)))
def test_printable_ascii_header_values_are_sent_exactly(value: str) -> None:
    request = render(HEADER_ACTION, {"customer": value}, BASE)
    assert request.headers["X-Customer"] == f"id {value}".strip(" ")


NUMBERS = st.one_of(
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.decimals(
        allow_nan=False, allow_infinity=False, min_value=Decimal("-1e300"), max_value=Decimal("1e300")
    ),
    st.decimals(allow_nan=False, allow_infinity=False, places=4, min_value=-(10**12), max_value=10**12).map(
        str
    ),
)
BOOLEANS = st.one_of(st.booleans(), st.sampled_from(["true", "false", "TRUE", "False", "1", "0", " true "]))


@PROPERTY
@given(amount=NUMBERS, ok=BOOLEANS)
def test_number_and_boolean_whole_values_are_json_literals_of_the_same_value(
    amount: int | float | Decimal | str, ok: bool | str
) -> None:
    request = render(TYPED_ACTION, {"amount": amount, "ok": ok}, BASE)
    assert request.body is not None
    data = json.loads(request.body, parse_float=Decimal, parse_int=Decimal)
    expected_ok = ok if isinstance(ok, bool) else ok.strip().lower() in ("true", "1")
    assert data["ok"] is expected_ok
    assert isinstance(data["amount"], Decimal)
    expected = Decimal(repr(amount)) if isinstance(amount, float) else Decimal(amount)
    assert data["amount"] == expected
    amount_text, ok_text = data["in_text"].split(" ")
    assert (Decimal(amount_text), ok_text) == (expected, "true" if expected_ok else "false")


@PROPERTY
@given(
    bad=st.one_of(
        st.booleans(),
        st.just(math.nan),
        st.sampled_from([math.inf, -math.inf]),
        st.text().filter(lambda s: not _looks_numeric(s)),
    )
)
def test_values_that_are_not_numbers_are_refused_for_a_number_field(bad: object) -> None:
    with pytest.raises(RenderError) as caught:
        render(TYPED_ACTION, {"amount": bad, "ok": True}, BASE)
    assert caught.value.field == "amount"


@PROPERTY
@given(
    bad=st.one_of(
        st.text().filter(lambda s: s.strip().lower() not in ("true", "false", "1", "0")),
        st.integers().filter(lambda n: n not in (0, 1)),
    )
)
def test_values_that_are_not_booleans_are_refused_for_a_boolean_field(bad: object) -> None:
    with pytest.raises(RenderError) as caught:
        render(TYPED_ACTION, {"amount": 1, "ok": bad}, BASE)
    assert caught.value.field == "ok"


def _looks_numeric(text: str) -> bool:
    try:
        Decimal(text.strip())
    except ArithmeticError:
        return False
    return True


def test_the_typed_action_uses_number_and_boolean_fields() -> None:
    # Guards the properties above: they are only meaningful if the fields are really typed
    assert [(f.name, f.type) for f in TYPED_ACTION.fields] == [
        ("amount", FieldType.NUMBER),
        ("ok", FieldType.BOOLEAN),
    ]
