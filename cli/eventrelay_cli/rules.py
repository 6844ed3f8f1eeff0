"""`eventrelay rule create|list|show|update|delete|enable|disable`.

A rule is given with options and/or `--file rule.yaml` (the keys of a `rules:` entry of
`eventrelay apply`); options override the file:

    eventrelay rule create acme big-orders --event OrderPlaced/v01 --action create-ticket \\
        --map ticketId='$.order.id' --map amount=total --set priority=high \\
        --where '$.total >= 100' --where '$.status in ["NEW","OPEN"]'

`--map FIELD=PATH` takes the field's value from a payload path (dotted `order.id` or `$.order.id`),
`--set FIELD=VALUE` gives it a constant (JSON if it reads as JSON: `3`, `true`, else text).
`--where` (repeatable, all must hold) is the one-line condition form; `--condition` takes JSON.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

from eventrelay.errors import DependencyFailure
from eventrelay.rules import (
    ConditionError,
    InvalidRule,
    Rule,
    RuleAlreadyExists,
    RuleConflict,
    RuleNotFound,
    RuleStore,
    condition_to_dict,
    describe,
    parse_condition_text,
)
from eventrelay_cli.admin_args import json_or_text, pairs, read_structured_file
from eventrelay_cli.context import EXIT_CONFLICT, EXIT_FAILURE, EXIT_NOT_FOUND, EXIT_USAGE, CliError


def _store(args: argparse.Namespace) -> RuleStore:
    from eventrelay.actions import ActionStore
    from eventrelay.aws import dynamodb_client

    settings = args.context.settings
    dynamodb = dynamodb_client(settings.region)
    return RuleStore(settings.config_table, dynamodb, ActionStore(settings.config_table, dynamodb))


def _guarded(operation: Callable[[], int]) -> int:
    try:
        return operation()
    except RuleNotFound as exc:
        raise CliError(f"rule {exc.name!r} not found", EXIT_NOT_FOUND) from None
    except RuleAlreadyExists as exc:
        raise CliError(f"rule {exc.name!r} already exists", EXIT_CONFLICT) from None
    except RuleConflict as exc:
        raise CliError(str(exc), EXIT_CONFLICT) from None
    except (InvalidRule, ConditionError) as exc:
        raise CliError(str(exc), EXIT_USAGE) from None
    except DependencyFailure as exc:
        raise CliError(f"AWS is unavailable ({exc})", EXIT_FAILURE) from None


def _event(text: str) -> tuple[str, str]:
    name, separator, version = text.rpartition("/")
    if not separator or not name or not version:
        raise CliError(f"--event expects NAME/VERSION such as OrderPlaced/v01, got {text!r}", EXIT_USAGE)
    return name, version


def _condition(args: argparse.Namespace) -> object:
    """The condition the options set: a dict, None (--no-condition), or _KEEP."""
    given = [bool(args.where), args.condition is not None, bool(getattr(args, "no_condition", False))]
    if sum(given) > 1:
        raise CliError("give one of --where, --condition, --no-condition", EXIT_USAGE)
    if args.where:
        comparisons = [condition_to_dict(parse_condition_text(text)) for text in args.where]
        return comparisons[0] if len(comparisons) == 1 else {"all": comparisons}
    if args.condition is not None:
        try:
            return json.loads(args.condition)
        except ValueError:
            raise CliError(
                '--condition expects JSON such as \'{"path": "$.total", ...}\'', EXIT_USAGE
            ) from None
    if getattr(args, "no_condition", False):
        return None
    return _KEEP


_KEEP = object()


def _draft_data(args: argparse.Namespace, current: Rule | None) -> dict[str, Any]:
    data: dict[str, Any] = {}
    if current is not None:
        data = current.to_draft().model_dump(mode="json", by_alias=True)
    if args.file:
        loaded = read_structured_file(args.file)
        if not isinstance(loaded, dict):
            raise CliError(f"{args.file}: expected a mapping of rule attributes", EXIT_USAGE)
        data.update(loaded)
    if args.name:
        data["name"] = args.name
    if args.event:
        data["eventName"], data["eventVersion"] = _event(args.event)
    for key, value in (("action", args.action), ("description", args.description)):
        if value is not None:
            data[key] = value
    mapping = dict(data.get("mapping") or {})
    for field in getattr(args, "unmap", None) or ():
        mapping.pop(field, None)
    mapping.update({field: {"path": path} for field, path in pairs(args.map, "--map").items()})
    mapping.update({field: {"constant": json_or_text(v)} for field, v in pairs(args.set, "--set").items()})
    if mapping or "mapping" in data:
        data["mapping"] = mapping
    condition = _condition(args)
    if condition is not _KEEP:
        data["condition"] = condition
    if args.enabled is not None:
        data["enabled"] = args.enabled
    return data


def rule_view(rule: Rule) -> dict[str, Any]:
    view = rule.to_view()
    view["conditionText"] = describe(rule.condition) if rule.condition is not None else None
    return view


def _text(view: dict[str, Any]) -> str:
    lines = [
        f"rule {view['name']} ({'enabled' if view['enabled'] else 'disabled'}, version {view['version']})",
        f"  when    {view['eventName']}/{view['eventVersion']}"
        + (f" and {view['conditionText']}" if view["conditionText"] else ""),
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


def rule_create(args: argparse.Namespace) -> int:
    def run() -> int:
        data = _draft_data(args, None)
        missing = [key for key in ("name", "eventName", "action") if not data.get(key)]
        if missing:
            raise CliError("missing " + ", ".join(missing) + " (options or --file)", EXIT_USAGE)
        rule = _store(args).create(args.tenant_id, data)
        args.context.emit(rule_view(rule), _summary("created rule"))
        return 0

    return _guarded(run)


def rule_update(args: argparse.Namespace) -> int:
    def run() -> int:
        store = _store(args)
        data = _draft_data(args, store.get(args.tenant_id, args.name))
        rule = store.update(args.tenant_id, args.name, data)
        args.context.emit(rule_view(rule), _summary("updated rule"))
        return 0

    return _guarded(run)


def rule_list(args: argparse.Namespace) -> int:
    def run() -> int:
        event_name, event_version = _event(args.event) if args.event else (None, None)
        rules = _store(args).list(
            args.tenant_id, event_name=event_name, event_version=event_version, action=args.action
        )
        rows = [rule_view(rule) for rule in rules]

        def table(views: list[dict[str, Any]]) -> str:
            return (
                "\n".join(
                    f"{v['name']}\t{v['eventName']}/{v['eventVersion']}\t{v['action']}\t"
                    f"{'enabled' if v['enabled'] else 'disabled'}\t{v['conditionText'] or '(always)'}"
                    for v in views
                )
                or "(no rules)"
            )

        args.context.emit(rows, table)
        return 0

    return _guarded(run)


def rule_show(args: argparse.Namespace) -> int:
    def run() -> int:
        args.context.emit(rule_view(_store(args).get(args.tenant_id, args.name)), _text)
        return 0

    return _guarded(run)


def rule_delete(args: argparse.Namespace) -> int:
    def run() -> int:
        _store(args).delete(args.tenant_id, args.name)
        args.context.emit({"deleted": True, "name": args.name}, lambda _: f"deleted rule {args.name}")
        return 0

    return _guarded(run)


def _set_enabled(enabled: bool) -> Callable[[argparse.Namespace], int]:
    def handler(args: argparse.Namespace) -> int:
        def run() -> int:
            rule = _store(args).set_enabled(args.tenant_id, args.name, enabled)
            args.context.emit(
                rule_view(rule), lambda v: f"rule {v['name']} {'enabled' if enabled else 'disabled'}"
            )
            return 0

        return _guarded(run)

    return handler


def _definition_options(parser: argparse.ArgumentParser, *, update: bool) -> None:
    parser.add_argument("tenant_id")
    parser.add_argument("name", nargs=None if update else "?", help="the rule's name")
    parser.add_argument("--file", help="a YAML/JSON file with the rule's attributes")
    parser.add_argument("--event", help="the triggering event as NAME/VERSION, e.g. OrderPlaced/v01")
    parser.add_argument("--action", help="the action it performs")
    parser.add_argument("--map", action="append", metavar="FIELD=PATH", help="a field from a payload path")
    parser.add_argument("--set", action="append", metavar="FIELD=VALUE", help="a field set to a constant")
    parser.add_argument(
        "--where",
        action="append",
        metavar="CONDITION",
        help="'PATH OP [VALUE]', e.g. '$.total >= 100' (repeat: all must hold)",
    )
    parser.add_argument(
        "--condition", metavar="JSON", help="the condition as JSON (all/any/not/path+op+value)"
    )
    parser.add_argument("--description")
    enabled = parser.add_mutually_exclusive_group()
    enabled.add_argument("--enabled", dest="enabled", action="store_const", const=True, default=None)
    enabled.add_argument("--disabled", dest="enabled", action="store_const", const=False)
    if update:
        parser.add_argument("--unmap", action="append", metavar="FIELD", help="remove a field's mapping")
        parser.add_argument("--no-condition", action="store_true", help="remove the condition")


def register(subparsers: Any) -> None:
    rule = subparsers.add_parser(
        "rule",
        help="rules: which event triggers which action",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    ).add_subparsers(dest="action_name", metavar="ACTION", required=True)
    create = rule.add_parser("create", help="create a rule (refused if its mapping misses a required field)")
    _definition_options(create, update=False)
    create.set_defaults(handler=rule_create)
    update = rule.add_parser("update", help="change some of a rule's attributes")
    _definition_options(update, update=True)
    update.set_defaults(handler=rule_update)
    lst = rule.add_parser("list", help="a tenant's rules")
    lst.add_argument("tenant_id")
    lst.add_argument("--event", help="only rules of NAME/VERSION")
    lst.add_argument("--action", help="only rules performing this action")
    lst.set_defaults(handler=rule_list)
    for name, handler, text in (
        ("show", rule_show, "one rule"),
        ("delete", rule_delete, "delete a rule"),
        ("enable", _set_enabled(True), "enable a rule (checked against its action again)"),
        ("disable", _set_enabled(False), "disable a rule (events no longer trigger it)"),
    ):
        command = rule.add_parser(name, help=text)
        command.add_argument("tenant_id")
        command.add_argument("name")
        command.set_defaults(handler=handler)
