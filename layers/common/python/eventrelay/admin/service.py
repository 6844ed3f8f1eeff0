"""The admin service: one object per admin process, one area service per resource.

Every method takes the tenant id explicitly (the admin HTTP API passes the one from its token);
another tenant's resource answers as not found. Methods take plain typed inputs, return typed
views, never print and never read the environment. Refusals are `eventrelay.errors` admin errors
(ResourceNotFound, ResourceExists, ResourceInUse, ResourceConflict, InvalidResource) or area
subclasses of them; an AWS failure is DependencyFailure.

Every change appends an audit entry naming who made it: `acting_as(subject, request_id)` answers
a service for that actor (the same stores), so no method takes the actor as an argument.
"""

from __future__ import annotations

import copy

from eventrelay.actions import ActionStore
from eventrelay.admin.action_test import ActionTester
from eventrelay.admin.actions import ActionAdmin
from eventrelay.admin.audit import UNATTRIBUTED, Actor, AuditAdmin, Auditor
from eventrelay.admin.connectors import ConnectorAdmin
from eventrelay.admin.datasets import DatasetAdmin
from eventrelay.admin.deliveries import DeliveryAdmin
from eventrelay.admin.rules import RuleAdmin
from eventrelay.admin.tenants import RegistrationAdmin, TenantAdmin
from eventrelay.audit import AuditLog
from eventrelay.clock import Clock, system_clock
from eventrelay.connectors.authorization import OAuthAuthorizer
from eventrelay.connectors.caller import ConnectorCaller
from eventrelay.connectors.store import ConnectorStore
from eventrelay.datasets.store import RunStore
from eventrelay.datasets.uploads import DatasetUploads
from eventrelay.delivery.replay import ReplayService
from eventrelay.delivery.store import DeliveryStore
from eventrelay.ratelimit import FixedWindowRateLimiter
from eventrelay.registrations import RegistrationStore
from eventrelay.rules import RuleStore
from eventrelay.tenants import TenantSecretStore, TenantStore


class AdminService:
    """`tenants`, `events` (registrations), `connectors`, `actions`, `rules`, `deliveries`,
    `datasets` (dataset runs), `audit`."""

    def __init__(
        self,
        *,
        tenants: TenantStore,
        tenant_secrets: TenantSecretStore,
        registrations: RegistrationStore,
        limiter: FixedWindowRateLimiter,
        connectors: ConnectorStore,
        caller: ConnectorCaller,
        authorizer: OAuthAuthorizer,
        actions: ActionStore,
        rules: RuleStore,
        tester: ActionTester,
        deliveries: DeliveryStore | None,
        replay: ReplayService | None,
        audit_log: AuditLog,
        runs: RunStore | None = None,
        uploads: DatasetUploads | None = None,
        clock: Clock = system_clock,
        actor: Actor = UNATTRIBUTED,
    ) -> None:
        self._tenant_store = tenants
        self._tenant_secrets = tenant_secrets
        self._registrations = registrations
        self._limiter = limiter
        self._connector_store = connectors
        self._caller = caller
        self._authorizer = authorizer
        self._action_store = actions
        self._rule_store = rules
        self._tester = tester
        self._delivery_store = deliveries
        self._replay = replay
        self._audit_log = audit_log
        self._runs = runs
        self._uploads = uploads
        self._clock = clock
        self._act_as(actor)

    def acting_as(self, subject: str, request_id: str | None = None) -> AdminService:
        """This service (the same stores) with its changes recorded as made by `subject`."""
        acting = copy.copy(self)
        acting._act_as(Actor(subject, request_id))
        return acting

    def _act_as(self, actor: Actor) -> None:
        self.actor = actor
        auditor = Auditor(self._audit_log, actor)
        self.tenants = TenantAdmin(
            self._tenant_store, self._tenant_secrets, self._limiter, self._clock, auditor
        )
        self.events = RegistrationAdmin(self.tenants, self._registrations, auditor)
        self.connectors = ConnectorAdmin(
            self.tenants, self._connector_store, self._action_store, self._caller, self._authorizer, auditor
        )
        self.actions = ActionAdmin(
            self.tenants, self._action_store, self._connector_store, self._rule_store, self._tester, auditor
        )
        self.rules = RuleAdmin(self.tenants, self._rule_store, self._action_store, auditor)
        self.deliveries = DeliveryAdmin(self._delivery_store, self._replay, auditor)
        self.datasets = DatasetAdmin(self._runs, self._rule_store, self._uploads)
        self.audit = AuditAdmin(self.tenants, self._audit_log)
