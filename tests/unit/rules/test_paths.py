"""Payload paths: dotted and JSONPath-like forms, what they find, and what is refused (with where)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from eventrelay.rules.paths import PathError, parse_path

PAYLOAD: dict[str, Any] = {
    "order": {"id": "o-1", "lines": [{"sku": "A1"}, {"sku": "B2"}], "0": "zero-key"},
    "first name": "Ada",
    "it's": 1,
    "flag": False,
    "nothing": None,
}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("$.order.id", "o-1"),
        ("order.id", "o-1"),
        ("$.order.lines[0].sku", "A1"),
        ("order.lines[1].sku", "B2"),
        ("order.lines.1.sku", "B2"),
        ("$.order.lines[-1].sku", "B2"),
        ("$['first name']", "Ada"),
        ('$["first name"]', "Ada"),
        ("$['it\\'s']", 1),
        ("$.order.0", "zero-key"),
        ("$.flag", False),
        ("$.nothing", None),
    ],
)
def test_paths_find_values(path: str, expected: Any) -> None:
    assert parse_path(path).resolve(PAYLOAD) == (True, expected)


def test_the_root_path_is_the_whole_payload() -> None:
    assert parse_path("$").resolve(PAYLOAD) == (True, PAYLOAD)


@pytest.mark.parametrize(
    "path",
    [
        "$.missing",
        "order.missing",
        "$.order.lines[2].sku",
        "$.order.lines[-3]",
        "$.order.id.more",
        "$.order[0]",
        "$.order.lines.sku",
        "$.flag.x",
    ],
)
def test_paths_that_do_not_fit_the_payload_are_missing(path: str) -> None:
    assert parse_path(path).resolve(PAYLOAD) == (False, None)


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("", "non-empty"),
        ("$..id", "recursive descent"),
        ("$.items[*]", "wildcards"),
        ("$.*", "wildcards"),
        ("$.items[?(@.x)]", "filter"),
        ("$.items[1:3]", "slices"),
        ("$.items[0,1]", "unions"),
        ("$.items[0", "unclosed"),
        ("$['x", "unclosed quoted"),
        ("$.", "expected a name"),
        ("a b", "unexpected"),
        ("$x", "unexpected"),
    ],
)
def test_unsupported_or_malformed_paths_are_refused_with_the_reason(path: str, reason: str) -> None:
    with pytest.raises(PathError, match=reason):
        parse_path(path)


def test_errors_say_at_which_character() -> None:
    with pytest.raises(PathError, match="at character 9"):
        parse_path("$.items[*]")


def test_long_paths_are_refused() -> None:
    with pytest.raises(PathError, match="at most 32 steps"):
        parse_path("$" + ".a" * 33)


_keys = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=12)


@given(keys=st.lists(_keys, min_size=1, max_size=6), value=st.integers())
def test_any_key_can_be_reached_with_bracket_quotes(keys: list[str], value: int) -> None:
    # Given a payload nested under arbitrary keys
    payload: Any = value
    for key in reversed(keys):
        payload = {key: payload}
    # When each key is written as ['...'] with quotes and backslashes escaped
    path = "$" + "".join("['" + k.replace("\\", "\\\\").replace("'", "\\'") + "']" for k in keys)
    # Then the path finds the value
    assert parse_path(path).resolve(payload) == (True, value)
