"""Reading a request's JSON body and query: typed values, or InvalidRequest (1004) naming the field.

Bodies use the names of the views (camelCase: `tenantId`, `maxRetries`); a field of the wrong
type is refused by name, never coerced. Unknown fields are refused too, so a typo
(`maxRetry`) is an error instead of a silently ignored setting.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from eventrelay.admin.errors import Invalid


class InvalidRequest(Invalid):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("request", problems)


class Fields:
    """Typed access to one JSON object (a body, or a nested object of one)."""

    def __init__(self, document: Mapping[str, Any], where: str = "") -> None:
        self._document = document
        self._where = where

    def _name(self, name: str) -> str:
        return f"{self._where}.{name}" if self._where else name

    def has(self, name: str) -> bool:
        return name in self._document and self._document[name] is not None

    def given(self) -> frozenset[str]:
        """The names present, null ones included (a null can mean "remove")."""
        return frozenset(self._document)

    def refuse_unknown(self, known: Collection[str]) -> None:
        unknown = sorted(set(self._document) - set(known))
        if unknown:
            raise InvalidRequest([f"{self._name(name)}: unknown field" for name in unknown])

    def raw(self, name: str) -> Any:
        return self._document.get(name)

    def text(self, name: str, *, required: bool = False) -> str | None:
        value = self._document.get(name)
        if value is None:
            if required:
                raise InvalidRequest([f"{self._name(name)}: required"])
            return None
        if not isinstance(value, str):
            raise InvalidRequest([f"{self._name(name)}: must be a string"])
        return value

    def required_text(self, name: str) -> str:
        value = self.text(name, required=True)
        assert value is not None
        return value

    def integer(self, name: str) -> int | None:
        value = self._document.get(name)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidRequest([f"{self._name(name)}: must be an integer"])
        return value

    def number(self, name: str) -> float | None:
        value = self._document.get(name)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidRequest([f"{self._name(name)}: must be a number"])
        return float(value)

    def boolean(self, name: str, default: bool = False) -> bool:
        value = self._document.get(name)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise InvalidRequest([f"{self._name(name)}: must be true or false"])
        return value

    def object(self, name: str) -> dict[str, Any] | None:
        value = self._document.get(name)
        if value is None:
            return None
        if not isinstance(value, dict):
            raise InvalidRequest([f"{self._name(name)}: must be an object"])
        return value

    def nested(self, name: str) -> Fields | None:
        value = self.object(name)
        return None if value is None else Fields(value, self._name(name))

    def strings(self, name: str) -> list[str] | None:
        value = self._document.get(name)
        if value is None:
            return None
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise InvalidRequest([f"{self._name(name)}: must be a list of strings"])
        return value

    def string_map(self, name: str) -> dict[str, str] | None:
        value = self.object(name)
        if value is None:
            return None
        if not all(isinstance(item, str) for item in value.values()):
            raise InvalidRequest([f"{self._name(name)}: every value must be a string"])
        return value


def query_integer(query: Mapping[str, str], name: str, *, minimum: int, maximum: int) -> int | None:
    value = query.get(name)
    if value is None or value == "":
        return None
    try:
        number = int(value)
    except ValueError:
        raise InvalidRequest([f"{name}: must be an integer"]) from None
    if not minimum <= number <= maximum:
        raise InvalidRequest([f"{name}: must be between {minimum} and {maximum}"])
    return number
