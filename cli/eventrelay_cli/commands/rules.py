"""`eventrelay rule create|list|show|update|delete|enable|disable`.

A rule is given with options and/or `--file rule.yaml` (the keys of a `rules:` entry of
`eventrelay apply`); options override the file:

\b
    eventrelay rule create acme big-orders --event OrderPlaced/v01 --action create-ticket \\
        --map ticketId='$.order.id' --map amount=total --set priority=high \\
        --where '$.total >= 100' --where '$.status in ["NEW","OPEN"]'

`--map FIELD=PATH` takes the field's value from a payload path (dotted `order.id` or `$.order.id`),
`--set FIELD=VALUE` gives it a constant (JSON if it reads as JSON: `3`, `true`, else text).
`--where` (repeatable, all must hold) is the one-line condition form; `--condition` takes JSON.
`--dataset` makes a dataset rule: it runs on the rows of a file (paths name columns, `$.column`)
and names no event, or with `--event` the System Asset Event whose file it runs on.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import click

from eventrelay_cli.exit_codes import EXIT_OK, EXIT_USAGE, CliError
from eventrelay_cli.framework import Group, pass_cli_context, with_options
from eventrelay_cli.inputs import json_or_text, pairs, read_structured_file

if TYPE_CHECKING:
    from eventrelay_cli.context import CliContext

# The attributes of a rule an admin writes (a view's others are bookkeeping).
DRAFT_ATTRIBUTES = (
    "name",
    "eventName",
    "eventVersion",
    "action",
    "condition",
    "mapping",
    "enabled",
    "description",
)


def _path(*segments: str) -> str:
    from eventrelay.admin_api.routing import admin_path

    return admin_path(*segments)


@dataclass(frozen=True)
class RuleOptions:
    """The options of `rule create` and `rule update` (None: not given)."""

    tenant_id: str
    name: str | None
    file: str | None
    event: str | None
    action: str | None
    map: tuple[str, ...]
    set: tuple[str, ...]
    where: tuple[str, ...]
    condition: str | None
    description: str | None
    enabled: bool | None
    unmap: tuple[str, ...] = ()
    no_condition: bool = False
    dataset: bool = False


def _event(text: str) -> tuple[str, str]:
    name, separator, version = text.rpartition("/")
    if not separator or not name or not version:
        raise CliError(f"--event expects NAME/VERSION such as OrderPlaced/v01, got {text!r}", EXIT_USAGE)
    return name, version


def _condition(options: RuleOptions) -> object:
    """The condition the options set: a dict, None (--no-condition), or _KEEP."""
    from eventrelay.rules import condition_to_dict, parse_condition_text

    given = [bool(options.where), options.condition is not None, options.no_condition]
    if sum(given) > 1:
        raise CliError("give one of --where, --condition, --no-condition", EXIT_USAGE)
    if options.where:
        comparisons = [condition_to_dict(parse_condition_text(text)) for text in options.where]
        return comparisons[0] if len(comparisons) == 1 else {"all": comparisons}
    if options.condition is not None:
        try:
            return json.loads(options.condition)
        except ValueError:
            raise CliError(
                '--condition expects JSON such as \'{"path": "$.total", ...}\'', EXIT_USAGE
            ) from None
    if options.no_condition:
        return None
    return _KEEP


_KEEP = object()


def _camel(key: str) -> str:
    """A file's `event_name` as the API names it (`eventName`); files may use either spelling."""
    if "_" not in key:
        return key
    head, *rest = key.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _draft_data(options: RuleOptions, current: dict[str, Any] | None) -> dict[str, Any]:
    """The rule's attributes: the current rule's (a view), then the file's, then the options'."""
    data: dict[str, Any] = {}
    if current is not None:
        data = {key: current[key] for key in DRAFT_ATTRIBUTES if key in current}
    if options.file:
        loaded = read_structured_file(options.file)
        if not isinstance(loaded, dict):
            raise CliError(f"{options.file}: expected a mapping of rule attributes", EXIT_USAGE)
        data.update({_camel(str(key)): value for key, value in loaded.items()})
    if options.name:
        data["name"] = options.name
    if options.dataset:
        data["source"] = {"type": "dataset"}
    if options.event:
        data["eventName"], data["eventVersion"] = _event(options.event)
    for key, value in (("action", options.action), ("description", options.description)):
        if value is not None:
            data[key] = value
    mapping = dict(data.get("mapping") or {})
    for field in options.unmap:
        mapping.pop(field, None)
    mapping.update({field: {"path": path} for field, path in pairs(options.map, "--map").items()})
    mapping.update({field: {"constant": json_or_text(v)} for field, v in pairs(options.set, "--set").items()})
    if mapping or "mapping" in data:
        data["mapping"] = mapping
    condition = _condition(options)
    if condition is not _KEEP:
        data["condition"] = condition
    if options.enabled is not None:
        data["enabled"] = options.enabled
    return data


def _trigger(view: dict[str, Any]) -> str:
    event = f"{view['eventName']}/{view['eventVersion']}" if view.get("eventName") else None
    if view.get("source", {}).get("type") == "dataset":
        return "dataset rows" + (f" (files named by {event})" if event else "")
    return str(event)


def _text(view: dict[str, Any]) -> str:
    lines = [
        f"rule {view['name']} ({'enabled' if view['enabled'] else 'disabled'}, version {view['version']})",
        f"  when    {_trigger(view)}" + (f" and {view['conditionText']}" if view["conditionText"] else ""),
        f"  action  {view['action']}",
    ]
    for field, source in view["mapping"].items():
        origin = (
            f"path {source['path']}" if "path" in source else f"constant {json.dumps(source['constant'])}"
        )
        lines.append(f"  map     {field} <- {origin}")
    if view["description"]:
        lines.append(f"  note    {view['description']}")
    return "\n".join(lines)


def _summary(verb: str) -> Callable[[dict[str, Any]], str]:
    return lambda view: f"{verb} " + _text(view).removeprefix("rule ")


def _definition_options(*, update: bool) -> Callable[[Callable[[CliContext, RuleOptions], int]], Any]:
    """The options of create/update, handed to the command as one RuleOptions."""
    options = [
        click.argument("tenant_id"),
        click.argument("name", required=update),
        click.option("--file", help="a YAML/JSON file with the rule's attributes"),
        click.option("--event", help="the triggering event as NAME/VERSION, e.g. OrderPlaced/v01"),
        *(
            []
            if update
            else [click.option("--dataset", is_flag=True, help="a dataset rule: runs on a file's rows")]
        ),
        click.option("--action", help="the action it performs"),
        click.option("--map", multiple=True, metavar="FIELD=PATH", help="a field from a payload path"),
        click.option("--set", multiple=True, metavar="FIELD=VALUE", help="a field set to a constant"),
        click.option(
            "--where",
            multiple=True,
            metavar="CONDITION",
            help="'PATH OP [VALUE]', e.g. '$.total >= 100' (repeat: all must hold)",
        ),
        click.option("--condition", metavar="JSON", help="the condition as JSON (all/any/not/path+op+value)"),
        click.option("--description"),
        click.option("--enabled/--disabled", default=None, help="whether events trigger it"),
        *(
            [
                click.option("--unmap", multiple=True, metavar="FIELD", help="remove a field's mapping"),
                click.option("--no-condition", is_flag=True, help="remove the condition"),
            ]
            if update
            else []
        ),
    ]

    return with_options(RuleOptions, options)


@click.group(cls=Group, help=__doc__)
def rule() -> None:
    pass


@rule.command("create")
@_definition_options(update=False)
def rule_create(context: CliContext, options: RuleOptions) -> int:
    """Create a rule (refused if its mapping misses a required field)."""
    data = _draft_data(options, None)
    required = ("name", "action") if options.dataset else ("name", "eventName", "action")
    missing = [key for key in required if not data.get(key)]
    if missing:
        raise CliError("missing " + ", ".join(missing) + " (options or --file)", EXIT_USAGE)
    created = context.call("POST", _path("tenants", options.tenant_id, "rules"), body=data)
    context.emit(created, _summary("created rule"))
    return EXIT_OK


@rule.command("update")
@_definition_options(update=True)
def rule_update(context: CliContext, options: RuleOptions) -> int:
    """Change some of a rule's attributes."""
    path = _path("tenants", options.tenant_id, "rules", str(options.name))
    # `--map`, `--unmap` change the current mapping: the options are laid over the current rule,
    # and only what differs from it is sent (the audit log names those attributes).
    current = context.call("GET", path)
    data = _draft_data(options, current)
    changes = {key: value for key, value in data.items() if current.get(key) != value}
    context.emit(context.call("PATCH", path, body=changes), _summary("updated rule"))
    return EXIT_OK


@rule.command("list")
@click.argument("tenant_id")
@click.option("--event", help="only rules of NAME/VERSION")
@click.option("--action", help="only rules performing this action")
@pass_cli_context
def rule_list(context: CliContext, tenant_id: str, event: str | None, action: str | None) -> int:
    """A tenant's rules."""
    query: dict[str, str] = {}
    if event:
        query["eventName"], query["eventVersion"] = _event(event)
    if action:
        query["action"] = action
    rows = context.call("GET", _path("tenants", tenant_id, "rules"), query=query)

    def table(views: list[dict[str, Any]]) -> str:
        return (
            "\n".join(
                f"{v['name']}\t{_trigger(v)}\t{v['action']}\t"
                f"{'enabled' if v['enabled'] else 'disabled'}\t{v['conditionText'] or '(always)'}"
                for v in views
            )
            or "(no rules)"
        )

    context.emit(rows, table)
    return EXIT_OK


@rule.command("show")
@click.argument("tenant_id")
@click.argument("name")
@pass_cli_context
def rule_show(context: CliContext, tenant_id: str, name: str) -> int:
    """One rule."""
    context.emit(context.call("GET", _path("tenants", tenant_id, "rules", name)), _text)
    return EXIT_OK


@rule.command("delete")
@click.argument("tenant_id")
@click.argument("name")
@pass_cli_context
def rule_delete(context: CliContext, tenant_id: str, name: str) -> int:
    """Delete a rule."""
    deleted = context.call("DELETE", _path("tenants", tenant_id, "rules", name))
    context.emit(deleted, lambda _: f"deleted rule {name}")
    return EXIT_OK


def _switch(context: CliContext, tenant_id: str, name: str, verb: str) -> int:
    """POST …/rules/NAME/enable or /disable, and say what the rule is now."""
    changed = context.call("POST", _path("tenants", tenant_id, "rules", name, verb))
    context.emit(changed, lambda v: f"rule {v['name']} {'enabled' if v['enabled'] else 'disabled'}")
    return EXIT_OK


@rule.command("enable")
@click.argument("tenant_id")
@click.argument("name")
@pass_cli_context
def rule_enable(context: CliContext, tenant_id: str, name: str) -> int:
    """Enable a rule (checked against its action again)."""
    return _switch(context, tenant_id, name, "enable")


@rule.command("disable")
@click.argument("tenant_id")
@click.argument("name")
@pass_cli_context
def rule_disable(context: CliContext, tenant_id: str, name: str) -> int:
    """Disable a rule (events no longer trigger it)."""
    return _switch(context, tenant_id, name, "disable")
