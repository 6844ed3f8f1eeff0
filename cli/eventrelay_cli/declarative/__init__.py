"""`eventrelay apply`: one declarative file per tenant for registrations, connectors, actions, rules.

Public API:
- `load_config(text, environ, *, tenant_id=None, source="config", parse_rule=None) -> DesiredConfig`
  (ConfigError lists every problem with its location; secrets resolved from `environ`).
- `ConfigApplier(...).apply(config, dry_run=False) -> ApplyReport` (`ConfigApplier.from_settings`),
  `Change`, `describe(change, dry_run)`.
- rules hook: `rule_support(settings)`, `rule_parser()` (None when the rules package is absent).
"""

from eventrelay_cli.declarative.apply import ApplyReport, Change, ConfigApplier, RuleSupport, describe
from eventrelay_cli.declarative.config import (
    ConfigError,
    ConfigFile,
    DesiredConfig,
    DesiredConnector,
    load_config,
    parse_config_text,
)
from eventrelay_cli.declarative.rules_hook import rule_parser, rule_support

__all__ = [
    "ApplyReport",
    "Change",
    "ConfigApplier",
    "ConfigError",
    "ConfigFile",
    "DesiredConfig",
    "DesiredConnector",
    "RuleSupport",
    "describe",
    "load_config",
    "parse_config_text",
    "rule_parser",
    "rule_support",
]
