"""From an event's payload to an action's field values, and the checks made when a rule is saved.

At save time (`check_against_action`): every mapped name must be a field of the action; every
field without a default must be mapped; constants must fit their field's type.
At delivery time (`field_values`, `render_request`): each mapped field takes its constant or the
value at its payload path. A missing path (or a null value) falls back to the field's default; a
field with neither is a `MappingError` naming the field and the path. A value that does not fit
the field's type (coercion) is a `MappingError` too, naming field, path and expected type. The
runner records both as permanent failures: retrying cannot change the event.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

from eventrelay.actions import Action, RenderError, coerce, render
from eventrelay.outbound.request import OutboundRequest
from eventrelay.rules.errors import MappingError
from eventrelay.rules.models import ConstantSource, PathSource, RuleSpec


def check_against_action(rule: RuleSpec, action: Action) -> list[str]:
    """Problems that make `rule` unusable with `action` (empty when it fits)."""
    problems: list[str] = []
    fields = {field.name: field for field in action.fields}
    for name, source in rule.mapping.items():
        field = fields.get(name)
        if field is None:
            known = ", ".join(fields) or "none"
            problems.append(f"mapping.{name}: not a field of action '{action.name}' (its fields: {known})")
            continue
        if isinstance(source, ConstantSource):
            try:
                coerce(name, field.type, source.constant)
            except RenderError as exc:
                problems.append(f"mapping.{name}: the constant {exc.reason} (type {field.type.value})")
    for field in action.fields:
        if field.name not in rule.mapping and field.default is None:
            problems.append(
                f"mapping.{field.name}: field '{field.name}' of action '{action.name}' has no default, "
                "so the rule must map it to a payload path or a constant"
            )
    return problems


def describe_source(source: PathSource | ConstantSource | None) -> str:
    if source is None:
        return "default"
    if isinstance(source, PathSource):
        return f"path {source.path.text}"
    return "constant"


def field_values(rule: RuleSpec, action: Action, payload: Mapping[str, Any]) -> dict[str, object]:
    """Raw values for the action's fields (unmapped and missing fields are left to their defaults)."""
    values: dict[str, object] = {}
    for field in action.fields:
        source = rule.mapping.get(field.name)
        if source is None:
            if field.default is None:
                raise MappingError(field.name, "is not mapped by the rule and has no default")
            continue
        if isinstance(source, ConstantSource):
            values[field.name] = source.constant
            continue
        found, value = source.path.resolve(payload)
        if not found or value is None:
            if field.default is None:
                what = "is missing from the payload" if not found else "is null in the payload"
                raise MappingError(
                    field.name, f"{what} and the field has no default", f"path {source.path.text}"
                )
            continue
        values[field.name] = value
    return values


def render_request(
    rule: RuleSpec, action: Action, payload: Mapping[str, Any], base_url: str | None = None
) -> OutboundRequest:
    """The action's request for this event; MappingError (permanent) when it cannot be built.

    Without `base_url` a relative action URL stays relative (the connector resolves it).
    """
    values = field_values(rule, action, payload)
    try:
        return render(action, values, base_url)
    except RenderError as exc:
        if exc.field is None:
            raise MappingError(None, exc.reason) from None
        source = describe_source(rule.mapping.get(exc.field))
        with contextlib.suppress(KeyError):
            source += f", type {action.field(exc.field).type.value}"
        raise MappingError(exc.field, exc.reason, source) from None
