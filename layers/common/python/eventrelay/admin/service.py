"""The admin service: one object per admin process, one area service per resource.

Every method takes the tenant id explicitly (the admin HTTP API passes the one from its token);
another tenant's resource answers as not found. Methods take plain typed inputs, return typed
views, never print and never read the environment. Refusals are `eventrelay.errors` admin errors
(ResourceNotFound, ResourceExists, ResourceInUse, ResourceConflict, InvalidResource) or area
subclasses of them; an AWS failure is DependencyFailure.
"""

from __future__ import annotations

from eventrelay.actions import ActionStore
from eventrelay.admin.action_test import ActionTester
from eventrelay.admin.actions import ActionAdmin
from eventrelay.admin.connectors import ConnectorAdmin
from eventrelay.admin.deliveries import DeliveryAdmin
from eventrelay.admin.rules import RuleAdmin
from eventrelay.admin.tenants import RegistrationAdmin, TenantAdmin
from eventrelay.clock import Clock, system_clock
from eventrelay.connectors.authorization import OAuthAuthorizer
from eventrelay.connectors.caller import ConnectorCaller
from eventrelay.connectors.store import ConnectorStore
from eventrelay.delivery.replay import ReplayService
from eventrelay.delivery.store import DeliveryStore
from eventrelay.ratelimit import FixedWindowRateLimiter
from eventrelay.registrations import RegistrationStore
from eventrelay.rules import RuleStore
from eventrelay.tenants import TenantSecretStore, TenantStore


class AdminService:
    """`tenants`, `events` (registrations), `connectors`, `actions`, `rules`, `deliveries`."""

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
        clock: Clock = system_clock,
    ) -> None:
        self.tenants = TenantAdmin(tenants, tenant_secrets, limiter, clock)
        self.events = RegistrationAdmin(self.tenants, registrations)
        self.connectors = ConnectorAdmin(self.tenants, connectors, actions, caller, authorizer)
        self.actions = ActionAdmin(self.tenants, actions, connectors, rules, tester)
        self.rules = RuleAdmin(self.tenants, rules, actions)
        self.deliveries = DeliveryAdmin(deliveries, replay)
