"""Rules: which event triggers which action, under which condition, with which field values.

A rule (per tenant) names an event (`eventName` + `eventVersion`), an optional `condition` on the
payload (see `conditions`), one `action`, and a `mapping` from each of the action's fields to
where its value comes from:

    mapping:
      ticketId: "$.order.id"                 # shorthand: a text starting with "$" is a payload path
      summary: {path: "order.title"}         # a payload path, dotted or JSONPath-like (see `paths`)
      priority: {constant: "high"}           # a constant (any JSON value but null)

A **dataset rule** (`source: {"type": "dataset"}`) takes its rows from a file instead (see
`eventrelay.datasets`): paths name a row's columns (`$.column`), the condition is evaluated on each
row. It names no event, or names the System Asset Event whose `bucketName` + `successFilePath`
file it runs on (both `eventName` and `eventVersion`, or neither). An event rule names its event.

Fields the mapping leaves out take the action field's default; saving a rule that leaves out a
field without a default is refused naming the field (see `mappings.check_against_action`).
Attribute names are snake_case in Python and camelCase on the wire and in DynamoDB; input accepts
both. Unknown attributes are refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    ValidationError,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from eventrelay.actions.models import NAME_PATTERN, TENANT_ID_PATTERN
from eventrelay.actions.templates import FIELD_NAME_PATTERN
from eventrelay.registrations import EVENT_NAME_PATTERN, EVENT_VERSION_PATTERN
from eventrelay.rules.conditions import Condition, ConditionError, condition_to_dict, parse_condition
from eventrelay.rules.errors import InvalidRule
from eventrelay.rules.paths import PathError, PayloadPath, parse_path
from eventrelay.validation import validation_problems as shared_validation_problems

MAX_MAPPINGS = 100
MAX_CONSTANT_CHARS = 4096

RuleName = Annotated[str, Field(min_length=1, max_length=128, pattern=NAME_PATTERN)]
ActionName = Annotated[str, Field(min_length=1, max_length=128, pattern=NAME_PATTERN)]
TenantId = Annotated[str, Field(min_length=1, max_length=64, pattern=TENANT_ID_PATTERN)]
FieldName = Annotated[str, Field(min_length=1, max_length=128, pattern=FIELD_NAME_PATTERN)]
EventName = Annotated[str, Field(pattern=EVENT_NAME_PATTERN.pattern)]
EventVersion = Annotated[str, Field(pattern=EVENT_VERSION_PATTERN.pattern)]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", alias_generator=to_camel, populate_by_name=True)


def _path(value: object) -> PayloadPath:
    if isinstance(value, PayloadPath):
        return value
    if not isinstance(value, str):
        raise ValueError("a path is a text such as $.order.id or order.id")
    try:
        return parse_path(value)
    except PathError as exc:
        raise ValueError(str(exc)) from None


Path = Annotated[
    PayloadPath,
    PlainValidator(_path),
    PlainSerializer(lambda path: path.text, return_type=str),
    WithJsonSchema({"type": "string"}),
]


class PathSource(_Model):
    """The value at a payload path."""

    path: Path


class ConstantSource(_Model):
    """A fixed value (any JSON value but null), coerced to the field's type like a payload value."""

    constant: Any

    @field_validator("constant")
    @classmethod
    def _json_constant(cls, value: Any) -> Any:
        import json

        if value is None:
            raise ValueError("a constant may not be null (leave the field out to use its default)")
        try:
            text = json.dumps(value, allow_nan=False)
        except (TypeError, ValueError):
            raise ValueError("a constant must be a JSON value (finite numbers only)") from None
        if len(text) > MAX_CONSTANT_CHARS:
            raise ValueError(f"a constant may be at most {MAX_CONSTANT_CHARS} characters of JSON")
        return value


def _source(value: object) -> PathSource | ConstantSource:
    if isinstance(value, PathSource | ConstantSource):
        return value
    if isinstance(value, str):
        if value.startswith("$"):
            value = {"path": value}
        else:
            raise ValueError(
                'write {"path": "..."} for a payload path or {"constant": ...} for a constant '
                '(a bare text is a path only when it starts with "$")'
            )
    if isinstance(value, Mapping) and set(value) in ({"path"}, {"constant"}):
        model = PathSource if "path" in value else ConstantSource
        try:
            return model.model_validate(value)
        except ValidationError as exc:
            raise ValueError(exc.errors(include_url=False)[0]["msg"].removeprefix("Value error, ")) from None
    raise ValueError('a mapping is {"path": "$.a.b"} or {"constant": <JSON value>}')


FieldSource = Annotated[
    PathSource | ConstantSource,
    PlainValidator(_source),
    PlainSerializer(lambda source: source.model_dump(mode="json", by_alias=True)),
    WithJsonSchema({"type": ["object", "string"]}),
]


def _condition(value: object) -> Condition | None:
    if value is None:
        return None
    try:
        return parse_condition(value)
    except ConditionError as exc:
        raise ValueError(str(exc)) from None


def _condition_json(condition: Condition | None) -> dict[str, Any] | None:
    return None if condition is None else condition_to_dict(condition)


OptionalCondition = Annotated[
    Condition | None,
    PlainValidator(_condition),
    PlainSerializer(_condition_json),
    WithJsonSchema({"type": ["object", "null"]}),
]


class SourceType(StrEnum):
    EVENTS = "events"
    DATASET = "dataset"


class RuleSource(_Model):
    """Where a rule's inputs come from: events (the default) or the rows of a dataset."""

    type: SourceType = SourceType.EVENTS


class RuleSpec(_Model):
    """The definition an admin controls."""

    name: RuleName
    source: RuleSource = Field(default_factory=RuleSource)
    event_name: EventName | None = None
    event_version: EventVersion | None = None
    action: ActionName
    condition: OptionalCondition = None
    mapping: Annotated[dict[FieldName, FieldSource], Field(max_length=MAX_MAPPINGS)] = Field(
        default_factory=dict
    )
    enabled: Annotated[bool, Field(strict=True)] = True
    description: Annotated[str, Field(max_length=1024)] = ""

    @model_validator(mode="after")
    def _names_its_event(self) -> RuleSpec:
        named = (self.event_name is not None, self.event_version is not None)
        if self.source.type is SourceType.EVENTS and named != (True, True):
            raise ValueError("an event rule names its event: eventName and eventVersion")
        if self.source.type is SourceType.DATASET and named[0] != named[1]:
            raise ValueError(
                "a dataset rule names a System Asset Event with both eventName and eventVersion, or neither"
            )
        return self

    @property
    def is_dataset(self) -> bool:
        return self.source.type is SourceType.DATASET


class RuleDraft(RuleSpec):
    """What an admin writes."""


class Rule(RuleSpec):
    """A saved rule, with bookkeeping."""

    tenant_id: TenantId
    version: Annotated[int, Field(ge=1)] = 1
    created_at: str = ""
    updated_at: str = ""

    def to_draft(self) -> RuleDraft:
        return RuleDraft.model_validate(
            self.model_dump(by_alias=True, exclude={"tenant_id", "version", "created_at", "updated_at"})
        )

    def to_view(self) -> dict[str, Any]:
        """JSON-ready, camelCase (what the CLI prints and `apply` compares)."""
        return self.model_dump(mode="json", by_alias=True)


def parse_rule_draft(data: RuleDraft | Mapping[str, Any]) -> RuleDraft:
    """Validate an admin's input; InvalidRule lists every problem as `location: message`."""
    if isinstance(data, RuleDraft):
        return data
    try:
        return RuleDraft.model_validate(data)
    except ValidationError as exc:
        raise InvalidRule(validation_problems(exc)) from None


def validation_problems(exc: ValidationError) -> list[str]:
    return shared_validation_problems(exc, root="rule")
