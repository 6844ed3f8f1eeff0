"""Template parsing: `{{fieldName}}` tokens in an action's URL, header values and payload.

Token grammar (the same in every part):
- A token is `{{`, optional spaces/tabs, a field name, optional spaces/tabs, `}}`.
  `{{ name }}` and `{{name}}` are the same field.
- A field name is 1-128 ASCII characters: letters, digits, `_`, `.`, `-`, starting with a letter
  or `_` (so `{{ticket.id}}`, `{{user-name}}`, `{{_x}}`).
- Every `{{` starts a token; there is no escape. A `}}` outside a token is literal text (JSON
  objects end with it). Tokens are not nested and are parsed once: nothing in a value is ever
  parsed again.
- Refused when the action is saved, with the position: an unclosed `{{` (no `}}`, or a `}}` only
  after a line break or the end of the JSON string the token began in), an empty token, an
  invalid field name.

Where tokens may stand:
- URL: in the path, query and fragment, never in the scheme or host of an absolute URL (which
  must be http(s) and carry no `user:password@`). A relative URL must not start with `//`.
- Header values (names are literal). Form values (keys are literal and may not hold `{{`).
- Plain (JSON) payload: inside a JSON string (interpolated, the value JSON-escaped) or as a whole
  JSON value (`"amount": {{amount}}`). Inside JSON strings escape sequences are skipped, so `\\"`
  and `\\\\` never begin or end a token (and `\\u007b\\u007b` is how to write a literal `{{`).
  The JSON around the tokens is checked at save time by substituting placeholders of the same
  length and parsing: a token in a non-value position (a key outside quotes, after a number, two
  tokens in a row) is refused there.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum

from eventrelay.actions.errors import TemplateError, TemplatePosition
from eventrelay.outbound.request import is_absolute_url

FIELD_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_.-]{0,127}$"
_FIELD_NAME = re.compile(FIELD_NAME_PATTERN)
_HTTP_URL = re.compile(r"(?i)https?://")
_URL_FORBIDDEN = re.compile(r"[\s\x00-\x1f\x7f-\x9f]")
_HEADER_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f-\x9f]|[^\x00-\xff]")
_JSON_CONSTANT = re.compile(r'"(?:[^"\\]|\\.)*"|(-?Infinity|NaN)', re.DOTALL)


class Slot(Enum):
    """What a token's value becomes where it stands."""

    TEXT = "text"  # form value: the value's text (form-urlencoded with the rest of the value)
    HEADER = "header"  # header value: the value's text, refused if it cannot be sent safely
    URL = "url"  # URL path, query or fragment: percent-encoded as one component
    JSON_STRING = "json-string"  # inside a JSON string: JSON-escaped text
    JSON_VALUE = "json-value"  # a whole JSON value: a JSON literal of the field's type


@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class Token:
    name: str
    slot: Slot
    offset: int


Segment = Text | Token


@dataclass(frozen=True)
class Template:
    """One parsed template part: literal text and tokens, in order."""

    part: str
    source: str
    segments: tuple[Segment, ...]

    @property
    def field_names(self) -> tuple[str, ...]:
        return _unique(s.name for s in self.segments if isinstance(s, Token))


@dataclass(frozen=True)
class ActionTemplates:
    """Every template of one action, parsed."""

    url: Template
    headers: tuple[tuple[str, Template], ...]
    plain: Template | None = None
    form: tuple[tuple[str, Template], ...] | None = None

    @property
    def field_names(self) -> tuple[str, ...]:
        """Fields in order of first appearance: URL, then headers, then payload; no duplicates."""
        parts: list[Template] = [self.url, *(t for _, t in self.headers)]
        if self.plain is not None:
            parts.append(self.plain)
        parts.extend(t for _, t in self.form or ())
        return _unique(name for part in parts for name in part.field_names)


def parse_action_templates(
    url: str,
    headers: Mapping[str, str],
    plain: str | None = None,
    form: Sequence[tuple[str, str]] | None = None,
) -> ActionTemplates:
    """Parse all of an action's templates; the first error found is raised as TemplateError."""
    return ActionTemplates(
        url=parse_url(url),
        headers=tuple(
            (name, parse_header_value(value, f"headers.{name}")) for name, value in headers.items()
        ),
        plain=None if plain is None else parse_json(plain),
        form=None if form is None else parse_form(form),
    )


def parse_text(source: str, part: str, slot: Slot = Slot.TEXT) -> Template:
    """Tokens anywhere in free text (header values, form values, URLs)."""
    segments: list[Segment] = []
    literal_start = 0
    while (start := source.find("{{", literal_start)) >= 0:
        if start > literal_start:
            segments.append(Text(source[literal_start:start]))
        name, end = _read_token(source, start, part, in_json_string=False)
        segments.append(Token(name, slot, start))
        literal_start = end
    if literal_start < len(source):
        segments.append(Text(source[literal_start:]))
    return Template(part, source, tuple(segments))


def parse_url(source: str, part: str = "url") -> Template:
    """An absolute http(s) URL, or a URL relative to the connector's base URL (path, `?query`, `#frag`)."""
    template = parse_text(source, part, Slot.URL)
    _refuse_in_literal_text(
        template, _URL_FORBIDDEN, "whitespace and control characters are not allowed in a URL"
    )
    if is_absolute_url(source):
        scheme = _HTTP_URL.match(source)
        if scheme is None:
            raise _error("an absolute URL must start with http:// or https://", source, 0, part)
        host_end = _first_of(source, "/?#", scheme.end())
        first_token = source.find("{{")
        if 0 <= first_token < host_end:
            raise _error("tokens are not allowed in the scheme or host of a URL", source, first_token, part)
        if host_end == scheme.end():
            raise _error("the URL has no host", source, host_end, part)
        at = source.find("@", scheme.end(), host_end)
        if at >= 0:
            # Actions live in DynamoDB; credentials belong to connectors, in Secrets Manager.
            raise _error("credentials in the URL are not allowed; use the connector's auth", source, at, part)
    elif source.startswith("//"):
        raise _error("a relative URL must not start with '//'", source, 0, part)
    return template


def parse_header_value(source: str, part: str) -> Template:
    """A header value: its literal text must be sendable (no control characters, ISO-8859-1 only)."""
    template = parse_text(source, part, Slot.HEADER)
    _refuse_in_literal_text(
        template,
        _HEADER_FORBIDDEN,
        "control characters and characters outside ISO-8859-1 are not allowed in a header value",
    )
    return template


def _refuse_in_literal_text(template: Template, forbidden: re.Pattern[str], message: str) -> None:
    """Refuse `forbidden` in literal text, at its position (token values are checked when rendered)."""
    offset = 0
    for segment in template.segments:
        if isinstance(segment, Text):
            bad = forbidden.search(segment.text)
            if bad:
                raise _error(message, template.source, offset + bad.start(), template.part)
            offset += len(segment.text)
        else:
            offset = _token_end(template.source, segment.offset)


def parse_form(pairs: Iterable[tuple[str, str]]) -> tuple[tuple[str, Template], ...]:
    """Form payload: literal keys, templated values."""
    parsed: list[tuple[str, Template]] = []
    for index, (key, value) in enumerate(pairs):
        brace = key.find("{{")
        if brace >= 0:
            raise _error(
                "form keys are literal; tokens are only allowed in form values",
                key,
                brace,
                f"payload.form[{index}].key",
            )
        parsed.append((key, parse_text(value, f"payload.form.{key}", Slot.TEXT)))
    return tuple(parsed)


def parse_json(source: str, part: str = "payload") -> Template:
    """A plain payload: JSON text with tokens inside strings or as whole values."""
    segments: list[Segment] = []
    placeholder: list[str] = []  # the same text with each token replaced by a same-length stand-in
    literal_start = 0
    in_string = False
    i = 0
    length = len(source)
    while i < length:
        char = source[i]
        if in_string and char == "\\":
            i += 2  # an escape sequence: `\"` and `\\` never end a string nor touch a token
            continue
        if char == '"':
            in_string = not in_string
            i += 1
            continue
        if char != "{" or not source.startswith("{{", i):
            i += 1
            continue
        if i > literal_start:
            literal = source[literal_start:i]
            segments.append(Text(literal))
            placeholder.append(literal)
        name, end = _read_token(source, i, part, in_json_string=in_string)
        if in_string:
            segments.append(Token(name, Slot.JSON_STRING, i))
            placeholder.append("x" * (end - i))
        else:
            segments.append(Token(name, Slot.JSON_VALUE, i))
            # `[]` is a complete JSON value that cannot merge with neighbouring text, so the
            # check refuses every position where a rendered value could change the shape.
            placeholder.append("[]" + " " * (end - i - 2))
        i = literal_start = end
    if literal_start < length:
        segments.append(Text(source[literal_start:]))
        placeholder.append(source[literal_start:])
    _check_json("".join(placeholder), source, part)
    return Template(part, source, tuple(segments))


def _check_json(text: str, source: str, part: str) -> None:
    constants: list[str] = []

    def refuse_constant(name: str) -> None:
        constants.append(name)

    try:
        json.loads(text, parse_constant=refuse_constant)
    except json.JSONDecodeError as exc:
        raise _error(f"invalid JSON: {exc.msg}", source, exc.pos, part) from None
    except RecursionError:
        raise _error("invalid JSON: nested too deeply", source, 0, part) from None
    if constants:
        match = next(m for m in _JSON_CONSTANT.finditer(text) if m.group(1))
        raise _error(f"invalid JSON: {match.group(1)} is not a JSON value", source, match.start(1), part)


def _read_token(source: str, start: int, part: str, *, in_json_string: bool) -> tuple[str, int]:
    """Read the token whose `{{` is at `start`; return its field name and the offset after `}}`."""
    close = source.find("}}", start + 2)
    content = source[start + 2 : close] if close >= 0 else ""
    if close < 0 or "\n" in content or "{{" in content or (in_json_string and '"' in content):
        raise _error(
            "unclosed '{{' (expected '}}' before the end of the line or string)", source, start, part
        )
    name = content.strip(" \t")
    if not name:
        raise _error("empty token '{{}}': write a field name between the braces", source, start, part)
    if not _FIELD_NAME.fullmatch(name):
        shown = name if len(name) <= 40 else name[:40] + "…"
        raise _error(
            f"invalid field name {shown!r}: use letters, digits, '_', '.', '-' "
            "and start with a letter or '_'",
            source,
            start,
            part,
        )
    return name, close + 2


def _token_end(source: str, start: int) -> int:
    return source.find("}}", start + 2) + 2


def _first_of(source: str, chars: str, start: int) -> int:
    found = [i for i in (source.find(c, start) for c in chars) if i >= 0]
    return min(found) if found else len(source)


def _error(message: str, source: str, offset: int, part: str) -> TemplateError:
    return TemplateError(message, TemplatePosition.of(source, offset), part)


def _unique(names: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(names))
