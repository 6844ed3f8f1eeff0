"""Typed errors of the actions package.

Messages name templates, parts and fields, never a value: rendered values may be secrets or PII.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from eventrelay.errors import InvalidResource, ResourceConflict, ResourceExists, ResourceNotFound


class ActionError(Exception):
    """Base of every error this package raises on purpose."""


@dataclass(frozen=True)
class TemplatePosition:
    """Where in one template part an error sits: 0-based offset, 1-based line and column."""

    offset: int
    line: int
    column: int

    @classmethod
    def of(cls, source: str, offset: int) -> TemplatePosition:
        offset = max(0, min(offset, len(source)))
        line = source.count("\n", 0, offset) + 1
        line_start = source.rfind("\n", 0, offset) + 1
        return cls(offset=offset, line=line, column=offset - line_start + 1)

    def __str__(self) -> str:
        return f"line {self.line}, column {self.column} (offset {self.offset})"


class TemplateError(ActionError):
    """A malformed template, refused when the action is saved.

    `part` says which template: "url", "headers.<Name>", "payload" (plain) or "payload.form.<key>".
    """

    def __init__(self, message: str, position: TemplatePosition, part: str) -> None:
        self.message = message
        self.position = position
        self.part = part
        super().__init__(f"{part}: {message} at {position}")


class RenderError(ActionError):
    """A value cannot be rendered into the request. `field` is None when no single field is at fault."""

    def __init__(self, field: str | None, reason: str) -> None:
        self.field = field
        self.reason = reason
        subject = f"field '{field}'" if field is not None else "action"
        super().__init__(f"{subject}: {reason}")


class UrlPathSegmentRefused(RenderError):
    """A value would make a URL path segment `.`, `..` (in any percent-encoded spelling) or empty.

    The HTTP stack and targets resolve dot segments, so such a value would change which path is
    called (`items/{{id}}` with `..` calls the base URL itself): the delivery fails permanently.
    """

    def __init__(self, field: str) -> None:
        super().__init__(
            field,
            "would make a URL path segment '.', '..' or empty, which changes the path called; refused",
        )


class InvalidAction(ActionError, InvalidResource):
    """An action definition breaks a constraint (other than template syntax); one line per problem."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("invalid action: " + "; ".join(self.problems))


class ActionNotFound(ActionError, ResourceNotFound):
    """No action with this name for this tenant."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"action '{name}' not found")


class ActionAlreadyExists(ActionError, ResourceExists):
    """Create refused: the tenant already has an action with this name."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"action '{name}' already exists")


class ActionConflict(ActionError, ResourceConflict):
    """The action changed concurrently more times than an update is willing to retry."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"action '{name}' was modified concurrently; retry")
