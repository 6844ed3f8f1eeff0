"""Make one tenant's stored configuration match a `DesiredConfig`, idempotently.

`ConfigApplier.apply` first plans: through the admin service it reads what is stored, works out
for every item of the file whether it must be created, updated (and which attributes change) or
is unchanged, and has the service check references (an action's connector, a rule's action and
its mapping) against the file and the store. Any problem stops it before the first write. Then,
unless it is a dry run, it writes only what changes, through the service, in dependency order:
event registrations, connectors, actions, rules. A second
run of the same file therefore writes nothing and reports every item unchanged.

The file is authoritative for what it declares: an action's fields take the types and defaults
the file gives (String without default for fields it does not list), a connector's credentials
are the ones its environment variables hold. Items the file does not mention are left alone
(`apply` never deletes).

A URL-based connector's secret URL is compared by the fingerprint its redacted form carries (the
store keeps only that form), so the same URL is unchanged and another one is `updated (baseUrl)`.
A connector stored before URLs were kept secret still holds its real URL in the config table:
it is updated (which moves the URL to Secrets Manager) even when the file asks for the same URL.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from eventrelay.actions import Action, ActionDraft
from eventrelay.admin import AdminService, ConnectorView, PlannedChange
from eventrelay.connectors.models import HealthState
from eventrelay.registrations import Registration
from eventrelay.rules import RuleDraft
from eventrelay_cli.declarative.config import ConfigError, DesiredConfig, DesiredConnector

Kind = Literal["event", "connector", "action", "rule"]
Result = Literal["created", "updated", "unchanged"]


@dataclass(frozen=True)
class Change:
    """One item of the file and what applying it does (attribute names only, never values)."""

    kind: Kind
    name: str
    result: Result
    changed: tuple[str, ...] = ()
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        view: dict[str, Any] = {"kind": self.kind, "name": self.name, "result": self.result}
        if self.changed:
            view["changed"] = list(self.changed)
        if self.note:
            view["note"] = self.note
        return view


@dataclass(frozen=True)
class ApplyReport:
    tenant_id: str
    dry_run: bool
    changes: list[Change] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return any(change.result != "unchanged" for change in self.changes)

    def summary(self) -> dict[str, int]:
        counts = Counter(change.result for change in self.changes)
        return {result: counts.get(result, 0) for result in ("created", "updated", "unchanged")}

    def to_dict(self) -> dict[str, Any]:
        return {
            "tenantId": self.tenant_id,
            "dryRun": self.dry_run,
            "changes": [change.to_dict() for change in self.changes],
            "summary": self.summary(),
        }


@dataclass
class _Planned:
    change: Change
    write: Callable[[], object] | None = None  # None when unchanged


def _change(kind: Kind, name: str, planned: PlannedChange, note: str | None = None) -> Change:
    return Change(kind, name, planned.result, planned.changed, note or planned.note)


class ConfigApplier:
    """Applies a `DesiredConfig` through the admin service (the only thing it calls)."""

    def __init__(self, admin: AdminService) -> None:
        self._admin = admin

    def apply(self, config: DesiredConfig, *, dry_run: bool = False) -> ApplyReport:
        """Plan, check, and (unless `dry_run`) write what changes.

        Raises TenantNotFound, ConfigError (a reference or mapping that does not hold; nothing
        was written) or the service's errors if AWS fails midway (what was written stays written;
        running the file again completes it).
        """
        tenant = config.tenant_id
        self._admin.tenants.show(tenant)
        problems: list[str] = []
        events = [self._plan_event(tenant, registration) for registration in config.events]
        connectors = [self._plan_connector(tenant, desired) for desired in config.connectors]
        declared_connectors = {desired.spec.name for desired in config.connectors}
        planned_actions: dict[str, Action] = {}
        actions = [
            self._plan_action(tenant, draft, declared_connectors, planned_actions, problems)
            for draft in config.actions
        ]
        rules = [self._plan_rule(tenant, rule, planned_actions, problems) for rule in config.rules]
        if problems:
            raise ConfigError(problems)
        plans = [*events, *connectors, *actions, *rules]
        if not dry_run:
            for plan in plans:
                if plan.write is not None:
                    plan.write()
        return ApplyReport(tenant, dry_run, [plan.change for plan in plans])

    # ---- planning (reads only)

    def _plan_event(self, tenant: str, desired: Registration) -> _Planned:
        name = f"{desired.event_name}/{desired.event_version}"
        planned, registration = self._admin.events.plan_put(tenant, desired)
        if registration is None:
            return _Planned(_change("event", name, planned))
        return _Planned(_change("event", name, planned), lambda: self._admin.events.put(tenant, registration))

    def _plan_connector(self, tenant: str, desired: DesiredConnector) -> _Planned:
        name = desired.spec.name
        planned, existing = self._admin.connectors.plan_put(tenant, desired.spec, desired.credentials)
        if planned.result == "unchanged":
            assert existing is not None
            return _Planned(_change("connector", name, planned, _health_note(tenant, existing)))
        note = (
            _pending_note(tenant, name) if existing is None and desired.spec.uses_authorization_code else None
        )
        return _Planned(
            _change("connector", name, planned, note),
            lambda: self._admin.connectors.put(tenant, desired.spec, desired.credentials),
        )

    def _plan_action(
        self,
        tenant: str,
        draft: ActionDraft,
        declared_connectors: set[str],
        planned_actions: dict[str, Action],
        problems: list[str],
    ) -> _Planned:
        plan = self._admin.actions.plan_put(tenant, draft, declared_connectors)
        if plan.missing_connector is not None:
            problems.append(
                f"actions ({draft.name}).connector: connector '{plan.missing_connector}' is neither in the "
                "file nor stored for this tenant"
            )
        planned_actions[plan.target.name] = plan.target
        change = _change("action", draft.name, plan.change)
        if plan.change.result == "unchanged":
            return _Planned(change)
        return _Planned(change, lambda: self._admin.actions.put(tenant, plan.draft))

    def _plan_rule(
        self, tenant: str, rule: RuleDraft, planned_actions: Mapping[str, Action], problems: list[str]
    ) -> _Planned:
        name = str(rule.name)
        checked = self._admin.rules.check(tenant, rule, planned_actions)
        if checked.missing_action is not None:
            problems.append(
                f"rules ({name}).action: action '{rule.action}' is neither in the file nor stored "
                "for this tenant"
            )
        problems += [f"rules ({name}).{problem}" for problem in checked.problems]
        planned = self._admin.rules.plan_put(tenant, rule)
        change = _change("rule", name, planned)
        if planned.result == "unchanged":
            return _Planned(change)
        return _Planned(change, lambda: self._admin.rules.put(tenant, rule))


def _pending_note(tenant: str, name: str) -> str:
    return f"authorize it: eventrelay connector authorize {tenant} {name}"


def _health_note(tenant: str, connector: ConnectorView) -> str | None:
    if connector.health.state is HealthState.PENDING_AUTHORIZATION:
        return _pending_note(tenant, connector.name)
    if connector.health.state is HealthState.DEAUTHORIZED:
        return f"deauthorized ({connector.health.reason or 'no reason recorded'})"
    return None


def describe(change: Change, dry_run: bool) -> str:
    """One line for people: `connector jira: updated (baseUrl, credentials)`."""
    verb: str = change.result
    if dry_run and change.result != "unchanged":
        verb = {"created": "would create", "updated": "would update"}[change.result]
    line = f"{change.kind} {change.name}: {verb}"
    if change.changed:
        line += f" ({', '.join(change.changed)})"
    if change.note:
        line += f" - {change.note}"
    return line


__all__: Sequence[str] = ["ApplyReport", "Change", "ConfigApplier", "describe"]
