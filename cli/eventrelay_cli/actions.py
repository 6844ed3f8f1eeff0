"""`eventrelay action create|list|show|update|delete|fields|test`.

An action is given with options (`--connector`, `--method`, `--url`, `--header NAME=VALUE`,
`--payload TEXT`, `--payload-file PATH`, `--form KEY=VALUE`, ...) and/or `--file action.yaml`
(the same keys as an `actions:` entry of `eventrelay apply`); options override the file.
`{{field}}` tokens in the URL, header values and payload become the action's fields; `fields`
shows them and sets their types and defaults; `test` performs the action with sample values.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from eventrelay.actions import (
    Action,
    ActionAlreadyExists,
    ActionConflict,
    ActionNotFound,
    ActionStore,
    FieldType,
    InvalidAction,
    RenderError,
    TemplateError,
)
from eventrelay.admin import ActionTestError, ActionTestReport, action_view
from eventrelay.admin.compat import ActionTester
from eventrelay.connectors.errors import ConnectorNotFound
from eventrelay.connectors.store import ConnectorStore
from eventrelay.errors import DependencyFailure
from eventrelay_cli.admin_args import pairs, read_structured_file
from eventrelay_cli.context import EXIT_CONFLICT, EXIT_FAILURE, EXIT_NOT_FOUND, EXIT_USAGE, CliError


def _store(args: argparse.Namespace) -> ActionStore:
    return ActionStore.from_settings(args.context.settings)


def _connectors(args: argparse.Namespace) -> ConnectorStore:
    from eventrelay.roots import AwsClients
    from eventrelay.roots.connectors import build_connector_services

    settings = args.context.settings
    return build_connector_services(settings, AwsClients.for_settings(settings)).store


def _guarded(operation: Callable[[], int]) -> int:
    """Map the actions' typed errors to CLI errors (messages name fields and positions, not values)."""
    try:
        return operation()
    except ActionNotFound as exc:
        raise CliError(f"action {exc.name!r} not found", EXIT_NOT_FOUND) from None
    except ActionAlreadyExists as exc:
        raise CliError(f"action {exc.name!r} already exists", EXIT_CONFLICT) from None
    except ActionConflict as exc:
        raise CliError(str(exc), EXIT_CONFLICT) from None
    except ConnectorNotFound as exc:
        raise CliError(exc.message, EXIT_NOT_FOUND) from None
    except (TemplateError, InvalidAction, RenderError, ActionTestError) as exc:
        raise CliError(str(exc), EXIT_USAGE) from None
    except DependencyFailure as exc:
        raise CliError(f"AWS is unavailable ({exc})", EXIT_FAILURE) from None


def _draft_data(args: argparse.Namespace, current: Action | None) -> dict[str, Any]:
    """The current definition (update) or the file, with the options laid over it."""
    data: dict[str, Any] = {}
    if current is not None:
        # Field choices are not repeated: the store keeps them for the fields the templates still use.
        data = current.to_draft().model_dump(mode="json", by_alias=True, exclude={"fields"})
    if args.file:
        loaded = read_structured_file(args.file)
        if not isinstance(loaded, dict):
            raise CliError(f"{args.file}: expected a mapping of action attributes", EXIT_USAGE)
        data.update(loaded)
    if args.name:
        data["name"] = args.name
    for key, value in (
        ("connector", args.connector),
        ("method", args.method),
        ("url", args.url),
        ("maxRetries", args.max_retries),
        ("description", args.description),
    ):
        if value is not None:
            data[key] = value
    headers = dict(data.get("headers") or {})
    for name in getattr(args, "remove_header", None) or ():
        headers = {key: value for key, value in headers.items() if key.lower() != name.lower()}
    headers.update(pairs(args.header, "--header"))
    if headers or "headers" in data:
        data["headers"] = headers
    payload = _payload_option(args)
    if payload is not _KEEP:
        data["payload"] = payload
    return data


_KEEP = object()


def _payload_option(args: argparse.Namespace) -> object:
    """The payload the options set (None for --no-payload), or _KEEP when they set none."""
    given = [
        args.payload is not None,
        bool(args.payload_file),
        bool(args.form),
        bool(getattr(args, "no_payload", False)),
    ]
    if sum(given) > 1:
        raise CliError("give one of --payload, --payload-file, --form, --no-payload", EXIT_USAGE)
    if args.payload is not None:
        return {"type": "plain", "text": args.payload}
    if args.payload_file:
        try:
            with open(args.payload_file, encoding="utf-8") as handle:
                return {"type": "plain", "text": handle.read()}
        except (OSError, UnicodeDecodeError):
            raise CliError(f"cannot read payload file {args.payload_file}", EXIT_USAGE) from None
    if args.form:
        return {
            "type": "form",
            "pairs": [{"key": key, "value": value} for key, value in pairs(args.form, "--form").items()],
        }
    if getattr(args, "no_payload", False):
        return None
    return _KEEP


def _summary(view: dict[str, Any], verb: str) -> str:
    fields = ", ".join(f"{f['name']} ({f['type']})" for f in view["fields"]) or "none"
    return (
        f"{verb} action {view['name']}: {view['method']} via connector {view['connector']} "
        f"(version {view['version']}); fields: {fields}"
    )


def action_create(args: argparse.Namespace) -> int:
    def run() -> int:
        data = _draft_data(args, None)
        missing = [key for key in ("name", "connector", "method") if not data.get(key)]
        if missing:
            raise CliError("missing " + ", ".join(missing) + " (options or --file)", EXIT_USAGE)
        _connectors(args).get(args.tenant_id, str(data["connector"]))
        action = _store(args).create(args.tenant_id, data)
        args.context.emit(action_view(action), lambda v: _summary(v, "created"))
        return 0

    return _guarded(run)


def action_update(args: argparse.Namespace) -> int:
    def run() -> int:
        store = _store(args)
        current = store.get(args.tenant_id, args.name)
        data = _draft_data(args, current)
        if data.get("name") != current.name:
            raise CliError("an action cannot be renamed; create a new one and delete this one", EXIT_USAGE)
        if data.get("connector") != current.connector:
            _connectors(args).get(args.tenant_id, str(data["connector"]))
        action = store.update(args.tenant_id, data)
        args.context.emit(action_view(action), lambda v: _summary(v, "updated"))
        return 0

    return _guarded(run)


def action_list(args: argparse.Namespace) -> int:
    def run() -> int:
        rows = [action_view(a) for a in _store(args).list(args.tenant_id, connector=args.connector)]
        args.context.emit(
            rows,
            lambda rs: (
                "\n".join(
                    f"{r['name']}\t{r['method']}\t{r['connector']}\t{len(r['fields'])} fields" for r in rs
                )
                or "(no actions)"
            ),
        )
        return 0

    return _guarded(run)


def action_show(args: argparse.Namespace) -> int:
    def run() -> int:
        args.context.emit(action_view(_store(args).get(args.tenant_id, args.name)))
        return 0

    return _guarded(run)


def _rules_using(args: argparse.Namespace, action: str) -> list[str]:
    from eventrelay.aws import dynamodb_client
    from eventrelay.rules import RuleStore

    settings = args.context.settings
    rules = RuleStore(settings.config_table, dynamodb_client(settings.region))
    return [rule.name for rule in rules.list(args.tenant_id, action=action)]


def action_delete(args: argparse.Namespace) -> int:
    def run() -> int:
        store = _store(args)
        store.get(args.tenant_id, args.name)
        users = _rules_using(args, args.name)
        if users and not args.force:
            raise CliError(
                f"action {args.name!r} is used by rule(s) {', '.join(users)}: "
                "delete them first, or pass --force",
                EXIT_CONFLICT,
            )
        store.delete(args.tenant_id, args.name)
        args.context.emit({"deleted": True, "name": args.name}, lambda _: f"deleted action {args.name}")
        return 0

    return _guarded(run)


def _field_type(text: str) -> FieldType:
    for member in FieldType:
        if member.value.lower() == text.strip().lower():
            return member
    choices = ", ".join(member.value for member in FieldType)
    raise CliError(f"unknown field type {text!r} (one of {choices})", EXIT_USAGE)


def _default_value(field_type: FieldType, text: str) -> object:
    """A default as typed on the command line, kept as JSON would hold it for its type."""
    if field_type is FieldType.NUMBER and text.strip().lstrip("+-").isdigit():
        return int(text)
    if field_type is FieldType.BOOLEAN and text.strip().lower() in ("true", "false"):
        return text.strip().lower() == "true"
    return text


def _fields_table(view: dict[str, Any]) -> str:
    rows = [
        f"{f['name']}\t{f['type']}\t"
        + ("(no default)" if f["default"] is None else f"default {f['default']}")
        for f in view["fields"]
    ]
    return "\n".join(rows) or f"action {view['name']} has no fields"


def action_fields(args: argparse.Namespace) -> int:
    def run() -> int:
        store = _store(args)
        action = store.get(args.tenant_id, args.name)
        types = {name: _field_type(text) for name, text in pairs(args.type, "--type").items()}
        defaults = pairs(args.default, "--default")
        cleared = set(args.no_default or ())
        touched = list(dict.fromkeys([*types, *defaults, *cleared]))
        if not touched:
            args.context.emit(action_view(action), _fields_table)
            return 0
        known = {field.name: field for field in action.fields}
        unknown = [name for name in touched if name not in known]
        if unknown:
            raise CliError(
                f"action {action.name!r} has no field {', '.join(unknown)} "
                f"(its fields: {', '.join(known) or 'none'})",
                EXIT_USAGE,
            )
        if cleared & set(defaults):
            raise CliError("--default and --no-default name the same field", EXIT_USAGE)
        changes = []
        for name in touched:
            field_type = types.get(name, known[name].type)
            default: object = known[name].default
            if name in defaults:
                default = _default_value(field_type, defaults[name])
            if name in cleared:
                default = None
            changes.append({"name": name, "type": field_type, "default": default})
        updated = store.update_fields(args.tenant_id, action.name, changes)
        args.context.emit(action_view(updated), _fields_table)
        return 0

    return _guarded(run)


def _report_text(report: dict[str, Any]) -> str:
    response = report["response"]
    status = f"HTTP {response['status']}" if response["status"] is not None else "no response"
    request = report["request"]
    lines = [
        f"action {report['action']} via connector {report['connector']}: "
        f"{response['outcome']}, {status} in {response['durationMs']} ms",
        "",
        "request:",
        f"  {request['method']} {request['url']}",
        *(f"  {name}: {value}" for name, value in request["headers"].items()),
    ]
    if request["body"] is not None:
        lines += ["", *("  " + line for line in request["body"].splitlines())]
    lines += ["", "response:"]
    if response["error"]:
        lines.append(f"  error: {response['error']}")
    if response["status"] is not None:
        lines.append(f"  {status}")
        lines += [f"  {name}: {value}" for name, value in response["headers"].items()]
    if response["body"]:
        lines += ["", *("  " + line for line in response["body"].splitlines())]
        if response["bodyTruncated"]:
            lines.append("  [body truncated]")
    lines += ["", "curl (replace [REDACTED] with the credentials):", f"  {report['curl']}"]
    return "\n".join(lines)


def action_test(args: argparse.Namespace) -> int:
    def run() -> int:
        values: dict[str, object] = dict(pairs(args.value, "--value"))
        report: ActionTestReport = ActionTester.from_settings(args.context.settings).run(
            args.tenant_id, args.name, values
        )
        args.context.emit(report.to_dict(args.body_limit), _report_text)
        return 0 if report.ok else EXIT_FAILURE

    return _guarded(run)


def _add_definition_options(parser: argparse.ArgumentParser, *, update: bool) -> None:
    parser.add_argument("tenant_id")
    parser.add_argument("name", nargs=None if update else "?", help="the action's name")
    parser.add_argument("--file", help="a YAML/JSON file with the action's attributes")
    parser.add_argument("--connector", help="the connector it calls")
    parser.add_argument("--method", help="GET, POST, PUT, PATCH or DELETE")
    parser.add_argument("--url", help="absolute, or relative to the connector's base URL; may hold {{field}}")
    parser.add_argument(
        "--header", action="append", metavar="NAME=VALUE", help="a header; its value may hold {{field}}"
    )
    if update:
        parser.add_argument("--remove-header", action="append", metavar="NAME", help="drop a header")
    parser.add_argument("--payload", help="a plain (JSON text) payload with {{field}} tokens")
    parser.add_argument("--payload-file", help="read the plain payload from this file")
    parser.add_argument(
        "--form", action="append", metavar="KEY=VALUE", help="a form (x-www-form-urlencoded) pair"
    )
    if update:
        parser.add_argument("--no-payload", action="store_true", help="send no body")
    parser.add_argument("--max-retries", type=int, help="0..5 (default 3)")
    parser.add_argument("--description")


def register(subparsers: Any) -> None:
    action = subparsers.add_parser(
        "action",
        help="templated requests to a connector and their fields",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    ).add_subparsers(dest="action", metavar="ACTION", required=True)

    create = action.add_parser("create", help="create an action (fields are parsed from {{tokens}})")
    _add_definition_options(create, update=False)
    create.set_defaults(handler=action_create)

    update = action.add_parser("update", help="change an action; options not given keep their value")
    _add_definition_options(update, update=True)
    update.set_defaults(handler=action_update)

    lst = action.add_parser("list", help="a tenant's actions")
    lst.add_argument("tenant_id")
    lst.add_argument("--connector", help="only the actions of this connector")
    lst.set_defaults(handler=action_list)

    show = action.add_parser("show", help="one action with its fields")
    show.add_argument("tenant_id")
    show.add_argument("name")
    show.set_defaults(handler=action_show)

    delete = action.add_parser("delete", help="delete an action")
    delete.add_argument("tenant_id")
    delete.add_argument("name")
    delete.add_argument("--force", action="store_true", help="delete even if rules use it")
    delete.set_defaults(handler=action_delete)

    fields = action.add_parser(
        "fields", help="show an action's fields, or set their types (--type) and defaults (--default)"
    )
    fields.add_argument("tenant_id")
    fields.add_argument("name")
    fields.add_argument(
        "--type",
        action="append",
        metavar="FIELD=TYPE",
        help="String, Number, Boolean, Date or DateTime (repeatable)",
    )
    fields.add_argument("--default", action="append", metavar="FIELD=VALUE", help="a default (repeatable)")
    fields.add_argument("--no-default", action="append", metavar="FIELD", help="remove a default")
    fields.set_defaults(handler=action_fields)

    test = action.add_parser(
        "test", help="perform the action with sample values; show the request (redacted) and response"
    )
    test.add_argument("tenant_id")
    test.add_argument("name")
    test.add_argument(
        "--value",
        action="append",
        metavar="FIELD=VALUE",
        help="a sample value (default: the field's default)",
    )
    test.add_argument("--body-limit", type=int, default=4096, help="characters of the response body to show")
    test.set_defaults(handler=action_test)
