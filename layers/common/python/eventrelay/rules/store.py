"""Rules in the config table: `pk = "TENANT#<tenantId>"`, `sk = "RULE#<name>"`.

An item holds the whole validated rule as JSON (`definition`, camelCase) plus the attributes the
runner filters on (`eventName`, `eventVersion`, `enabled`, `action`) and `version`.
Writes are conditional: create refuses an existing name, update and delete a missing one, and
updates are optimistic on `version`. Saving (create, update, enable) checks the rule against its
action (`mappings.check_against_action`): a mapping that misses a field without a default is
refused naming the field. Disabling never needs the action (a broken rule can always be stopped).
"""

from __future__ import annotations

import builtins
import re
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol

from eventrelay.actions import Action, ActionNotFound
from eventrelay.actions.models import TENANT_ID_PATTERN
from eventrelay.dynamodb import ConditionFailed, Expression, Item, Table
from eventrelay.rules.errors import InvalidRule, RuleAlreadyExists, RuleConflict, RuleNotFound
from eventrelay.rules.mappings import check_against_action
from eventrelay.rules.models import Rule, RuleDraft, parse_rule_draft

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

SK_PREFIX = "RULE#"
KIND = "RULE"
MAX_DEFINITION_BYTES = 350_000
_UPDATE_ATTEMPTS = 3
_TENANT_ID = re.compile(TENANT_ID_PATTERN)

PutResult = Literal["created", "updated", "unchanged"]


class ActionLookup(Protocol):
    """What the store needs to check a rule: `ActionStore` fits."""

    def get(self, tenant_id: str, name: str) -> Action: ...


def rule_pk(tenant_id: str) -> str:
    return f"TENANT#{tenant_id}"


def rule_sk(name: str) -> str:
    return f"{SK_PREFIX}{name}"


def _key(tenant_id: str, name: str) -> dict[str, str]:
    return {"pk": rule_pk(tenant_id), "sk": rule_sk(name)}


class RuleStore:
    """Create, read, list, update, enable/disable and delete one tenant's rules.

    `actions` checks rules against their action on save; without it (the runner reads only) saving
    is refused, so no unchecked rule is ever written.
    """

    def __init__(
        self,
        table_name: str,
        dynamodb_client: DynamoDBClient,
        actions: ActionLookup | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._table = Table(table_name, dynamodb_client)
        self._actions = actions
        self._clock = clock

    # ---- writes

    def create(self, tenant_id: str, draft: RuleDraft | Mapping[str, Any]) -> Rule:
        """Save a new rule; RuleAlreadyExists if the name is taken, InvalidRule if it does not fit."""
        _check_tenant(tenant_id)
        parsed = parse_rule_draft(draft)
        self._check(tenant_id, parsed)
        now = self._now()
        rule = Rule(tenant_id=tenant_id, version=1, created_at=now, updated_at=now, **_fields(parsed))
        new = Expression()
        try:
            self._table.put(_item(rule), new.require(new.missing("pk")))
        except ConditionFailed:
            raise RuleAlreadyExists(rule.name) from None
        return rule

    def update(self, tenant_id: str, name: str, changes: Mapping[str, Any]) -> Rule:
        """Change some attributes (camelCase or snake_case keys); the rest stay as saved."""
        if "name" in changes and changes["name"] != name:
            raise InvalidRule(["name: a rule cannot be renamed; create a new one and delete this one"])

        def merged(previous: Rule) -> RuleDraft:
            current = previous.to_draft().model_dump(by_alias=True)
            for key, value in changes.items():
                current.pop(_snake_to_camel(key), None)
                current[key] = value
            return parse_rule_draft(current)

        return self._replace(tenant_id, name, merged, check=True)

    def put(self, tenant_id: str, draft: RuleDraft | Mapping[str, Any]) -> tuple[Rule, PutResult]:
        """Create or replace the whole rule (what `apply` does); says whether anything changed."""
        _check_tenant(tenant_id)
        parsed = parse_rule_draft(draft)
        try:
            previous = self.get(tenant_id, parsed.name)
        except RuleNotFound:
            try:
                return self.create(tenant_id, parsed), "created"
            except RuleAlreadyExists:
                previous = self.get(tenant_id, parsed.name)
        if previous.to_draft() == parsed:
            self._check(tenant_id, parsed)
            return previous, "unchanged"
        return self._replace(tenant_id, parsed.name, lambda _previous: parsed, check=True), "updated"

    def set_enabled(self, tenant_id: str, name: str, enabled: bool) -> Rule:
        """Enable (checked against the action again) or disable (always allowed) a rule."""
        return self._replace(
            tenant_id,
            name,
            lambda previous: previous.to_draft().model_copy(update={"enabled": enabled}),
            check=enabled,
        )

    def delete(self, tenant_id: str, name: str) -> None:
        _check_tenant(tenant_id)
        existing = Expression()
        try:
            self._table.delete(_key(tenant_id, name), existing.require(existing.exists("pk")))
        except ConditionFailed:
            raise RuleNotFound(name) from None

    # ---- reads

    def get(self, tenant_id: str, name: str) -> Rule:
        _check_tenant(tenant_id)
        item = self._table.get(_key(tenant_id, name), consistent=True)
        if item is None:
            raise RuleNotFound(name)
        return _rule(item)

    def list(
        self,
        tenant_id: str,
        *,
        event_name: str | None = None,
        event_version: str | None = None,
        action: str | None = None,
        enabled: bool | None = None,
    ) -> builtins.list[Rule]:
        """The tenant's rules sorted by name, optionally filtered."""
        _check_tenant(tenant_id)
        of_tenant = Expression()
        of_tenant.key(of_tenant.equals("pk", rule_pk(tenant_id)), of_tenant.begins_with("sk", SK_PREFIX))
        wanted = {
            "eventName": event_name,
            "eventVersion": event_version,
            "action": action,
            "enabled": enabled,
        }
        for attribute, value in wanted.items():
            if value is not None:
                of_tenant.filter(of_tenant.equals(attribute, value))
        return [_rule(item) for item in self._table.query(of_tenant, consistent=True)]

    def rules_for_event(self, tenant_id: str, event_name: str, event_version: str) -> builtins.list[Rule]:
        """The enabled rules of one event (what the runner evaluates), sorted by name."""
        return self.list(tenant_id, event_name=event_name, event_version=event_version, enabled=True)

    # ---- internals

    def _check(self, tenant_id: str, draft: RuleDraft) -> None:
        if self._actions is None:
            raise InvalidRule(["action: this store cannot check rules against actions (read-only)"])
        try:
            action = self._actions.get(tenant_id, draft.action)
        except ActionNotFound:
            raise InvalidRule([f"action: action '{draft.action}' not found for tenant {tenant_id}"]) from None
        problems = check_against_action(draft, action)
        if problems:
            raise InvalidRule(problems)

    def _replace(
        self, tenant_id: str, name: str, draft_for: Callable[[Rule], RuleDraft], *, check: bool
    ) -> Rule:
        _check_tenant(tenant_id)
        for _ in range(_UPDATE_ATTEMPTS):
            previous = self.get(tenant_id, name)
            draft = draft_for(previous)
            if check:
                self._check(tenant_id, draft)
            rule = Rule(
                tenant_id=tenant_id,
                version=previous.version + 1,
                created_at=previous.created_at,
                updated_at=self._now(),
                **_fields(draft),
            )
            as_read = Expression()
            try:
                self._table.put(_item(rule), as_read.require(as_read.equals("version", previous.version)))
            except ConditionFailed:
                continue  # changed or deleted meanwhile: read again (get raises if deleted)
            return rule
        raise RuleConflict(name)

    def _now(self) -> str:
        moment = datetime.fromtimestamp(self._clock(), tz=UTC)
        return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _fields(draft: RuleDraft) -> dict[str, Any]:
    return {name: getattr(draft, name) for name in RuleDraft.model_fields}


def _snake_to_camel(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(part.capitalize() for part in rest)


def _check_tenant(tenant_id: str) -> None:
    if not _TENANT_ID.fullmatch(tenant_id):
        raise InvalidRule(["tenantId: must be 1-64 letters, digits, '_', '.', '-', starting alphanumeric"])


def _item(rule: Rule) -> Item:
    definition = rule.model_dump_json(by_alias=True)
    if len(definition.encode("utf-8")) > MAX_DEFINITION_BYTES:
        raise InvalidRule([f"rule: the definition is larger than {MAX_DEFINITION_BYTES} bytes"])
    event = {"eventName": rule.event_name, "eventVersion": rule.event_version}
    return {
        **_key(rule.tenant_id, rule.name),
        "kind": KIND,
        "name": rule.name,
        # A dataset rule that names no event has no event attributes (no event selects it).
        **{attribute: value for attribute, value in event.items() if value is not None},
        "source": rule.source.type.value,
        "action": rule.action,
        "enabled": rule.enabled,
        "version": rule.version,
        "updatedAt": rule.updated_at,
        "definition": definition,
    }


def _rule(item: Item) -> Rule:
    return Rule.model_validate_json(item["definition"])
