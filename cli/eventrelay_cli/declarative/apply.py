"""Make one tenant's stored configuration match a `DesiredConfig`, idempotently.

`ConfigApplier.apply` first plans: it reads what is stored, works out for every item of the file
whether it must be created, updated (and which attributes change) or is unchanged, and checks
references (an action's connector, a rule's action and its mapping) against the file and the
store. Any problem stops it before the first write. Then, unless it is a dry run, it writes only
what changes, in dependency order: event registrations, connectors, actions, rules. A second
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

import hmac
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

from eventrelay.actions import (
    Action,
    ActionDraft,
    ActionField,
    ActionNotFound,
    ActionStore,
    compile_action,
)
from eventrelay.admin_actions.views import connector_spec, spec_changes
from eventrelay.connectors.errors import ConnectorNotFound
from eventrelay.connectors.models import AuthType, Connector, Credentials, HealthState
from eventrelay.connectors.store import ConnectorStore
from eventrelay.registrations import Registration, RegistrationStore
from eventrelay.tenants import TenantNotFound, TenantStore
from eventrelay_cli.declarative.config import ConfigError, DesiredConfig, DesiredConnector

if TYPE_CHECKING:
    from eventrelay.settings import Settings

Kind = Literal["event", "connector", "action", "rule"]
Result = Literal["created", "updated", "unchanged"]


class RuleStoreLike(Protocol):
    """What apply needs of the rules package's store (`eventrelay.rules.RuleStore` fits)."""

    def get(self, tenant_id: str, name: str) -> Any: ...

    def put(self, tenant_id: str, draft: Any) -> tuple[Any, str]: ...


class RuleSupport(Protocol):
    """The rules package as apply uses it: a store, a not-found error and the mapping check."""

    @property
    def store(self) -> RuleStoreLike: ...

    @property
    def not_found(self) -> type[Exception]: ...

    def check(self, rule: Any, action: Action) -> list[str]: ...


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
    write: Any = None  # what to write (None when unchanged)
    existing: Any = None


class ConfigApplier:
    def __init__(
        self,
        *,
        tenants: TenantStore,
        registrations: RegistrationStore,
        connectors: ConnectorStore,
        actions: ActionStore,
        rules: RuleSupport | None = None,
    ) -> None:
        self._tenants = tenants
        self._registrations = registrations
        self._connectors = connectors
        self._actions = actions
        self._rules = rules

    @classmethod
    def from_settings(cls, settings: Settings, rules: RuleSupport | None = None) -> ConfigApplier:
        from eventrelay.aws import dynamodb_client
        from eventrelay.connectors.wiring import build_connector_services

        dynamodb = dynamodb_client(settings.region)
        return cls(
            tenants=TenantStore(settings.config_table, dynamodb),
            registrations=RegistrationStore(settings.config_table, dynamodb, cache_seconds=0),
            connectors=build_connector_services(settings).store,
            actions=ActionStore(settings.config_table, dynamodb),
            rules=rules,
        )

    def apply(self, config: DesiredConfig, *, dry_run: bool = False) -> ApplyReport:
        """Plan, check, and (unless `dry_run`) write what changes.

        Raises TenantNotFound, ConfigError (a reference or mapping that does not hold; nothing
        was written) or the stores' errors if AWS fails midway (what was written stays written;
        running the file again completes it).
        """
        tenant = config.tenant_id
        if self._tenants.get(tenant) is None:
            raise TenantNotFound(tenant)
        problems: list[str] = []
        events = [self._plan_event(tenant, registration) for registration in config.events]
        connectors = [self._plan_connector(tenant, desired) for desired in config.connectors]
        declared_connectors = {desired.spec.name for desired in config.connectors}
        actions = [
            self._plan_action(tenant, draft, declared_connectors, problems) for draft in config.actions
        ]
        planned_actions: dict[str, Action] = {plan.write_action.name: plan.write_action for plan in actions}
        rules = [self._plan_rule(tenant, rule, planned_actions, problems) for rule in config.rules]
        if problems:
            raise ConfigError(problems)
        plans: list[_Planned] = [*events, *connectors, *[a.planned for a in actions], *rules]
        if not dry_run:
            for plan in plans:
                if plan.change.result != "unchanged":
                    self._write(tenant, plan)
        return ApplyReport(tenant, dry_run, [plan.change for plan in plans])

    # ---- planning (reads only)

    def _plan_event(self, tenant: str, desired: Registration) -> _Planned:
        name = f"{desired.event_name}/{desired.event_version}"
        desired = desired.model_copy(update={"tenant_id": tenant})
        existing = self._registrations.get(tenant, desired.event_name, desired.event_version)
        if existing is None:
            return _Planned(Change("event", name, "created"), desired)
        changed = [
            label
            for label, attribute in (
                ("kind", "kind"),
                ("schema", "json_schema"),
                ("description", "description"),
            )
            if getattr(existing, attribute) != getattr(desired, attribute)
        ]
        if not changed:
            return _Planned(Change("event", name, "unchanged"))
        keep_created = desired.model_copy(update={"created_at": existing.created_at})
        return _Planned(Change("event", name, "updated", tuple(changed)), keep_created, existing)

    def _plan_connector(self, tenant: str, desired: DesiredConnector) -> _Planned:
        name = desired.spec.name
        try:
            existing = self._connectors.get(tenant, name)
        except ConnectorNotFound:
            note = _pending_note(tenant, name) if desired.spec.uses_authorization_code else None
            return _Planned(Change("connector", name, "created", note=note), desired)
        changed = spec_changes(connector_spec(existing), desired.spec)
        stored = self._connectors.load_credentials(existing) if existing.secret_id else None
        if not _same_configured(stored, desired.credentials):
            changed.append("credentials")
        legacy = _secret_urls_in_item(existing) if desired.spec.auth_type is AuthType.NONE else []
        changed += [label for label in legacy if label not in changed]
        if not changed:
            return _Planned(Change("connector", name, "unchanged", note=_health_note(tenant, existing)))
        note = "the config table held its secret URL in the clear" if legacy else None
        return _Planned(Change("connector", name, "updated", tuple(changed), note), desired, existing)

    def _plan_action(
        self, tenant: str, draft: ActionDraft, declared_connectors: set[str], problems: list[str]
    ) -> _PlannedAction:
        if draft.connector not in declared_connectors:
            try:
                self._connectors.get(tenant, draft.connector)
            except ConnectorNotFound:
                problems.append(
                    f"actions ({draft.name}).connector: connector '{draft.connector}' is neither in the "
                    "file nor stored for this tenant"
                )
        complete = _with_every_field(draft)
        try:
            existing: Action | None = self._actions.get(tenant, draft.name)
        except ActionNotFound:
            existing = None
        target = compile_action(tenant, complete, previous=existing)
        if existing is None:
            return _PlannedAction(_Planned(Change("action", draft.name, "created"), complete), target)
        before = existing.to_draft().model_dump(mode="json", by_alias=True)
        after = complete.model_dump(mode="json", by_alias=True)
        changed = tuple(key for key in after if before.get(key) != after[key])
        if not changed:
            return _PlannedAction(_Planned(Change("action", draft.name, "unchanged")), existing)
        return _PlannedAction(
            _Planned(Change("action", draft.name, "updated", changed), complete, existing), target
        )

    def _plan_rule(
        self, tenant: str, rule: Any, planned_actions: dict[str, Action], problems: list[str]
    ) -> _Planned:
        support = self._rules
        if support is None:  # load_config refuses rules without rule support; stay safe
            raise ConfigError(["rules: this version of eventrelay cannot apply rules"])
        name = str(rule.name)
        action = planned_actions.get(rule.action)
        if action is None:
            try:
                action = self._actions.get(tenant, rule.action)
            except ActionNotFound:
                problems.append(
                    f"rules ({name}).action: action '{rule.action}' is neither in the file nor stored "
                    "for this tenant"
                )
        if action is not None:
            problems += [f"rules ({name}).{problem}" for problem in support.check(rule, action)]
        try:
            existing = support.store.get(tenant, name)
        except support.not_found:
            return _Planned(Change("rule", name, "created"), rule)
        before = existing.to_draft().model_dump(mode="json", by_alias=True)
        after = rule.model_dump(mode="json", by_alias=True)
        changed = tuple(key for key in after if before.get(key) != after[key])
        if not changed:
            return _Planned(Change("rule", name, "unchanged"))
        return _Planned(Change("rule", name, "updated", changed), rule, existing)

    # ---- writing

    def _write(self, tenant: str, plan: _Planned) -> None:
        kind = plan.change.kind
        if kind == "event":
            self._registrations.put(plan.write)
        elif kind == "connector":
            desired: DesiredConnector = plan.write
            if plan.existing is None:
                self._connectors.create(tenant, desired.spec, desired.credentials)
            else:
                self._connectors.update(tenant, desired.spec, desired.credentials)
        elif kind == "action":
            if plan.existing is None:
                self._actions.create(tenant, plan.write)
            else:
                self._actions.update(tenant, plan.write)
        elif kind == "rule" and self._rules is not None:
            self._rules.store.put(tenant, plan.write)


@dataclass
class _PlannedAction:
    planned: _Planned
    # The action as it will be stored (used to check the rules that map onto it).
    write_action: Action


def _with_every_field(draft: ActionDraft) -> ActionDraft:
    """The draft listing every template field: the file's choice, else String without default."""
    listed = {choice.name: choice for choice in draft.fields}
    names = draft.parse_templates().field_names
    return draft.model_copy(
        update={"fields": tuple(listed.get(name) or ActionField(name=name) for name in names)}
    )


def _secret_urls_in_item(existing: Connector) -> list[str]:
    """The URLs (`baseUrl`, `testUrl`) an item written before URLs were secret holds in the clear.

    Reading such an item redacts its URLs in memory (`ConnectorSpec`), so they compare equal to
    the file's; only the missing URL secret (`url_secret_id`) tells that the item holds them.
    """
    held = existing.secret_urls()
    if existing.auth_type is not AuthType.NONE or existing.url_secret_id is not None or held is None:
        return []
    return [
        label for label, url in (("baseUrl", held.base_url), ("testUrl", held.test_url)) if url is not None
    ]


def _same_configured(stored: Credentials | None, desired: Credentials | None) -> bool:
    """Whether the admin-configured credentials are the same (tokens obtained later do not count)."""
    if stored is None or desired is None:
        return stored is None and desired is None
    return hmac.compare_digest(
        stored.configured().to_secret_json().encode("utf-8"),
        desired.configured().to_secret_json().encode("utf-8"),
    )


def _pending_note(tenant: str, name: str) -> str:
    return f"authorize it: eventrelay connector authorize {tenant} {name}"


def _health_note(tenant: str, connector: Connector) -> str | None:
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


__all__: Sequence[str] = ["ApplyReport", "Change", "ConfigApplier", "RuleSupport", "describe"]
