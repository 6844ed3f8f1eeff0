"""Payload paths: where a rule reads a value in an event's payload.

Grammar (one path, at most 512 characters and 32 steps):
- JSONPath-like: `$` then steps, each `.name`, `[index]` or `['name']` / `["name"]`:
  `$.order.lines[0].sku`, `$['first name']`, `$.items[-1]` (negative indexes count from the end).
  `$` alone is the whole payload.
- Dotted: the same without the leading `$`, starting with a name: `order.lines[0].sku`,
  `order.lines.0.sku` (a step that is all digits indexes a list, or names a key of an object).
- A bare name may hold any character except `.`, `[`, `]`, whitespace, `$`, `*`, `?`, `@`; quote
  other names in brackets (`\\'` and `\\\\` escape a quote and a backslash inside them).
- Not supported, and refused with a clear message: wildcards (`*`), recursive descent (`..`),
  filters (`[?(...)]`), slices (`[1:3]`), unions (`[0,1]`).

Resolution never raises: a step that does not fit the value (a key on a list, an index out of
range, anything on a string or number) means the path is missing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

MAX_PATH_LENGTH = 512
MAX_STEPS = 32

_BARE_NAME = re.compile(r"[^.\[\]\s$*?@'\"]+")
_INDEX = re.compile(r"-?\d{1,9}")
_DIGITS = re.compile(r"\d{1,9}")


class PathError(ValueError):
    """A path that cannot be parsed; the message says where and why."""


@dataclass(frozen=True)
class Key:
    """An object key, or (when `index` is set) also a list index (a dotted all-digit step)."""

    name: str
    index: int | None = None


@dataclass(frozen=True)
class Index:
    index: int


Step = Key | Index

_MISSING = object()


@dataclass(frozen=True)
class PayloadPath:
    """A parsed path; `text` is what the admin wrote (kept for messages and storage)."""

    text: str
    steps: tuple[Step, ...]

    def resolve(self, payload: Any) -> tuple[bool, Any]:
        """(True, value) when every step exists, else (False, None)."""
        current: Any = payload
        for step in self.steps:
            current = _step(current, step)
            if current is _MISSING:
                return False, None
        return True, current

    def __str__(self) -> str:
        return self.text


def _step(value: Any, step: Step) -> Any:
    if isinstance(step, Index):
        return _item(value, step.index)
    if isinstance(value, Mapping):
        return value.get(step.name, _MISSING)
    if step.index is not None:
        return _item(value, step.index)
    return _MISSING


def _item(value: Any, index: int) -> Any:
    is_list = isinstance(value, Sequence) and not isinstance(value, str | bytes | bytearray)
    if is_list and -len(value) <= index < len(value):
        return value[index]
    return _MISSING


def parse_path(text: str) -> PayloadPath:
    """Parse a dotted or JSONPath-like path; PathError says what is wrong and at which character."""
    if not isinstance(text, str) or not text:
        raise PathError("a path must be a non-empty text such as $.order.id or order.id")
    if len(text) > MAX_PATH_LENGTH:
        raise PathError(f"a path may have at most {MAX_PATH_LENGTH} characters")
    steps: list[Step] = []
    # Without "$" the path starts with a name (dotted form).
    position = 1 if text.startswith("$") else _bare(text, 0, steps)
    while position < len(text):
        char = text[position]
        if char == ".":
            if text.startswith("..", position):
                raise _error(text, position, "recursive descent '..' is not supported")
            position = _bare(text, position + 1, steps)
        elif char == "[":
            position = _bracket(text, position, steps)
        else:
            raise _error(text, position, f"unexpected {char!r}; expected '.' or '['")
        if len(steps) > MAX_STEPS:
            raise PathError(f"a path may have at most {MAX_STEPS} steps")
    return PayloadPath(text, tuple(steps))


def _bare(text: str, position: int, steps: list[Step]) -> int:
    match = _BARE_NAME.match(text, position)
    if match is None:
        if position < len(text) and text[position] == "*":
            raise _error(text, position, "wildcards '*' are not supported")
        raise _error(text, position, "expected a name (quote unusual names as ['name'])")
    name = match.group(0)
    steps.append(Key(name, int(name) if _DIGITS.fullmatch(name) else None))
    return match.end()


def _bracket(text: str, position: int, steps: list[Step]) -> int:
    close = text.find("]", position)
    inner_start = position + 1
    if inner_start < len(text) and text[inner_start] in "'\"":
        name, end = _quoted(text, inner_start)
        if end >= len(text) or text[end] != "]":
            raise _error(text, end, "expected ']' after a quoted name")
        steps.append(Key(name))
        return end + 1
    if close < 0:
        raise _error(text, position, "unclosed '['")
    inner = text[inner_start:close]
    if _INDEX.fullmatch(inner):
        steps.append(Index(int(inner)))
        return close + 1
    if inner == "*":
        raise _error(text, inner_start, "wildcards '*' are not supported")
    if inner.startswith("?"):
        raise _error(text, inner_start, "filter expressions are not supported")
    if ":" in inner:
        raise _error(text, inner_start, "slices are not supported")
    if "," in inner:
        raise _error(text, inner_start, "unions are not supported")
    raise _error(text, inner_start, "expected a list index such as [0] or a quoted name such as ['name']")


def _quoted(text: str, start: int) -> tuple[str, int]:
    quote = text[start]
    out: list[str] = []
    position = start + 1
    while position < len(text):
        char = text[position]
        if char == "\\" and position + 1 < len(text) and text[position + 1] in (quote, "\\"):
            out.append(text[position + 1])
            position += 2
            continue
        if char == quote:
            return "".join(out), position + 1
        out.append(char)
        position += 1
    raise _error(text, start, "unclosed quoted name")


def _error(text: str, position: int, reason: str) -> PathError:
    return PathError(f"invalid path {text!r} at character {position + 1}: {reason}")
