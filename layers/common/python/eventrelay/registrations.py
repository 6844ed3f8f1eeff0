"""Event registrations: which (tenant, eventName, eventVersion) may be published; how payloads are checked.

Kinds: `open` (any JSON object), `json_schema` (payload must satisfy the registration's JSON
Schema, draft 2020-12), and the built-in `system_asset`.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from eventrelay.bounded_cache import BoundedCache
from eventrelay.clock import Clock, iso_utc, system_clock
from eventrelay.dynamodb import Expression, Table
from eventrelay.tenants import tenant_pk
from eventrelay.validation import InvalidFields, check_text

if TYPE_CHECKING:
    from jsonschema.protocols import Validator
    from mypy_boto3_dynamodb import DynamoDBClient

EVENT_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")
EVENT_VERSION_PATTERN = re.compile(r"^v[0-9]{1,6}$")
MAX_DESCRIPTION = 1024
MAX_SCHEMA_PROBLEMS = 20
# Compiled schema validators kept per instance (schemas are small; a validator is a few KB).
CACHED_VALIDATORS = 256
# Registrations kept per instance (a registration with its schema is at most a few KB).
CACHED_REGISTRATIONS = 2048
_validators: BoundedCache[str, Validator] = BoundedCache(CACHED_VALIDATORS, None)


def _validator(schema: dict[str, Any]) -> Validator:
    """A compiled validator per schema, reused across calls (jsonschema is imported on first use:
    ~200 ms that publishers of schema-less registrations never pay at cold start)."""
    key = json.dumps(schema, sort_keys=True)
    cached = _validators.get(key)
    if cached is not None:
        return cached.value
    from jsonschema import Draft202012Validator

    validator: Validator = Draft202012Validator(schema)
    _validators.put(key, validator)
    return validator


class RegistrationKind(StrEnum):
    OPEN = "open"
    JSON_SCHEMA = "json_schema"
    SYSTEM_ASSET = "system_asset"


class InvalidSchema(ValueError):
    """The JSON Schema given for a registration is not a valid schema."""


_REGISTRATION_FIELDS = (
    "tenant_id",
    "event_name",
    "event_version",
    "kind",
    "json_schema",
    "description",
    "created_at",
)


@dataclass(frozen=True)
class Registration:
    """A frozen dataclass checked in `__post_init__` (InvalidFields), not a pydantic model: the
    publish path reads one per call and never imports pydantic. `kind` may be given as its value
    (`"open"`); it is held as a RegistrationKind."""

    tenant_id: str
    event_name: str
    event_version: str
    kind: RegistrationKind = RegistrationKind.OPEN
    json_schema: dict[str, Any] | None = None
    description: str = ""
    created_at: str = ""

    def __post_init__(self) -> None:
        problems: list[str] = []
        check_text(problems, "tenant_id", self.tenant_id)
        check_text(problems, "event_name", self.event_name, pattern=EVENT_NAME_PATTERN)
        check_text(problems, "event_version", self.event_version, pattern=EVENT_VERSION_PATTERN)
        try:
            object.__setattr__(self, "kind", RegistrationKind(self.kind))
        except ValueError:
            kinds = ", ".join(f"'{kind.value}'" for kind in RegistrationKind)
            problems.append(f"kind: Input should be {kinds}")
        if self.json_schema is not None and not isinstance(self.json_schema, dict):
            problems.append("json_schema: Input should be a valid dictionary")
        check_text(problems, "description", self.description, max_length=MAX_DESCRIPTION)
        check_text(problems, "created_at", self.created_at)
        if problems:
            raise InvalidFields(problems)

    @classmethod
    def from_fields(cls, fields: Mapping[str, Any]) -> Registration:
        """A registration from its stored fields (others ignored); InvalidFields when one is wrong."""
        missing = [name for name in ("tenant_id", "event_name", "event_version") if name not in fields]
        if missing:
            raise InvalidFields([f"{name}: Field required" for name in missing])
        return cls(**{name: fields[name] for name in _REGISTRATION_FIELDS if name in fields})

    @classmethod
    def from_json(cls, text: str) -> Registration:
        return cls.from_fields(json.loads(text))

    def to_json(self) -> str:
        """As stored in the config table: every field, in order, in pydantic's compact form."""
        fields = {name: getattr(self, name) for name in _REGISTRATION_FIELDS}
        fields["kind"] = self.kind.value
        return json.dumps(fields, ensure_ascii=False, separators=(",", ":"))

    def model_copy(self, *, update: Mapping[str, Any] | None = None) -> Registration:
        """This registration with `update`'s fields changed, checked again (pydantic's name for it,
        kept for the callers written when Registration was a model)."""
        return dataclasses.replace(self, **(update or {}))

    def payload_problems(self, payload: dict[str, Any], header_tenant_id: str) -> list[str]:
        """Each field that fails this registration's validation and why; empty when valid."""
        if self.kind is RegistrationKind.SYSTEM_ASSET:
            # Imported here: its pydantic models cost every cold start, and few events use them.
            from eventrelay.system_asset import system_asset_problems

            return system_asset_problems(payload, header_tenant_id)
        if self.kind is RegistrationKind.JSON_SCHEMA and self.json_schema is not None:
            validator = _validator(self.json_schema)
            problems = []
            for error in sorted(validator.iter_errors(payload), key=lambda e: list(e.absolute_path)):
                where = ".".join(str(part) for part in error.absolute_path) or "body"
                problems.append(f"{where}: {error.message}"[:500])
                if len(problems) >= MAX_SCHEMA_PROBLEMS:
                    break
            return problems
        return []


def check_schema(schema: Any) -> dict[str, Any]:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    if not isinstance(schema, dict):
        raise InvalidSchema("a JSON Schema must be a JSON object")
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        raise InvalidSchema(f"invalid JSON Schema: {exc.message}") from None
    return schema


def _sk(event_name: str, event_version: str) -> str:
    return f"EVENT#{event_name}#{event_version}"


def _key(tenant_id: str, event_name: str, event_version: str) -> dict[str, str]:
    return {"pk": tenant_pk(tenant_id), "sk": _sk(event_name, event_version)}


class RegistrationStore:
    """Registrations in the config table; lookups cached per instance for `cache_seconds` (hits only,
    at most `CACHED_REGISTRATIONS`, least recently used evicted)."""

    def __init__(
        self, table_name: str, client: DynamoDBClient, cache_seconds: float = 30, clock: Clock = system_clock
    ) -> None:
        self._table = Table(table_name, client)
        self._clock = clock
        self._cache: BoundedCache[tuple[str, str, str], Registration] = BoundedCache(
            CACHED_REGISTRATIONS, cache_seconds, clock
        )

    def put(self, registration: Registration) -> Registration:
        if registration.kind is RegistrationKind.JSON_SCHEMA:
            check_schema(registration.json_schema)
        stored = registration.model_copy(
            update={"created_at": registration.created_at or iso_utc(self._clock())}
        )
        self._table.put(
            {
                **_key(stored.tenant_id, stored.event_name, stored.event_version),
                "registration": stored.to_json(),
            }
        )
        return stored

    def get(self, tenant_id: str, event_name: str, event_version: str) -> Registration | None:
        key = (tenant_id, event_name, event_version)
        cached = self._cache.get(key)
        if cached is not None:
            return cached.value
        item = self._table.get(_key(tenant_id, event_name, event_version))
        if item is None:
            return None
        registration = Registration.from_json(item["registration"])
        self._cache.put(key, registration)
        return registration

    def list(self, tenant_id: str) -> list[Registration]:
        events = Expression()
        events.key(events.equals("pk", tenant_pk(tenant_id)), events.begins_with("sk", "EVENT#"))
        return [Registration.from_json(item["registration"]) for item in self._table.query(events)]

    def delete(self, tenant_id: str, event_name: str, event_version: str) -> bool:
        old = self._table.delete(_key(tenant_id, event_name, event_version), return_old=True)
        self._cache.pop((tenant_id, event_name, event_version))
        return old is not None


def schema_from_text(text: str) -> dict[str, Any]:
    try:
        return check_schema(json.loads(text))
    except json.JSONDecodeError as exc:
        raise InvalidSchema(f"schema is not valid JSON: {exc.msg} at line {exc.lineno}") from None
