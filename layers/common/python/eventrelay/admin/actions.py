"""Actions: create/update (the connector must exist), delete (refused while rules use it), fields, test."""

from __future__ import annotations

import builtins
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from eventrelay.actions import (
    Action,
    ActionDraft,
    ActionField,
    ActionNotFound,
    ActionStore,
    FieldType,
    InvalidAction,
    RenderError,
    TemplateError,
    compile_action,
    parse_draft,
)
from eventrelay.admin.action_test import ActionTester, ActionTestReport, UnknownFields
from eventrelay.admin.audit import Auditor, changed_attributes, written_attributes
from eventrelay.admin.errors import ActionInUse
from eventrelay.admin.tenants import TenantAdmin
from eventrelay.admin.views import PlannedChange
from eventrelay.connectors.errors import ConnectorNotFound
from eventrelay.connectors.store import ConnectorStore
from eventrelay.rules import RuleStore


@dataclass(frozen=True)
class FieldChange:
    """A field's new type and/or default. `default=None` keeps the default; `clear_default` removes it."""

    name: str
    type: FieldType | None = None
    default: object | None = None
    clear_default: bool = False


@dataclass(frozen=True)
class ActionPlan:
    """What `put` would do with a draft, the action as it would be stored, and a missing connector."""

    change: PlannedChange
    draft: ActionDraft
    target: Action
    exists: bool
    missing_connector: str | None = None


@contextmanager
def _template_errors_as_invalid() -> Iterator[None]:
    """A malformed template or a value that does not fit its field is an invalid action (the
    message names the field or the template position, never a value)."""
    try:
        yield
    except (TemplateError, RenderError) as exc:
        raise InvalidAction([str(exc)]) from exc


class ActionAdmin:
    def __init__(
        self,
        tenants: TenantAdmin,
        store: ActionStore,
        connectors: ConnectorStore,
        rules: RuleStore,
        tester: ActionTester,
        auditor: Auditor,
    ) -> None:
        self._tenants = tenants
        self._store = store
        self._connectors = connectors
        self._rules = rules
        self._tester = tester
        self._auditor = auditor

    @property
    def tester(self) -> ActionTester:
        return self._tester

    def create(self, tenant_id: str, draft: ActionDraft | Mapping[str, Any]) -> Action:
        """A new action; TenantNotFound, ConnectorNotFound, ActionAlreadyExists, InvalidAction."""
        self._tenants.show(tenant_id)
        with _template_errors_as_invalid():
            parsed = parse_draft(draft)
            self._connectors.get(tenant_id, parsed.connector)
            created = self._store.create(tenant_id, parsed)
        self._record_created(tenant_id, parsed)
        return created

    def update(self, tenant_id: str, name: str, draft: ActionDraft | Mapping[str, Any]) -> Action:
        """Replace the definition (fields still used keep their type and default unless listed)."""
        current = self._store.get(tenant_id, name)
        with _template_errors_as_invalid():
            parsed = parse_draft(draft)
            if parsed.name != current.name:
                raise InvalidAction(
                    ["name: an action cannot be renamed; create a new one and delete this one"]
                )
            if parsed.connector != current.connector:
                self._connectors.get(tenant_id, parsed.connector)
            updated = self._store.update(tenant_id, parsed)
        self._record_updated(tenant_id, current, updated)
        return updated

    def show(self, tenant_id: str, name: str) -> Action:
        return self._store.get(tenant_id, name)

    def list(self, tenant_id: str, *, connector: str | None = None) -> builtins.list[Action]:
        return self._store.list(tenant_id, connector=connector)

    def users(self, tenant_id: str, name: str) -> builtins.list[str]:
        """The rules that perform this action."""
        return [rule.name for rule in self._rules.list(tenant_id, action=name)]

    def delete(self, tenant_id: str, name: str, *, force: bool = False) -> None:
        """Delete the action; ActionInUse while rules use it (unless forced)."""
        self._store.get(tenant_id, name)
        users = self.users(tenant_id, name)
        if users and not force:
            raise ActionInUse(name, users)
        self._store.delete(tenant_id, name)
        self._auditor.record(tenant_id, "deleted", "action", name)

    def set_fields(self, tenant_id: str, name: str, changes: Sequence[FieldChange]) -> Action:
        """Set some fields' types and defaults; UnknownFields names those the action does not have."""
        action = self._store.get(tenant_id, name)
        if not changes:
            return action
        known = {field.name: field for field in action.fields}
        unknown = [change.name for change in changes if change.name not in known]
        if unknown:
            raise UnknownFields(action.name, unknown, list(known))
        both = [change.name for change in changes if change.clear_default and change.default is not None]
        if both:
            raise InvalidAction([f"fields.{name}: a new default and no default at once" for name in both])
        chosen: builtins.list[dict[str, Any]] = []
        for change in changes:
            field = known[change.name]
            default: object = field.default
            if change.clear_default:
                default = None
            elif change.default is not None:
                default = change.default
            chosen.append({"name": change.name, "type": change.type or field.type, "default": default})
        updated = self._store.update_fields(tenant_id, name, chosen)
        self._auditor.record(
            tenant_id, "updated", "action", name, [f"fields.{change.name}" for change in changes]
        )
        return updated

    def test(self, tenant_id: str, name: str, values: Mapping[str, object]) -> ActionTestReport:
        """Perform the action with sample values (else the field defaults); the report is redacted."""
        with _template_errors_as_invalid():
            return self._tester.run(tenant_id, name, values)

    # ---- whole-configuration writes (`apply`)

    def plan_put(
        self, tenant_id: str, draft: ActionDraft, planned_connectors: Collection[str] = ()
    ) -> ActionPlan:
        """What `put` would do. The draft is authoritative for every field: a field it does not list
        becomes String without default. `planned_connectors` are written in the same batch."""
        missing = None
        if draft.connector not in planned_connectors:
            try:
                self._connectors.get(tenant_id, draft.connector)
            except ConnectorNotFound:
                missing = draft.connector
        complete = _with_every_field(draft)
        try:
            existing: Action | None = self._store.get(tenant_id, draft.name)
        except ActionNotFound:
            existing = None
        with _template_errors_as_invalid():
            target = compile_action(tenant_id, complete, previous=existing)
        if existing is None:
            return ActionPlan(PlannedChange("created"), complete, target, False, missing)
        before = existing.to_draft().model_dump(mode="json", by_alias=True)
        after = complete.model_dump(mode="json", by_alias=True)
        changed = tuple(key for key in after if before.get(key) != after[key])
        if not changed:
            return ActionPlan(PlannedChange("unchanged"), complete, existing, True, missing)
        return ActionPlan(PlannedChange("updated", changed), complete, target, True, missing)

    def put(self, tenant_id: str, draft: ActionDraft) -> Action:
        """Create the action, or replace its definition with the draft."""
        with _template_errors_as_invalid():
            try:
                current = self._store.get(tenant_id, draft.name)
            except ActionNotFound:
                self._tenants.show(tenant_id)
                created = self._store.create(tenant_id, draft)
                self._record_created(tenant_id, draft)
                return created
            updated = self._store.update(tenant_id, draft)
        self._record_updated(tenant_id, current, updated)
        return updated

    def _record_created(self, tenant_id: str, draft: ActionDraft) -> None:
        written = draft.model_dump(mode="json", by_alias=True, exclude_defaults=True)
        self._auditor.record(tenant_id, "created", "action", draft.name, written_attributes(written))

    def _record_updated(self, tenant_id: str, before: Action, after: Action) -> None:
        changed = changed_attributes(
            before.to_draft().model_dump(mode="json", by_alias=True),
            after.to_draft().model_dump(mode="json", by_alias=True),
        )
        if changed:
            self._auditor.record(tenant_id, "updated", "action", after.name, changed)


def _with_every_field(draft: ActionDraft) -> ActionDraft:
    """The draft listing every template field: the draft's choice, else String without default."""
    listed = {choice.name: choice for choice in draft.fields}
    with _template_errors_as_invalid():
        names = draft.parse_templates().field_names
    return draft.model_copy(
        update={"fields": tuple(listed.get(name) or ActionField(name=name) for name in names)}
    )
