"""The admin service: the one place admin operations and their integrity rules live.

The CLI, `eventrelay apply` and (next) the admin HTTP API call `AdminService` (built by
`eventrelay.roots.admin.build_admin_service(settings, clients)`); they parse input and render the
views, and never decide. Public API:

- `AdminService`: `.tenants` (TenantAdmin), `.events` (RegistrationAdmin), `.connectors`
  (ConnectorAdmin), `.actions` (ActionAdmin), `.rules` (RuleAdmin), `.deliveries` (DeliveryAdmin),
  `.audit` (AuditAdmin: the audit log every change appends to); `.acting_as(subject, request_id)`
  is the same service recording its changes as that `Actor`'s.
- inputs: `ConnectorChanges`, `CredentialChanges`, `connector_spec_from`, `FieldChange`,
  `DeliveryQuery`, `parse_limits`.
- views: `TenantWithSecret`, `ConnectorView`, `CredentialsView`, `DeliveryDetail`, `DeliveryPage`,
  `PlannedChange`, `ActionPlan`, `ActionTestReport`; dict helpers `connector_view`,
  `credentials_view`, `action_view`, `connector_spec`, `spec_changes`; `curl_command`.
- errors (all `eventrelay.errors` admin bases): `ConnectorInUse`, `ActionInUse` (ResourceInUse,
  `.users`), `InvalidConnector`, `InvalidRegistration`, `InvalidTenant`, `InvalidLimits`,
  `InvalidDeliveryQuery`, `DeliveriesNotDeployed` (InvalidResource), `RegistrationNotFound`,
  `DeliveryNotReplayable` (ResourceConflict), `ActionTestError`, `MissingFieldValues`,
  `UnknownFields` (InvalidResource).

Submodules import heavy parts (connectors, deliveries) only here, never from a function's path.
"""

from eventrelay.admin.action_test import (
    ActionTester,
    ActionTestError,
    ActionTestReport,
    MissingFieldValues,
    SampleValue,
    UnknownFields,
    sample_values,
)
from eventrelay.admin.actions import ActionAdmin, ActionPlan, FieldChange
from eventrelay.admin.audit import Actor, AuditAdmin
from eventrelay.admin.connectors import (
    ConnectorAdmin,
    ConnectorChanges,
    CredentialChanges,
    connector_spec_from,
    merged_credentials,
)
from eventrelay.admin.curl import curl_command
from eventrelay.admin.deliveries import DeliveryAdmin, DeliveryQuery
from eventrelay.admin.errors import (
    ActionInUse,
    ConnectorInUse,
    DeliveriesNotDeployed,
    DeliveryNotReplayable,
    InvalidConnector,
    InvalidDeliveryQuery,
    InvalidLimits,
    InvalidRegistration,
    InvalidTenant,
    RegistrationNotFound,
)
from eventrelay.admin.rules import RuleAdmin, RuleCheck
from eventrelay.admin.service import AdminService
from eventrelay.admin.tenants import RegistrationAdmin, TenantAdmin, parse_limits
from eventrelay.admin.views import (
    ConnectorView,
    CredentialsView,
    DeliveryDetail,
    DeliveryPage,
    PlannedChange,
    TenantWithSecret,
    action_view,
    connector_spec,
    connector_view,
    credentials_view,
    spec_changes,
)

__all__ = [
    "ActionAdmin",
    "ActionInUse",
    "ActionPlan",
    "ActionTestError",
    "ActionTestReport",
    "ActionTester",
    "Actor",
    "AdminService",
    "AuditAdmin",
    "ConnectorAdmin",
    "ConnectorChanges",
    "ConnectorInUse",
    "ConnectorView",
    "CredentialChanges",
    "CredentialsView",
    "DeliveriesNotDeployed",
    "DeliveryAdmin",
    "DeliveryDetail",
    "DeliveryNotReplayable",
    "DeliveryPage",
    "DeliveryQuery",
    "FieldChange",
    "InvalidConnector",
    "InvalidDeliveryQuery",
    "InvalidLimits",
    "InvalidRegistration",
    "InvalidTenant",
    "MissingFieldValues",
    "PlannedChange",
    "RegistrationAdmin",
    "RegistrationNotFound",
    "RuleAdmin",
    "RuleCheck",
    "SampleValue",
    "TenantAdmin",
    "TenantWithSecret",
    "UnknownFields",
    "action_view",
    "connector_spec",
    "connector_spec_from",
    "connector_view",
    "credentials_view",
    "curl_command",
    "merged_credentials",
    "parse_limits",
    "sample_values",
    "spec_changes",
]
