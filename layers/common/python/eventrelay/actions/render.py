"""Render an action with real values into an `OutboundRequest`, injection-safe by construction.

Each value is first validated for its field's type (`fields.coerce`), then written once into the
parsed template, encoded for where its token stands:
- URL path, query, fragment: percent-encoded as one component (`quote(text, safe="")`), so a value
  cannot add a path segment, a query parameter or a fragment. Nor can it change which path is
  called: a path segment holding a token that renders as `.` or `..` (also percent-encoded, in any
  case, up to 8 times over: `%2e%2E`, `%252e`) or as nothing at all is refused with
  `UrlPathSegmentRefused`, since HTTP clients and servers resolve dot segments (`items/..` is the
  base URL itself) and `items/` is another resource than `items/42`.
- Plain JSON payload: inside a string, JSON-escaped; as a whole value, a JSON literal of the type
  (Number → number, Boolean → true/false, String/Date/DateTime → string). The result always parses
  as JSON with the template's shape.
- Form payload: the rendered value (and the literal key) are form-urlencoded.
- Header values: refused (RenderError naming the field) if a value holds a control character
  (CR, LF, NUL, TAB, DEL, C1) or a character outside ISO-8859-1 (HTTP cannot carry it); the
  rendered value is stripped of surrounding spaces, as HTTP ignores them.
Values are never parsed as templates: `{{x}}` in a value is sent as those five characters.

A relative action URL is appended to the connector's base URL with exactly one `/` between them
(`https://api.example.com/v2` + `tickets/{{id}}` → `https://api.example.com/v2/tickets/42`); a
relative URL that starts with `?` or `#` is appended as is (`outbound.request.join_url`). Without a
base URL it stays relative: the connector joins it to its real base URL when it calls (a URL-based
connector's base URL is a secret only the call loads). Content-Type defaults to
`application/json` (plain) or `application/x-www-form-urlencoded` (form) unless a header sets it;
without a payload the request has no body and no default Content-Type.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from urllib.parse import quote, unquote, urlencode, urlsplit

from eventrelay.actions.errors import RenderError, UrlPathSegmentRefused
from eventrelay.actions.fields import TypedValue, coerce
from eventrelay.actions.models import Action, ActionField, FormPayload, PlainPayload
from eventrelay.actions.templates import Slot, Template, Token
from eventrelay.outbound.request import OutboundRequest, is_absolute_url, join_url

JSON_CONTENT_TYPE = "application/json"
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"

_HEADER_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_HEADER_NOT_LATIN1 = re.compile(r"[^\x00-\xff]")


def render(action: Action, values: Mapping[str, object], base_url: str | None = None) -> OutboundRequest:
    """Render `action` with `values` (field name → raw value); missing or None values use the default.

    A relative URL is joined to `base_url` when one is given, else left relative for the connector.

    Raises RenderError(field, reason) for a missing value without default, a value that does not fit
    its type, or a header value that cannot be sent safely; the message never includes the value.
    """
    templates = action.templates()
    typed = {field.name: resolve_value(field, values) for field in action.fields}

    rendered_url = _render_url(templates.url, typed)
    url = rendered_url
    if base_url is not None and not is_absolute_url(templates.url.source):
        url = _join_url(base_url, rendered_url)
    headers: dict[str, str] = {}
    for name, template in templates.headers:
        headers[name] = _render(template, typed).strip(" ")

    body: bytes | None = None
    content_type: str | None = None
    if isinstance(action.payload, PlainPayload) and templates.plain is not None:
        text = _render(templates.plain, typed)
        try:
            json.loads(text)
        except (ValueError, RecursionError):  # unreachable by construction; never send a broken body
            raise RenderError(None, "the rendered payload is not valid JSON") from None
        body = text.encode("utf-8")
        content_type = JSON_CONTENT_TYPE
    elif isinstance(action.payload, FormPayload) and templates.form is not None:
        pairs = [(key, _render(template, typed)) for key, template in templates.form]
        body = urlencode(pairs).encode("ascii")
        content_type = FORM_CONTENT_TYPE
    if content_type is not None and not any(name.lower() == "content-type" for name in headers):
        headers["Content-Type"] = content_type
    return OutboundRequest(method=action.method.value, url=url, headers=headers, body=body)


def resolve_value(field: ActionField, values: Mapping[str, object]) -> TypedValue:
    """The field's value from `values`, else its default, validated for its type."""
    value = values.get(field.name)
    if value is None:
        value = field.default
    if value is None:
        raise RenderError(field.name, "has no value and no default")
    return coerce(field.name, field.type, value)


def _render(template: Template, typed: Mapping[str, TypedValue]) -> str:
    out: list[str] = []
    for segment in template.segments:
        if isinstance(segment, Token):
            out.append(_encode(segment, typed[segment.name]))
        else:
            out.append(segment.text)
    return "".join(out)


def _render_url(template: Template, typed: Mapping[str, TypedValue]) -> str:
    """The URL with its values, refusing a value that would make a path segment `.`, `..` or empty."""
    out: list[str] = []
    tokens: list[tuple[int, int, str]] = []  # (start, end, field) of each value in the URL
    for segment in template.segments:
        if isinstance(segment, Token):
            start = sum(map(len, out))
            out.append(_encode(segment, typed[segment.name]))
            tokens.append((start, start + len(out[-1]), segment.name))
        else:
            out.append(segment.text)
    url = "".join(out)
    start, end = _path_span(url)
    position = start
    # Values are percent-encoded, so every `/`, `?` and `#` in the URL is the template's own.
    for piece in url[start:end].split("/"):
        piece_end = position + len(piece)
        fields = [name for first, last, name in tokens if first <= piece_end and last >= position]
        if fields and _changes_the_path(piece):
            raise UrlPathSegmentRefused(fields[0])
        position = piece_end + 1
    return url


def _path_span(url: str) -> tuple[int, int]:
    """Where the path of `url` (absolute, or relative to a base URL) starts and ends."""
    start = 0
    if is_absolute_url(url):
        after_scheme = url.index("//") + 2 if "//" in url else url.index(":") + 1
        start = min((i for i in (url.find(c, after_scheme) for c in "/?#") if i >= 0), default=len(url))
    end = min((i for i in (url.find(c, start) for c in "?#") if i >= 0), default=len(url))
    return start, end


# Percent-decodings looked through: a target (or a proxy in front of it) may decode more than once.
_MAX_DECODINGS = 8


def _changes_the_path(segment: str) -> bool:
    """Whether a rendered path segment is empty, `.` or `..`, or decodes to `.` or `..`."""
    if not segment:
        return True
    text = segment
    for _ in range(_MAX_DECODINGS):
        if text in (".", ".."):
            return True
        decoded = unquote(text)
        if decoded == text:
            return False
        text = decoded
    return True  # still decoding after that many rounds: refused too, nobody means such a value


def _encode(token: Token, value: TypedValue) -> str:
    if token.slot is Slot.URL:
        return quote(value.text, safe="")
    if token.slot is Slot.JSON_STRING:
        return json.dumps(value.text, ensure_ascii=False)[1:-1]
    if token.slot is Slot.JSON_VALUE:
        return value.json
    if token.slot is Slot.HEADER:
        _check_header_value(token.name, value.text)
    return value.text


def _check_header_value(field: str, text: str) -> None:
    if _HEADER_CONTROL.search(text):
        raise RenderError(
            field, "contains control characters (such as CR, LF or NUL), refused in a header value"
        )
    if _HEADER_NOT_LATIN1.search(text):
        raise RenderError(field, "contains characters outside ISO-8859-1, which a header value cannot carry")


def _join_url(base_url: str, relative: str) -> str:
    base = urlsplit(base_url)
    if base.scheme.lower() not in ("http", "https") or not base.netloc or base.query or base.fragment:
        # The base URL is not named: it belongs to the connector and could carry credentials.
        raise RenderError(
            None, "the connector's base URL must be an absolute http(s) URL without query or fragment"
        )
    return join_url(base_url, relative)
