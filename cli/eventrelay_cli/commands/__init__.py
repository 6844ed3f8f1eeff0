"""The top-level commands: name -> where the command lives and its one-line summary.

`eventrelay --help` lists these summaries without importing a single command module; a module is
imported when its command runs (or shows its own help).
"""

from __future__ import annotations

from eventrelay_cli.framework import LazyCommand

COMMANDS: dict[str, LazyCommand] = {
    "local": LazyCommand(
        "eventrelay_cli.commands.local:local",
        "run the local stack: embedded AWS, the HTTP API on 127.0.0.1 and the workers",
    ),
    "tenant": LazyCommand("eventrelay_cli.commands.tenants:tenant", "create, list and show tenants"),
    "secret": LazyCommand("eventrelay_cli.commands.tenants:secret", "rotate a tenant's shared secret"),
    "limits": LazyCommand("eventrelay_cli.commands.tenants:limits", "per-tenant rate limits"),
    "event": LazyCommand("eventrelay_cli.commands.events:event", "event registrations"),
    "publish": LazyCommand(
        "eventrelay_cli.commands.publishing:publish", "publish an event over HTTP, as a publisher would"
    ),
    "job": LazyCommand("eventrelay_cli.commands.publishing:job", "bulk jobs"),
    "connector": LazyCommand(
        "eventrelay_cli.commands.connectors:connector", "external APIs and how to authenticate to them"
    ),
    "action": LazyCommand(
        "eventrelay_cli.commands.actions:action", "templated requests to a connector and their fields"
    ),
    "apply": LazyCommand(
        "eventrelay_cli.commands.apply:apply",
        "create or update a tenant's registrations, connectors, actions and rules from a file",
    ),
    "rule": LazyCommand("eventrelay_cli.commands.rules:rule", "rules: which event triggers which action"),
    "delivery": LazyCommand(
        "eventrelay_cli.commands.deliveries:delivery", "deliveries of events to actions: list, show, replay"
    ),
    "dataset": LazyCommand(
        "eventrelay_cli.commands.datasets:dataset", "dataset runs: one action call per row of a file"
    ),
    "token": LazyCommand(
        "eventrelay_cli.commands.tokens:token", "mint an admin API token signed by the local stack's key"
    ),
    "login": LazyCommand(
        "eventrelay_cli.commands.login:login", "save a token for administering through an admin API (--api)"
    ),
    "audit": LazyCommand("eventrelay_cli.commands.audit:audit", "who changed what in a tenant, newest first"),
}
