"""Rules: which event triggers which action, under which condition, with which field values.

Public API:
- models: `Rule`, `RuleDraft`, `PathSource`, `ConstantSource`, `parse_rule_draft`.
- conditions: `parse_condition`, `parse_condition_text`, `evaluate`, `condition_to_dict`, `describe`.
- paths: `parse_path`, `PayloadPath`.
- mappings: `check_against_action`, `field_values`, `render_request`.
- storage: `RuleStore(table_name, dynamodb_client, actions=None)`.
- errors: `InvalidRule`, `RuleNotFound`, `RuleAlreadyExists`, `RuleConflict`, `MappingError`, all `RuleError`;
  `ConditionError`, `PathError` (ValueErrors raised by the parsers).
"""

from eventrelay.rules.conditions import (
    Condition,
    ConditionError,
    condition_to_dict,
    describe,
    evaluate,
    parse_condition,
    parse_condition_text,
)
from eventrelay.rules.errors import (
    InvalidRule,
    MappingError,
    RuleAlreadyExists,
    RuleConflict,
    RuleError,
    RuleNotFound,
)
from eventrelay.rules.mappings import check_against_action, field_values, render_request
from eventrelay.rules.models import ConstantSource, PathSource, Rule, RuleDraft, parse_rule_draft
from eventrelay.rules.paths import PathError, PayloadPath, parse_path
from eventrelay.rules.store import RuleStore

__all__ = [
    "Condition",
    "ConditionError",
    "ConstantSource",
    "InvalidRule",
    "MappingError",
    "PathError",
    "PathSource",
    "PayloadPath",
    "Rule",
    "RuleAlreadyExists",
    "RuleConflict",
    "RuleDraft",
    "RuleError",
    "RuleNotFound",
    "RuleStore",
    "check_against_action",
    "condition_to_dict",
    "describe",
    "evaluate",
    "field_values",
    "parse_condition",
    "parse_condition_text",
    "parse_path",
    "parse_rule_draft",
    "render_request",
]
