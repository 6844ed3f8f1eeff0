"""Rules: every rule written refers to an action that exists and maps its required fields."""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from eventrelay.actions import Action, ActionNotFound, ActionStore
from eventrelay.admin.audit import Auditor, written_attributes
from eventrelay.admin.tenants import TenantAdmin
from eventrelay.admin.views import PlannedChange
from eventrelay.rules import (
    InvalidRule,
    Rule,
    RuleDraft,
    RuleNotFound,
    RuleStore,
    check_against_action,
    parse_rule_draft,
)


@dataclass(frozen=True)
class RuleCheck:
    """A rule's references: the action it names when that does not exist, else mapping problems."""

    missing_action: str | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.missing_action is None and not self.problems


class RuleAdmin:
    def __init__(
        self, tenants: TenantAdmin, store: RuleStore, actions: ActionStore, auditor: Auditor
    ) -> None:
        self._tenants = tenants
        self._store = store
        self._actions = actions
        self._auditor = auditor

    def check(
        self, tenant_id: str, draft: RuleDraft, planned_actions: Mapping[str, Action] | None = None
    ) -> RuleCheck:
        """Whether the rule's action exists and its mapping fits that action.

        `planned_actions` are actions written in the same batch (they count as existing).
        """
        action = (planned_actions or {}).get(draft.action)
        if action is None:
            try:
                action = self._actions.get(tenant_id, draft.action)
            except ActionNotFound:
                return RuleCheck(missing_action=draft.action)
        return RuleCheck(problems=check_against_action(draft, action))

    def _check(self, tenant_id: str, draft: RuleDraft) -> None:
        checked = self.check(tenant_id, draft)
        if checked.missing_action is not None:
            raise InvalidRule([f"action: action '{checked.missing_action}' not found for tenant {tenant_id}"])
        if checked.problems:
            raise InvalidRule(checked.problems)

    def create(self, tenant_id: str, draft: RuleDraft | Mapping[str, Any]) -> Rule:
        """A new rule; TenantNotFound, RuleAlreadyExists, InvalidRule (action missing, mapping)."""
        self._tenants.show(tenant_id)
        parsed = parse_rule_draft(draft)
        self._check(tenant_id, parsed)
        created = self._store.create(tenant_id, parsed)
        written = parsed.model_dump(mode="json", by_alias=True, exclude_defaults=True)
        self._auditor.record(tenant_id, "created", "rule", created.name, written_attributes(written))
        return created

    def update(self, tenant_id: str, name: str, changes: Mapping[str, Any]) -> Rule:
        """Change some attributes (camelCase keys, as `Rule.to_view`); the rest stay as saved."""
        current = self._store.get(tenant_id, name)
        if "name" in changes and changes["name"] != name:
            raise InvalidRule(["name: a rule cannot be renamed; create a new one and delete this one"])
        merged = {**current.to_draft().model_dump(by_alias=True), **changes}
        self._check(tenant_id, parse_rule_draft(merged))
        updated = self._store.update(tenant_id, name, changes)
        self._auditor.record(tenant_id, "updated", "rule", name, written_attributes(changes))
        return updated

    def show(self, tenant_id: str, name: str) -> Rule:
        return self._store.get(tenant_id, name)

    def list(
        self,
        tenant_id: str,
        *,
        event_name: str | None = None,
        event_version: str | None = None,
        action: str | None = None,
    ) -> builtins.list[Rule]:
        return self._store.list(tenant_id, event_name=event_name, event_version=event_version, action=action)

    def delete(self, tenant_id: str, name: str) -> None:
        self._store.delete(tenant_id, name)
        self._auditor.record(tenant_id, "deleted", "rule", name)

    def enable(self, tenant_id: str, name: str) -> Rule:
        """Enable the rule, checked against its action again (it may have changed since)."""
        self._check(tenant_id, self._store.get(tenant_id, name).to_draft())
        enabled = self._store.set_enabled(tenant_id, name, True)
        self._auditor.record(tenant_id, "enabled", "rule", name, ["enabled"])
        return enabled

    def disable(self, tenant_id: str, name: str) -> Rule:
        """Disable the rule (always allowed): events no longer trigger it."""
        disabled = self._store.set_enabled(tenant_id, name, False)
        self._auditor.record(tenant_id, "disabled", "rule", name, ["enabled"])
        return disabled

    # ---- whole-configuration writes (`apply`)

    def plan_put(self, tenant_id: str, draft: RuleDraft) -> PlannedChange:
        """What `put` would do (attribute names only); `check` it first."""
        try:
            existing = self._store.get(tenant_id, draft.name)
        except RuleNotFound:
            return PlannedChange("created")
        before = existing.to_draft().model_dump(mode="json", by_alias=True)
        after = draft.model_dump(mode="json", by_alias=True)
        changed = tuple(key for key in after if before.get(key) != after[key])
        return PlannedChange("updated", changed) if changed else PlannedChange("unchanged")

    def put(self, tenant_id: str, draft: RuleDraft) -> Rule:
        """Create the rule, or replace it whole with the draft."""
        self._check(tenant_id, draft)
        planned = self.plan_put(tenant_id, draft)
        rule, _result = self._store.put(tenant_id, draft)
        if planned.result == "created":
            written = draft.model_dump(mode="json", by_alias=True, exclude_defaults=True)
            self._auditor.record(tenant_id, "created", "rule", draft.name, written_attributes(written))
        elif planned.result == "updated":
            self._auditor.record(tenant_id, "updated", "rule", draft.name, planned.changed)
        return rule
