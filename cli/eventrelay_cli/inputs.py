"""Reading what a command was given: `NAME=VALUE` options, YAML/JSON files, JSON-or-text values.

Shared by the connector, action and rule commands; errors are usage errors that name the option
or the line, never the value (it may be a secret).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eventrelay_cli.exit_codes import EXIT_USAGE, CliError

if TYPE_CHECKING:
    from pydantic import ValidationError


def pairs(values: Iterable[str] | None, flag: str) -> dict[str, str]:
    """`NAME=VALUE` arguments as a dict (the value may contain `=`); a usage error names the flag."""
    parsed: dict[str, str] = {}
    for item in values or ():
        name, separator, value = item.partition("=")
        if not separator or not name.strip():
            raise CliError(f"{flag} expects NAME=VALUE, got {name.strip() or '(empty)'!r}", EXIT_USAGE)
        parsed[name.strip()] = value
    return parsed


def problems_of(exc: ValidationError) -> str:
    """`location: message` per problem, without the input (it may be a secret)."""
    from eventrelay.validation import validation_problems

    return "; ".join(validation_problems(exc, root="input"))


def read_structured_file(path: str) -> Any:
    """A YAML or JSON file (JSON is YAML); errors give the line, never the file's text."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror}", EXIT_USAGE) from None
    except UnicodeDecodeError:
        raise CliError(f"cannot read {path}: not UTF-8 text", EXIT_USAGE) from None
    return parse_structured_text(text, path)


def parse_structured_text(text: str, source: str) -> Any:
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise CliError(f"{source}: invalid YAML{where}: {exc.problem}", EXIT_USAGE) from None
    except yaml.YAMLError:
        raise CliError(f"{source}: invalid YAML", EXIT_USAGE) from None


def json_or_text(value: str) -> Any:
    """A JSON literal if the text is one (`3`, `true`, `{"a": 1}`), else the text itself."""
    try:
        return json.loads(value)
    except ValueError:
        return value
