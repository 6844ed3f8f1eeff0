"""Typed errors of the rules package. Messages name rules, fields and paths, never payload values."""

from __future__ import annotations

from collections.abc import Sequence

from eventrelay.errors import InvalidResource, ResourceConflict, ResourceExists, ResourceNotFound


class RuleError(Exception):
    """Base of every error this package raises on purpose; `str()` is safe to show an admin."""


class InvalidRule(RuleError, InvalidResource):
    """A rule breaks a constraint; one line per problem (`mapping.ticketId: ...`)."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("invalid rule: " + "; ".join(self.problems))


class RuleNotFound(RuleError, ResourceNotFound):
    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"rule '{name}' not found")


class RuleAlreadyExists(RuleError, ResourceExists):
    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"rule '{name}' already exists")


class RuleConflict(RuleError, ResourceConflict):
    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"rule '{name}' was modified concurrently; retry")


class MappingError(RuleError):
    """An action field's value cannot be taken from the event: a permanent delivery failure.

    `field` names the action field, `source` where its value came from (`path $.total`,
    `constant`, `default`), `reason` why it failed (missing, type mismatch); never the value.
    """

    def __init__(self, field: str | None, reason: str, source: str | None = None) -> None:
        self.field = field
        self.reason = reason
        self.source = source
        subject = f"field '{field}'" if field is not None else "mapping"
        if source is not None:
            subject += f" ({source})"
        super().__init__(f"{subject}: {reason}")
