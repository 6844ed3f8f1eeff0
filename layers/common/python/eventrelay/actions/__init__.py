"""Actions: one templated HTTP request per action, its typed fields, injection-safe rendering, storage.

Public API:
- models: `ActionDraft` (what an admin writes), `Action` (what is saved), `ActionField`,
  `FieldType`, `HttpMethod`, `PlainPayload`, `FormPayload`, `FormPair`, `parse_draft`,
  `compile_action`.
- rendering: `render(action, values, base_url=None) -> OutboundRequest` (no base URL: a relative
  URL stays relative, for the connector to resolve).
- storage: `ActionStore(table_name, dynamodb_client)`.
- errors: `TemplateError` (with `TemplatePosition`), `RenderError` (and its `UrlPathSegmentRefused`),
  `InvalidAction`,
  `ActionNotFound`, `ActionAlreadyExists`, `ActionConflict`, all `ActionError`.
"""

from eventrelay.actions.errors import (
    ActionAlreadyExists,
    ActionConflict,
    ActionError,
    ActionNotFound,
    InvalidAction,
    RenderError,
    TemplateError,
    TemplatePosition,
    UrlPathSegmentRefused,
)
from eventrelay.actions.fields import FieldType, TypedValue, coerce
from eventrelay.actions.models import (
    Action,
    ActionDraft,
    ActionField,
    FormPair,
    FormPayload,
    HttpMethod,
    PlainPayload,
    compile_action,
    parse_draft,
)
from eventrelay.actions.render import render, resolve_value
from eventrelay.actions.store import ActionStore

__all__ = [
    "Action",
    "ActionAlreadyExists",
    "ActionConflict",
    "ActionDraft",
    "ActionError",
    "ActionField",
    "ActionNotFound",
    "ActionStore",
    "FieldType",
    "FormPair",
    "FormPayload",
    "HttpMethod",
    "InvalidAction",
    "PlainPayload",
    "RenderError",
    "TemplateError",
    "TemplatePosition",
    "TypedValue",
    "UrlPathSegmentRefused",
    "coerce",
    "compile_action",
    "parse_draft",
    "render",
    "resolve_value",
]
