"""Action definitions: what an admin writes (`ActionDraft`) and what is stored (`Action`).

Attribute names are snake_case in Python and camelCase on the wire and in DynamoDB (`maxRetries`);
input accepts both. Unknown attributes are refused, so a typo does not silently become a default.
`compile_action` turns a draft into an action: it parses the templates (TemplateError with the
position), derives the fields, and keeps the admin's earlier type/default choices for fields that
remain in the templates.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from eventrelay.actions.errors import InvalidAction, RenderError
from eventrelay.actions.fields import FieldType, coerce
from eventrelay.actions.templates import FIELD_NAME_PATTERN, ActionTemplates, parse_action_templates
from eventrelay.validation import validation_problems as shared_validation_problems

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$"
TENANT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
# RFC 9110 token characters.
HEADER_NAME_PATTERN = r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$"
# Framing and connection headers belong to the HTTP client; letting a template set them would let an
# action desynchronise or redirect the request.
CLIENT_HEADERS = frozenset(
    {"host", "content-length", "transfer-encoding", "connection", "keep-alive", "te", "trailer", "upgrade"}
)
MIN_RETRIES = 0
MAX_RETRIES = 5
DEFAULT_MAX_RETRIES = 3
MAX_FIELDS = 100
MAX_HEADERS = 50

ActionName = Annotated[str, Field(min_length=1, max_length=128, pattern=NAME_PATTERN)]
ConnectorName = Annotated[str, Field(min_length=1, max_length=128, pattern=NAME_PATTERN)]
TenantId = Annotated[str, Field(min_length=1, max_length=64, pattern=TENANT_ID_PATTERN)]
FieldName = Annotated[str, Field(min_length=1, max_length=128, pattern=FIELD_NAME_PATTERN)]
HeaderName = Annotated[str, Field(min_length=1, max_length=128, pattern=HEADER_NAME_PATTERN)]
HeaderValueTemplate = Annotated[str, Field(max_length=4096)]
UrlTemplate = Annotated[str, Field(max_length=2048)]
FieldDefault = (
    bool | int | Annotated[float, Field(allow_inf_nan=False)] | Annotated[str, Field(max_length=4096)] | None
)


class HttpMethod(StrEnum):
    GET = "GET"
    POST = "POST"
    PUT = "PUT"
    PATCH = "PATCH"
    DELETE = "DELETE"


def _upper(value: object) -> object:
    return value.upper() if isinstance(value, str) else value


def _field_type(value: object) -> object:
    if isinstance(value, str):
        for member in FieldType:
            if member.value.lower() == value.strip().lower():
                return member
    return value


def _check_max_retries(value: int) -> int:
    if not MIN_RETRIES <= value <= MAX_RETRIES:
        raise PydanticCustomError(
            "max_retries_range",
            "max retries must be between {low} and {high}, got {got}",
            {"low": MIN_RETRIES, "high": MAX_RETRIES, "got": value},
        )
    return value


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", alias_generator=to_camel, populate_by_name=True)


class ActionField(_Model):
    """A field of an action: its type (String by default) and optional default value."""

    name: FieldName
    type: Annotated[FieldType, BeforeValidator(_field_type)] = FieldType.STRING
    default: FieldDefault = None

    @model_validator(mode="after")
    def _default_fits_type(self) -> Self:
        if self.default is not None:
            try:
                coerce(self.name, self.type, self.default)
            except RenderError as exc:
                raise ValueError(
                    f"default of field '{self.name}' {exc.reason} (type {self.type.value})"
                ) from None
        return self


class PlainPayload(_Model):
    """JSON text with `{{field}}` tokens."""

    type: Literal["plain"] = "plain"
    text: Annotated[str, Field(min_length=1, max_length=65536)]


class FormPair(_Model):
    key: Annotated[str, Field(min_length=1, max_length=256)]
    value: Annotated[str, Field(max_length=4096)] = ""


class FormPayload(_Model):
    """application/x-www-form-urlencoded pairs: literal keys, templated values, order kept."""

    type: Literal["form"] = "form"
    pairs: Annotated[tuple[FormPair, ...], Field(max_length=100)] = ()

    @field_validator("pairs", mode="before")
    @classmethod
    def _pairs_from_mapping(cls, value: object) -> object:
        if isinstance(value, Mapping):
            return [{"key": key, "value": item} for key, item in value.items()]
        return value


Payload = Annotated[PlainPayload | FormPayload, Field(discriminator="type")]


def _payload_shorthand(value: object) -> object:
    # A bare string is a plain payload (handy in YAML and on the command line).
    return {"type": "plain", "text": value} if isinstance(value, str) else value


class ActionSpec(_Model):
    """The definition an admin controls (shared by drafts and stored actions)."""

    connector: ConnectorName
    name: ActionName
    method: Annotated[HttpMethod, BeforeValidator(_upper)]
    url: UrlTemplate = ""
    headers: Annotated[dict[HeaderName, HeaderValueTemplate], Field(max_length=MAX_HEADERS)] = Field(
        default_factory=dict
    )
    payload: Annotated[Payload | None, BeforeValidator(_payload_shorthand)] = None
    max_retries: Annotated[int, Field(strict=True), AfterValidator(_check_max_retries)] = DEFAULT_MAX_RETRIES
    description: Annotated[str, Field(max_length=1024)] = ""

    @field_validator("headers")
    @classmethod
    def _header_names_unique(cls, value: dict[str, str]) -> dict[str, str]:
        seen: set[str] = set()
        for name in value:
            if name.lower() in CLIENT_HEADERS:
                raise ValueError(f"header '{name}' is set by the HTTP client and cannot be configured")
            if name.lower() in seen:
                raise ValueError(f"header '{name}' is given more than once (names are case-insensitive)")
            seen.add(name.lower())
        return value

    def parse_templates(self) -> ActionTemplates:
        """Parse the URL, header and payload templates (TemplateError with the position)."""
        plain = self.payload.text if isinstance(self.payload, PlainPayload) else None
        form = (
            [(pair.key, pair.value) for pair in self.payload.pairs]
            if isinstance(self.payload, FormPayload)
            else None
        )
        return parse_action_templates(self.url, self.headers, plain, form)


class ActionDraft(ActionSpec):
    """What an admin writes: the definition and, optionally, type/default choices for some fields."""

    fields: tuple[ActionField, ...] = ()


class Action(ActionSpec):
    """A saved action: its definition, every field (in order of first appearance) and bookkeeping."""

    tenant_id: TenantId
    fields: tuple[ActionField, ...]
    version: Annotated[int, Field(ge=1)] = 1
    created_at: str = ""
    updated_at: str = ""
    _parsed: ActionTemplates | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _fields_match_templates(self) -> Self:
        names = tuple(field.name for field in self.fields)
        if names != self.templates().field_names:
            raise ValueError("fields must be exactly the templates' fields, in order of first appearance")
        return self

    def templates(self) -> ActionTemplates:
        """The parsed templates (parsed once per instance)."""
        if self._parsed is None:
            self._parsed = self.parse_templates()
        return self._parsed

    def field(self, name: str) -> ActionField:
        for candidate in self.fields:
            if candidate.name == name:
                return candidate
        raise KeyError(name)

    def to_draft(self) -> ActionDraft:
        """A draft with this definition and every field's current choices (to edit and save again)."""
        return ActionDraft.model_validate(
            self.model_dump(exclude={"tenant_id", "version", "created_at", "updated_at"})
        )


def parse_draft(data: ActionDraft | Mapping[str, Any]) -> ActionDraft:
    """Validate an admin's input (camelCase or snake_case keys); InvalidAction lists every problem."""
    if isinstance(data, ActionDraft):
        return data
    try:
        return ActionDraft.model_validate(data)
    except ValidationError as exc:
        raise InvalidAction(validation_problems(exc)) from None


def compile_action(
    tenant_id: str,
    draft: ActionDraft,
    *,
    previous: Action | None = None,
    now: str = "",
) -> Action:
    """Parse the draft's templates and derive its fields.

    A field's type and default come from the draft's `fields` if listed there, else from `previous`
    (the saved action being updated) if it had that field, else String with no default.
    Raises TemplateError (malformed template, with position) or InvalidAction.
    """
    names = draft.parse_templates().field_names
    problems: list[str] = []
    if len(names) > MAX_FIELDS:
        problems.append(f"fields: an action may use at most {MAX_FIELDS} fields, found {len(names)}")
    chosen: dict[str, ActionField] = {}
    for choice in draft.fields:
        if choice.name in chosen:
            problems.append(f"fields: '{choice.name}' is listed more than once")
        elif choice.name not in names:
            problems.append(f"fields: '{choice.name}' is not used by the URL, headers or payload")
        chosen[choice.name] = choice
    if problems:
        raise InvalidAction(problems)
    kept = {field.name: field for field in previous.fields} if previous is not None else {}
    fields = tuple(chosen.get(name) or kept.get(name) or ActionField(name=name) for name in names)
    try:
        return Action(
            tenant_id=tenant_id,
            connector=draft.connector,
            name=draft.name,
            method=draft.method,
            url=draft.url,
            headers=draft.headers,
            payload=draft.payload,
            max_retries=draft.max_retries,
            description=draft.description,
            fields=fields,
            version=previous.version + 1 if previous is not None else 1,
            created_at=previous.created_at if previous is not None else now,
            updated_at=now,
        )
    except ValidationError as exc:
        raise InvalidAction(validation_problems(exc)) from None


def validation_problems(exc: ValidationError) -> list[str]:
    """One line per problem, `location: message`, without the offending input."""
    return shared_validation_problems(exc, root="action")
