"""One way to say what failed validation: `location: message` per problem, never the input.

pydantic is imported only for its type here: the runtime's light models (settings, envelopes,
tenants, registrations) are dataclasses that raise `InvalidFields`, and the publish path never
imports pydantic (issue 12, cold start).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pydantic import ValidationError


class InvalidFields(ValueError):
    """Values that break a dataclass model's rules: `problems`, one `field: message` each, in the
    words pydantic uses (the admin surfaces show them as they showed pydantic's)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def check_text(
    problems: list[str],
    name: str,
    value: object,
    *,
    min_length: int = 0,
    max_length: int | None = None,
    pattern: re.Pattern[str] | None = None,
) -> None:
    """Append to `problems` what is wrong with the text field `name`, as pydantic says it."""
    if not isinstance(value, str):
        problems.append(f"{name}: Input should be a valid string")
        return
    if len(value) < min_length:
        plural = "" if min_length == 1 else "s"
        problems.append(f"{name}: String should have at least {min_length} character{plural}")
    elif max_length is not None and len(value) > max_length:
        problems.append(f"{name}: String should have at most {max_length} characters")
    elif pattern is not None and not pattern.search(value):
        problems.append(f"{name}: String should match pattern '{pattern.pattern}'")


def validation_problems(exc: ValidationError, root: str) -> list[str]:
    """One line per problem, `location: message`, without the offending input (it may be a secret).

    `root` names the whole object for model-level errors; a message that already starts with its
    location (nested validators often say where they are) is kept as it is; duplicates are dropped.
    """
    problems = []
    for error in exc.errors(include_url=False, include_input=False, include_context=False):
        location = ".".join(str(part) for part in error["loc"]) or root
        message = str(error["msg"]).removeprefix("Value error, ")
        already_located = message.startswith((f"{location}.", f"{location}:"))
        problems.append(message if already_located else f"{location}: {message}")
    return list(dict.fromkeys(problems))
