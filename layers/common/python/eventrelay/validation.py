"""One way to say what failed validation: `location: message` per problem, never the input."""

from __future__ import annotations

from pydantic import ValidationError


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
