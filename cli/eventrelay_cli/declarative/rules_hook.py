"""The hook between `apply` and the rules package: parse a rule entry, check it, store it.

Kept apart so `apply` itself does not depend on the rules package; `rule_support` returns None
when that package is not available, and a file with a `rules:` section is then refused.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from eventrelay.actions import Action, ActionStore

if TYPE_CHECKING:
    from eventrelay.rules import RuleStore
    from eventrelay.settings import Settings


@dataclass(frozen=True)
class RulesPackageSupport:
    """`declarative.apply.RuleSupport` backed by `eventrelay.rules`."""

    store: RuleStore
    not_found: type[Exception]

    def check(self, rule: Any, action: Action) -> list[str]:
        from eventrelay.rules import check_against_action

        return check_against_action(rule, action)


def rule_support(settings: Settings) -> RulesPackageSupport | None:
    try:
        from eventrelay.rules import RuleNotFound, RuleStore
    except ImportError:
        return None
    from eventrelay.aws import dynamodb_client

    dynamodb = dynamodb_client(settings.region)
    store = RuleStore(settings.config_table, dynamodb, actions=ActionStore(settings.config_table, dynamodb))
    return RulesPackageSupport(store=store, not_found=RuleNotFound)


def rule_parser() -> Callable[[Mapping[str, Any]], Any] | None:
    """Validates one `rules:` entry (raises InvalidRule listing problems), or None without rules."""
    try:
        from eventrelay.rules import parse_rule_draft
    except ImportError:
        return None
    return parse_rule_draft
