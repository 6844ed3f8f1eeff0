"""`eventrelay action create|list|show|update|delete|fields|test`.

An action is given with options (`--connector`, `--method`, `--url`, `--header NAME=VALUE`,
`--payload TEXT`, `--payload-file PATH`, `--form KEY=VALUE`, ...) and/or `--file action.yaml`
(the same keys as an `actions:` entry of `eventrelay apply`); options override the file.
`{{field}}` tokens in the URL, header values and payload become the action's fields; `fields`
shows them and sets their types and defaults; `test` performs the action with sample values.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import click

from eventrelay_cli.exit_codes import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, CliError
from eventrelay_cli.framework import Group, pass_cli_context, with_options
from eventrelay_cli.inputs import pairs, read_structured_file

if TYPE_CHECKING:
    from eventrelay.actions import FieldType
    from eventrelay_cli.context import CliContext


def _path(*segments: str) -> str:
    from eventrelay.admin_api.routing import admin_path

    return admin_path(*segments)


@dataclass(frozen=True)
class ActionOptions:
    """The options of `action create` and `action update` (None: not given)."""

    tenant_id: str
    name: str | None
    file: str | None
    connector: str | None
    method: str | None
    url: str | None
    header: tuple[str, ...]
    payload: str | None
    payload_file: str | None
    form: tuple[str, ...]
    max_retries: int | None
    description: str | None
    remove_header: tuple[str, ...] = ()
    no_payload: bool = False


def _file_attributes(path: str | None) -> dict[str, Any]:
    """The action attributes of `--file`, spelled as the admin API's body spells them."""
    if not path:
        return {}
    loaded = read_structured_file(path)
    if not isinstance(loaded, dict):
        raise CliError(f"{path}: expected a mapping of action attributes", EXIT_USAGE)
    # A file may use snake_case names (`max_retries`) and the shorthands of `eventrelay apply`.
    attributes = {_camel(str(key)): value for key, value in loaded.items()}
    payload = attributes.get("payload")
    if isinstance(payload, str):
        attributes["payload"] = {"type": "plain", "text": payload}
    elif isinstance(payload, dict) and isinstance(payload.get("pairs"), dict):
        pairs_given = payload["pairs"]
        attributes["payload"] = {
            **payload,
            "pairs": [{"key": key, "value": value} for key, value in pairs_given.items()],
        }
    return attributes


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _definition_body(options: ActionOptions, current_headers: Callable[[], dict[str, str]]) -> dict[str, Any]:
    """The file's attributes with the options laid over them; `current_headers` gives the headers
    `--header`/`--remove-header` edit when the file names none (update: the action's own)."""
    body = _file_attributes(options.file)
    for key, value in (
        ("name", options.name),
        ("connector", options.connector),
        ("method", options.method),
        ("url", options.url),
        ("maxRetries", options.max_retries),
        ("description", options.description),
    ):
        if value is not None:
            body[key] = value
    if options.header or options.remove_header:
        headers = dict(body["headers"] or {}) if "headers" in body else current_headers()
        for name in options.remove_header:
            headers = {key: value for key, value in headers.items() if key.lower() != name.lower()}
        headers.update(pairs(options.header, "--header"))
        body["headers"] = headers
    payload = _payload_option(options)
    if payload is not _KEEP:
        body["payload"] = payload
    return body


_KEEP = object()


def _payload_option(options: ActionOptions) -> object:
    """The payload the options set (None for --no-payload), or _KEEP when they set none."""
    given = [
        options.payload is not None,
        bool(options.payload_file),
        bool(options.form),
        options.no_payload,
    ]
    if sum(given) > 1:
        raise CliError("give one of --payload, --payload-file, --form, --no-payload", EXIT_USAGE)
    if options.payload is not None:
        return {"type": "plain", "text": options.payload}
    if options.payload_file:
        try:
            with open(options.payload_file, encoding="utf-8") as handle:
                return {"type": "plain", "text": handle.read()}
        except (OSError, UnicodeDecodeError):
            raise CliError(f"cannot read payload file {options.payload_file}", EXIT_USAGE) from None
    if options.form:
        return {
            "type": "form",
            "pairs": [{"key": key, "value": value} for key, value in pairs(options.form, "--form").items()],
        }
    if options.no_payload:
        return None
    return _KEEP


def _summary(view: dict[str, Any], verb: str) -> str:
    fields = ", ".join(f"{f['name']} ({f['type']})" for f in view["fields"]) or "none"
    return (
        f"{verb} action {view['name']}: {view['method']} via connector {view['connector']} "
        f"(version {view['version']}); fields: {fields}"
    )


def _definition_options(*, update: bool) -> Callable[[Callable[[CliContext, ActionOptions], int]], Any]:
    """The options of create/update, handed to the command as one ActionOptions."""
    options = [
        click.argument("tenant_id"),
        click.argument("name", required=update),
        click.option("--file", help="a YAML/JSON file with the action's attributes"),
        click.option("--connector", help="the connector it calls"),
        click.option("--method", help="GET, POST, PUT, PATCH or DELETE"),
        click.option("--url", help="absolute, or relative to the connector's base URL; may hold {{field}}"),
        click.option(
            "--header", multiple=True, metavar="NAME=VALUE", help="a header; its value may hold {{field}}"
        ),
        *(
            [click.option("--remove-header", multiple=True, metavar="NAME", help="drop a header")]
            if update
            else []
        ),
        click.option("--payload", help="a plain (JSON text) payload with {{field}} tokens"),
        click.option("--payload-file", help="read the plain payload from this file"),
        click.option(
            "--form", multiple=True, metavar="KEY=VALUE", help="a form (x-www-form-urlencoded) pair"
        ),
        *([click.option("--no-payload", is_flag=True, help="send no body")] if update else []),
        click.option("--max-retries", type=int, help="0..5 (default 3)"),
        click.option("--description"),
    ]

    return with_options(ActionOptions, options)


@click.group(cls=Group, help=__doc__)
def action() -> None:
    pass


@action.command("create")
@_definition_options(update=False)
def action_create(context: CliContext, options: ActionOptions) -> int:
    """Create an action (fields are parsed from {{tokens}})."""
    body = _definition_body(options, dict)
    missing = [key for key in ("name", "connector", "method") if not body.get(key)]
    if missing:
        raise CliError("missing " + ", ".join(missing) + " (options or --file)", EXIT_USAGE)
    created = context.call("POST", _path("tenants", options.tenant_id, "actions"), body=body)
    context.emit(created, lambda v: _summary(v, "created"))
    return EXIT_OK


@action.command("update")
@_definition_options(update=True)
def action_update(context: CliContext, options: ActionOptions) -> int:
    """Change an action; options not given keep their value."""
    path = _path("tenants", options.tenant_id, "actions", str(options.name))

    def current_headers() -> dict[str, str]:
        return dict(context.call("GET", path)["headers"])

    # The NAME argument names the action: a `name` in the file does not rename it.
    body = _definition_body(options, current_headers)
    body.pop("name", None)
    updated = context.call("PATCH", path, body=body)
    context.emit(updated, lambda v: _summary(v, "updated"))
    return EXIT_OK


@action.command("list")
@click.argument("tenant_id")
@click.option("--connector", help="only the actions of this connector")
@pass_cli_context
def action_list(context: CliContext, tenant_id: str, connector: str | None) -> int:
    """A tenant's actions."""
    query = {"connector": connector} if connector else None
    rows = context.call("GET", _path("tenants", tenant_id, "actions"), query=query)
    context.emit(
        rows,
        lambda rs: (
            "\n".join(f"{r['name']}\t{r['method']}\t{r['connector']}\t{len(r['fields'])} fields" for r in rs)
            or "(no actions)"
        ),
    )
    return EXIT_OK


@action.command("show")
@click.argument("tenant_id")
@click.argument("name")
@pass_cli_context
def action_show(context: CliContext, tenant_id: str, name: str) -> int:
    """One action with its fields."""
    context.emit(context.call("GET", _path("tenants", tenant_id, "actions", name)))
    return EXIT_OK


@action.command("delete")
@click.argument("tenant_id")
@click.argument("name")
@click.option("--force", is_flag=True, help="delete even if rules use it")
@pass_cli_context
def action_delete(context: CliContext, tenant_id: str, name: str, force: bool) -> int:
    """Delete an action."""
    query = {"force": "true"} if force else None
    deleted = context.call("DELETE", _path("tenants", tenant_id, "actions", name), query=query)
    context.emit(deleted, lambda _: f"deleted action {name}")
    return EXIT_OK


def _field_type(text: str) -> FieldType:
    from eventrelay.actions import FieldType

    for member in FieldType:
        if member.value.lower() == text.strip().lower():
            return member
    choices = ", ".join(member.value for member in FieldType)
    raise CliError(f"unknown field type {text!r} (one of {choices})", EXIT_USAGE)


def _default_value(field_type: FieldType, text: str) -> object:
    """A default as typed on the command line, kept as JSON would hold it for its type."""
    from eventrelay.actions import FieldType

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


@action.command("fields")
@click.argument("tenant_id")
@click.argument("name")
@click.option(
    "--type",
    "field_types",
    multiple=True,
    metavar="FIELD=TYPE",
    help="String, Number, Boolean, Date or DateTime (repeatable)",
)
@click.option("--default", "defaults", multiple=True, metavar="FIELD=VALUE", help="a default (repeatable)")
@click.option("--no-default", "no_defaults", multiple=True, metavar="FIELD", help="remove a default")
@pass_cli_context
def action_fields(
    context: CliContext,
    tenant_id: str,
    name: str,
    field_types: tuple[str, ...],
    defaults: tuple[str, ...],
    no_defaults: tuple[str, ...],
) -> int:
    """Show an action's fields, or set their types (--type) and defaults (--default)."""
    path = _path("tenants", tenant_id, "actions", name, "fields")
    types = {field: _field_type(text) for field, text in pairs(field_types, "--type").items()}
    default_texts = pairs(defaults, "--default")
    both = [field for field in default_texts if field in no_defaults]
    if both:
        raise CliError(
            "invalid action: "
            + "; ".join(f"fields.{field}: a new default and no default at once" for field in both),
            EXIT_USAGE,
        )
    touched = list(dict.fromkeys([*types, *default_texts, *no_defaults]))
    if not touched:
        context.emit(context.call("GET", path), _fields_table)
        return EXIT_OK
    # A default typed on the command line is text: read as its field's type (given, else current).
    current_types: dict[str, FieldType] = {}
    if default_texts:
        current_types = {f["name"]: _field_type(f["type"]) for f in context.call("GET", path)["fields"]}
    changes = [
        _field_change(field, types.get(field), current_types.get(field), default_texts, set(no_defaults))
        for field in touched
    ]
    context.emit(context.call("PATCH", path, body={"fields": changes}), _fields_table)
    return EXIT_OK


def _field_change(
    field: str,
    new_type: FieldType | None,
    current_type: FieldType | None,
    default_texts: dict[str, str],
    cleared: set[str],
) -> dict[str, Any]:
    """One entry of the fields body: the new type, a new default (null: none), or neither."""
    change: dict[str, Any] = {"name": field}
    if new_type is not None:
        change["type"] = new_type.value
    field_type = new_type or current_type
    text = default_texts.get(field)
    if text is not None:
        change["default"] = _default_value(field_type, text) if field_type is not None else text
    elif field in cleared:
        change["default"] = None
    return change


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


@action.command("test")
@click.argument("tenant_id")
@click.argument("name")
@click.option(
    "--value",
    "values",
    multiple=True,
    metavar="FIELD=VALUE",
    help="a sample value (default: the field's default)",
)
@click.option(
    "--body-limit",
    type=click.IntRange(min=0),
    default=4096,
    show_default=True,
    help="characters of the response body to show",
)
@pass_cli_context
def action_test(
    context: CliContext, tenant_id: str, name: str, values: tuple[str, ...], body_limit: int
) -> int:
    """Perform the action with sample values; show the request (redacted) and response."""
    body = {"values": pairs(values, "--value"), "bodyLimit": body_limit}
    report = context.call("POST", _path("tenants", tenant_id, "actions", name, "test"), body=body)
    context.emit(report, _report_text)
    return EXIT_OK if report["ok"] else EXIT_FAILURE
