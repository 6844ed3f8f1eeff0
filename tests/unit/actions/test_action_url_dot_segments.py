"""Issue 8 item 1: a field value never changes which path is called (dot segments in URL tokens).

`items/{{id}}` on base `…/api` with `id` = `..` would call `/api/` (and `.` `/api/items/`): HTTP
clients and servers resolve dot segments, and percent-encoding leaves `.` as it is. Such values
(and their percent-encoded spellings, and the empty value) are refused with a named error.
What the HTTP stack would really request is checked with `requests`' own URL preparation.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eventrelay.actions import Action, UrlPathSegmentRefused, compile_action, parse_draft, render

BASE = "http://127.0.0.1:8080/api"


def make_action(url: str) -> Action:
    data: dict[str, Any] = {"connector": "crm", "name": "a", "method": "POST", "url": url}
    return compile_action("t-1", parse_draft(data))


def sent_path(url: str) -> str:
    """The path the HTTP stack (requests, urllib3) would send for `url`."""
    prepared = requests.Request("POST", url).prepare()
    return urlsplit(prepared.url or "").path


@pytest.mark.parametrize(
    "value",
    [".", "..", "%2e", "%2e%2e", "%2E%2E", "%2E.", ".%2e", "%252e%252e", "%25252E.", ""],
)
@pytest.mark.parametrize("url", ["items/{{id}}", "items/{{id}}/comments", "/items/{{id}}?x=1"])
def test_dot_segment_values_are_refused_by_name(url: str, value: str) -> None:
    with pytest.raises(UrlPathSegmentRefused) as refused:
        render(make_action(url), {"id": value}, BASE)
    assert refused.value.field == "id"
    assert "'.', '..' or empty" in str(refused.value)


def test_a_dot_segment_made_of_literal_text_and_a_value_is_refused() -> None:
    with pytest.raises(UrlPathSegmentRefused) as refused:
        render(make_action("files/.{{ext}}"), {"ext": "."}, BASE)
    assert refused.value.field == "ext"
    with pytest.raises(UrlPathSegmentRefused):
        render(make_action("files/{{a}}{{b}}"), {"a": ".", "b": "."}, BASE)


@pytest.mark.parametrize("value", ["...", ".hidden", "a..b", "..%2Fadmin", "v1.2", "%2e%2e%2f"])
def test_values_that_only_contain_dots_stay_one_segment(value: str) -> None:
    request = render(make_action("items/{{id}}"), {"id": value}, BASE)
    path = sent_path(request.url)
    assert path.startswith("/api/items/")
    assert unquote(path.removeprefix("/api/items/")) == value


def test_dots_in_the_query_and_fragment_are_values_like_any_other() -> None:
    request = render(make_action("items?q={{q}}#{{f}}"), {"q": "..", "f": "."}, BASE)
    assert request.url == "http://127.0.0.1:8080/api/items?q=..#."


def test_literal_dot_segments_of_the_template_itself_are_the_admins_choice() -> None:
    request = render(make_action("v1/../items/{{id}}"), {"id": "7"}, BASE)
    assert sent_path(request.url) == "/api/items/7"


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=st.text() | st.sampled_from([".", "..", "%2e", "%2E.", "%252e%252E", ""]) | st.text(".%2eE5"))
def test_for_any_value_the_path_sent_keeps_the_templates_segments_and_prefix(value: str) -> None:
    try:
        request = render(make_action("items/{{id}}/comments"), {"id": value}, BASE)
    except UrlPathSegmentRefused:
        return
    segments = sent_path(request.url).split("/")
    assert len(segments) == 5
    assert segments[:3] == ["", "api", "items"]
    assert segments[4] == "comments"
    assert segments[3] not in ("", ".", "..")
    assert unquote(segments[3]).lower() not in (".", "..", "%2e", "%2e%2e", "%2e.", ".%2e")


def test_a_value_encoded_more_times_than_anyone_decodes_is_refused_too() -> None:
    value = ".."
    for _ in range(9):
        value = value.replace("%", "%25").replace(".", "%2e")
    with pytest.raises(UrlPathSegmentRefused):
        render(make_action("items/{{id}}"), {"id": value}, BASE)
