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

from botocore.exceptions import ClientError
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

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

    from eventrelay.settings import Settings

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


class ActionStore:
    """Create, read, list, update and delete one tenant's actions."""

    def __init__(
        self,
        table_name: str,
        dynamodb_client: DynamoDBClient,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._table = table_name
        self._client = dynamodb_client
        self._clock = clock

    @classmethod
    def from_settings(cls, settings: Settings) -> ActionStore:
        from eventrelay.aws import dynamodb_client

        return cls(settings.config_table, dynamodb_client(settings.region))

    def create(self, tenant_id: str, draft: ActionDraft | Mapping[str, Any]) -> Action:
        """Save a new action; ActionAlreadyExists if the name is taken, TemplateError/InvalidAction if bad."""
        _check_tenant(tenant_id)
        action = compile_action(tenant_id, parse_draft(draft), now=self._now())
        try:
            self._client.put_item(
                TableName=self._table,
                Item=_item(action),
                ConditionExpression="attribute_not_exists(#pk)",
                ExpressionAttributeNames={"#pk": "pk"},
            )
        except ClientError as exc:
            if _conditional_failed(exc):
                raise ActionAlreadyExists(action.name) from None
            raise
        return action

    def get(self, tenant_id: str, name: str) -> Action:
        """The saved action; ActionNotFound if there is none."""
        _check_tenant(tenant_id)
        response = self._client.get_item(
            TableName=self._table,
            Key={"pk": {"S": action_pk(tenant_id)}, "sk": {"S": action_sk(name)}},
            ConsistentRead=True,
        )
        item = response.get("Item")
        if item is None:
            raise ActionNotFound(name)
        return _action(item)

    def list(self, tenant_id: str, *, connector: str | None = None) -> builtins.list[Action]:
        """The tenant's actions sorted by name, optionally only those of one connector."""
        _check_tenant(tenant_id)
        actions: builtins.list[Action] = []
        query: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "#pk = :pk AND begins_with(#sk, :prefix)",
            "ExpressionAttributeNames": {"#pk": "pk", "#sk": "sk"},
            "ExpressionAttributeValues": {":pk": {"S": action_pk(tenant_id)}, ":prefix": {"S": SK_PREFIX}},
            "ConsistentRead": True,
        }
        while True:
            response = self._client.query(**query)
            actions.extend(_action(item) for item in response.get("Items", []))
            last = response.get("LastEvaluatedKey")
            if not last:
                break
            query["ExclusiveStartKey"] = last
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
        try:
            self._client.delete_item(
                TableName=self._table,
                Key={"pk": {"S": action_pk(tenant_id)}, "sk": {"S": action_sk(name)}},
                ConditionExpression="attribute_exists(#pk)",
                ExpressionAttributeNames={"#pk": "pk"},
            )
        except ClientError as exc:
            if _conditional_failed(exc):
                raise ActionNotFound(name) from None
            raise

    def _replace(self, tenant_id: str, name: str, draft_for: Callable[[Action], ActionDraft]) -> Action:
        for _ in range(_UPDATE_ATTEMPTS):
            previous = self.get(tenant_id, name)
            action = compile_action(tenant_id, draft_for(previous), previous=previous, now=self._now())
            try:
                self._client.put_item(
                    TableName=self._table,
                    Item=_item(action),
                    ConditionExpression="#version = :expected",
                    ExpressionAttributeNames={"#version": "version"},
                    ExpressionAttributeValues={":expected": {"N": str(previous.version)}},
                )
            except ClientError as exc:
                if _conditional_failed(exc):
                    continue  # changed or deleted meanwhile: read again (get raises if deleted)
                raise
            return action
        raise ActionConflict(name)

    def _now(self) -> str:
        moment = datetime.fromtimestamp(self._clock(), tz=UTC)
        return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _check_tenant(tenant_id: str) -> None:
    if not _TENANT_ID.fullmatch(tenant_id):
        raise InvalidAction(["tenantId: must be 1-64 letters, digits, '_', '.', '-', starting alphanumeric"])


def _item(action: Action) -> dict[str, AttributeValueTypeDef]:
    definition = action.model_dump_json(by_alias=True)
    if len(definition.encode("utf-8")) > MAX_DEFINITION_BYTES:
        raise InvalidAction([f"action: the definition is larger than {MAX_DEFINITION_BYTES} bytes"])
    return {
        "pk": {"S": action_pk(action.tenant_id)},
        "sk": {"S": action_sk(action.name)},
        "kind": {"S": KIND},
        "name": {"S": action.name},
        "connector": {"S": action.connector},
        "version": {"N": str(action.version)},
        "updatedAt": {"S": action.updated_at},
        "definition": {"S": definition},
    }


def _action(item: Mapping[str, Any]) -> Action:
    return Action.model_validate_json(item["definition"]["S"])


def _conditional_failed(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"
