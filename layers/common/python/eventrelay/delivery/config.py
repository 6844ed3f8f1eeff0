"""The configuration a batch of deliveries reads: rules, actions and connectors, read once per batch.

A Lambda batch of ten events of one kind needs the same rules, action and connector ten times;
a snapshot reads each once (thread-safe, for the batch's concurrent records). A change an admin
makes applies from the next batch on, so a retry or a replay always uses the configuration current
when its message is processed. A snapshot remembers only what it found: a missing item is read
again (and reported missing again) by the next lookup.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Protocol, TypeVar

from eventrelay.actions import Action
from eventrelay.connectors.models import Connector
from eventrelay.rules import Rule

_T = TypeVar("_T")


class RuleLookup(Protocol):
    def get(self, tenant_id: str, name: str) -> Rule: ...

    def rules_for_event(self, tenant_id: str, event_name: str, event_version: str) -> list[Rule]: ...


class ActionLookup(Protocol):
    def get(self, tenant_id: str, name: str) -> Action: ...


class ConnectorLookup(Protocol):
    def get(self, tenant_id: str, name: str) -> Connector: ...


class ConfigSnapshot:
    def __init__(self, rules: RuleLookup, actions: ActionLookup, connectors: ConnectorLookup) -> None:
        self._rules = rules
        self._actions = actions
        self._connectors = connectors
        self._found: dict[tuple[str, ...], object] = {}
        self._locks: dict[tuple[str, ...], threading.Lock] = {}
        self._guard = threading.Lock()

    def rules_for_event(self, tenant_id: str, event_name: str, event_version: str) -> list[Rule]:
        rules = self._once(
            ("event", tenant_id, event_name, event_version),
            lambda: self._rules.rules_for_event(tenant_id, event_name, event_version),
        )
        with self._guard:
            for rule in rules:
                self._found.setdefault(("rule", tenant_id, rule.name), rule)
        return rules

    def rule(self, tenant_id: str, name: str) -> Rule:
        return self._once(("rule", tenant_id, name), lambda: self._rules.get(tenant_id, name))

    def action(self, tenant_id: str, name: str) -> Action:
        return self._once(("action", tenant_id, name), lambda: self._actions.get(tenant_id, name))

    def connector(self, tenant_id: str, name: str) -> Connector:
        return self._once(("connector", tenant_id, name), lambda: self._connectors.get(tenant_id, name))

    def _once(self, key: tuple[str, ...], read: Callable[[], _T]) -> _T:
        with self._guard:
            if key in self._found:
                return self._found[key]  # type: ignore[return-value]
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:  # concurrent records wanting the same item wait for one read
            with self._guard:
                if key in self._found:
                    return self._found[key]  # type: ignore[return-value]
            value = read()
            with self._guard:
                self._found[key] = value
            return value
