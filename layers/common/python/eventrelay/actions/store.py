"""Actions in the config table: `pk = "TENANT#<tenantId>"`, `sk = "ACTION#<name>"`.

An item holds the whole validated definition as JSON (`definition`, camelCase keys) plus a few
top-level attributes for reading and conditions (`name`, `connector`, `version`, `updatedAt`).
Actions hold no secrets (credentials belong to connectors, in Secrets Manager).
Writes are conditional: create refuses an existing name; update and delete refuse a missing one;
update is optimistic on `version`, so two admins editing at once cannot lose a change silently.
"""

from __future__ import annotations

import builtins
import re
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from eventrelay.actions.errors import (
    ActionAlreadyExists,
    ActionConflict,
    ActionNotFound,
    InvalidAction,
)
from eventrelay.actions.models import (
    TENANT_ID_PATTERN,
    Action,
    ActionDraft,
    ActionField,
    compile_action,
    parse_draft,
    validation_problems,
)
from eventrelay.dynamodb import ConditionFailed, Expression, Item, Table

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

SK_PREFIX = "ACTION#"
KIND = "ACTION"
# DynamoDB items are capped at 400 KB; leave room for the key and the other attributes.
MAX_DEFINITION_BYTES = 350_000
_UPDATE_ATTEMPTS = 3
_TENANT_ID = re.compile(TENANT_ID_PATTERN)


def action_pk(tenant_id: str) -> str:
    return f"TENANT#{tenant_id}"


def action_sk(name: str) -> str:
    return f"{SK_PREFIX}{name}"


def _key(tenant_id: str, name: str) -> dict[str, str]:
    return {"pk": action_pk(tenant_id), "sk": action_sk(name)}


class ActionStore:
    """Create, read, list, update and delete one tenant's actions."""

    def __init__(
        self,
        table_name: str,
        dynamodb_client: DynamoDBClient,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._table = Table(table_name, dynamodb_client)
        self._clock = clock

    def create(self, tenant_id: str, draft: ActionDraft | Mapping[str, Any]) -> Action:
        """Save a new action; ActionAlreadyExists if the name is taken, TemplateError/InvalidAction if bad."""
        _check_tenant(tenant_id)
        action = compile_action(tenant_id, parse_draft(draft), now=self._now())
        new = Expression()
        try:
            self._table.put(_item(action), new.require(new.missing("pk")))
        except ConditionFailed:
            raise ActionAlreadyExists(action.name) from None
        return action

    def get(self, tenant_id: str, name: str) -> Action:
        """The saved action; ActionNotFound if there is none."""
        _check_tenant(tenant_id)
        item = self._table.get(_key(tenant_id, name), consistent=True)
        if item is None:
            raise ActionNotFound(name)
        return _action(item)

    def list(self, tenant_id: str, *, connector: str | None = None) -> builtins.list[Action]:
        """The tenant's actions sorted by name, optionally only those of one connector."""
        _check_tenant(tenant_id)
        of_tenant = Expression()
        of_tenant.key(of_tenant.equals("pk", action_pk(tenant_id)), of_tenant.begins_with("sk", SK_PREFIX))
        actions = [_action(item) for item in self._table.query(of_tenant, consistent=True)]
        if connector is not None:
            actions = [action for action in actions if action.connector == connector]
        return actions

    def update(self, tenant_id: str, draft: ActionDraft | Mapping[str, Any]) -> Action:
        """Replace the definition of the action named by the draft.

        Fields that remain in the templates keep their type and default unless the draft lists them
        in `fields`; new fields are String without default; fields no longer used are dropped.
        """
        _check_tenant(tenant_id)
        parsed = parse_draft(draft)
        return self._replace(tenant_id, parsed.name, lambda previous: parsed)

    def update_fields(
        self, tenant_id: str, name: str, changes: Sequence[ActionField | Mapping[str, Any]]
    ) -> Action:
        """Set the type and default of some fields; the templates and other fields stay as they are."""
        _check_tenant(tenant_id)
        try:
            chosen = tuple(
                change if isinstance(change, ActionField) else ActionField.model_validate(change)
                for change in changes
            )
        except ValidationError as exc:
            raise InvalidAction(validation_problems(exc)) from None

        def with_changes(previous: Action) -> ActionDraft:
            return previous.to_draft().model_copy(update={"fields": chosen})

        return self._replace(tenant_id, name, with_changes)

    def delete(self, tenant_id: str, name: str) -> None:
        """Delete the action; ActionNotFound if there is none."""
        _check_tenant(tenant_id)
        existing = Expression()
        try:
            self._table.delete(_key(tenant_id, name), existing.require(existing.exists("pk")))
        except ConditionFailed:
            raise ActionNotFound(name) from None

    def _replace(self, tenant_id: str, name: str, draft_for: Callable[[Action], ActionDraft]) -> Action:
        for _ in range(_UPDATE_ATTEMPTS):
            previous = self.get(tenant_id, name)
            action = compile_action(tenant_id, draft_for(previous), previous=previous, now=self._now())
            as_read = Expression()
            try:
                self._table.put(_item(action), as_read.require(as_read.equals("version", previous.version)))
            except ConditionFailed:
                continue  # changed or deleted meanwhile: read again (get raises if deleted)
            return action
        raise ActionConflict(name)

    def _now(self) -> str:
        moment = datetime.fromtimestamp(self._clock(), tz=UTC)
        return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _check_tenant(tenant_id: str) -> None:
    if not _TENANT_ID.fullmatch(tenant_id):
        raise InvalidAction(["tenantId: must be 1-64 letters, digits, '_', '.', '-', starting alphanumeric"])


def _item(action: Action) -> Item:
    definition = action.model_dump_json(by_alias=True)
    if len(definition.encode("utf-8")) > MAX_DEFINITION_BYTES:
        raise InvalidAction([f"action: the definition is larger than {MAX_DEFINITION_BYTES} bytes"])
    return {
        **_key(action.tenant_id, action.name),
        "kind": KIND,
        "name": action.name,
        "connector": action.connector,
        "version": action.version,
        "updatedAt": action.updated_at,
        "definition": definition,
    }


def _action(item: Item) -> Action:
    return Action.model_validate_json(item["definition"])
