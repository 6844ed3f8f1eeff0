"""`eventrelay apply`: one declarative file per tenant for registrations, connectors, actions, rules.

Public API:
- `load_config(text, environ, *, tenant_id=None, source="config", parse_rule=None) -> DesiredConfig`
  (ConfigError lists every problem with its location; secrets resolved from `environ`; pass
  `eventrelay.rules.parse_rule_draft` as `parse_rule` to accept a `rules:` section).
- `ConfigApplier(admin_service).apply(config, dry_run=False) -> ApplyReport`, `Change`,
  `describe(change, dry_run)`: every read and write goes through `eventrelay.admin.AdminService`.
"""

from eventrelay_cli.declarative.apply import (
    ApplyReport,
    Change,
    ConfigApplier,
    describe,
)
from eventrelay_cli.declarative.config import (
    ConfigError,
    ConfigFile,
    DesiredConfig,
    DesiredConnector,
    load_config,
    parse_config_text,
)

__all__ = [
    "ApplyReport",
    "Change",
    "ConfigApplier",
    "ConfigError",
    "ConfigFile",
    "DesiredConfig",
    "DesiredConnector",
    "describe",
    "load_config",
    "parse_config_text",
]
