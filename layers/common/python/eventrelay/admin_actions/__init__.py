"""Admin operations on connectors and actions that sit above those packages.

Public API:
- "test action": `ActionTester(actions, connectors, caller).run(tenant_id, action, values)
  -> ActionTestReport` (`ActionTester.from_settings(settings)`), `sample_values`, errors
  `ActionTestError`, `MissingFieldValues`, `UnknownFields`.
- `curl_command(request, max_time_seconds=None) -> str`.
- views: `connector_view`, `credentials_view`, `action_view`, `connector_spec`, `spec_changes`.
"""

from eventrelay.admin_actions.curl import curl_command
from eventrelay.admin_actions.trial import (
    ActionTester,
    ActionTestError,
    ActionTestReport,
    MissingFieldValues,
    SampleValue,
    UnknownFields,
    sample_values,
)
from eventrelay.admin_actions.views import (
    action_view,
    connector_spec,
    connector_view,
    credentials_view,
    spec_changes,
)

__all__ = [
    "ActionTestError",
    "ActionTestReport",
    "ActionTester",
    "MissingFieldValues",
    "SampleValue",
    "UnknownFields",
    "action_view",
    "connector_spec",
    "connector_view",
    "credentials_view",
    "curl_command",
    "sample_values",
    "spec_changes",
]
