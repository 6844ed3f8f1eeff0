"""The `eventrelay apply` file: one tenant's event registrations, connectors, actions and rules.

```yaml
tenant: acme
events:
  - {name: OrderPlaced, version: v01}                  # kind open (the default)
  - {name: AssetChanged, version: v01, kind: system_asset}
  - name: TicketRequested
    version: v01
    schema: {type: object, required: [title]}         # kind json_schema
connectors:
  - name: jira
    baseUrl: https://acme.atlassian.net/rest/api/3
    auth: {type: basic, username: bot@acme.com, password: {env: JIRA_API_TOKEN}}
    rateLimit: {perSecond: 5, perMinute: 100}         # optional: calls paced across all runners
actions:                                              # the keys of `eventrelay action create --file`
  - {connector: jira, name: create-issue, method: POST, url: issue, payload: '{"summary": "{{title}}"}'}
rules:                                                # the keys of the rules package's drafts
  - {name: order-to-jira, eventName: OrderPlaced, eventVersion: v01, action: create-issue,
     mapping: {title: "$.order.title"}}
```

Secrets are never written in the file: a password, a token header value and an OAuth client
secret must be `{env: VARIABLE}` (a literal is refused); a username or client id may be either.
A URL-based connector (auth type none, e.g. a Slack incoming webhook) is authenticated by its URL,
so a `baseUrl` or absolute `testUrl` with a path (or query) is a secret there: it must be
`{env: VARIABLE}` too (`baseUrl: {env: SLACK_WEBHOOK_URL}`); any connector's URLs may be.
Loading resolves the variables from the environment it is given and reports every problem at
once, each with its location (`connectors[0] (jira).auth.password: ...`), never a value.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, TypeVar

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    SecretStr,
    Tag,
    ValidationError,
)
from pydantic.alias_generators import to_camel

from eventrelay.actions import ActionDraft, InvalidAction, TemplateError, compile_action, parse_draft
from eventrelay.connectors import urls
from eventrelay.connectors.models import (
    HEADER_NAME_PATTERN,
    AuthType,
    ClientAuthMethod,
    ConnectorSpec,
    Credentials,
    OAuth2Grant,
    OAuth2Settings,
    TokenContentType,
    credential_problems,
)
from eventrelay.registrations import InvalidSchema, Registration, RegistrationKind, check_schema
from eventrelay.validation import InvalidFields

ENV_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,127}$"
_T = TypeVar("_T")


class ConfigError(Exception):
    """The file cannot be applied as written; one line per problem, each naming where it is."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("invalid configuration: " + "; ".join(self.problems))


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", alias_generator=to_camel, populate_by_name=True)


class EnvRef(_Model):
    """`{env: NAME}`: the value is the environment variable NAME when the file is applied."""

    env: Annotated[str, Field(pattern=ENV_NAME_PATTERN)]


def _no_literal_secret(value: object) -> object:
    if isinstance(value, str | int | float | bool):
        raise ValueError(
            "a secret is never written in the file: reference an environment variable, e.g. {env: MY_SECRET}"
        )
    return value


def _url_kind(value: object) -> str:
    return "envRef" if isinstance(value, dict | EnvRef) else "literal"


SecretRef = Annotated[EnvRef, BeforeValidator(_no_literal_secret)]
TextOrEnv = Annotated[str, Field(min_length=1, max_length=1024)] | EnvRef
# A URL written in the file, or `{env: NAME}` (one error per mistake, not one per union member).
UrlOrEnv = Annotated[
    Annotated[str, Tag("literal")] | Annotated[EnvRef, Tag("envRef")], Discriminator(_url_kind)
]
# Union tags pydantic adds to an error's location: they are not keys of the file.
_UNION_TAGS = frozenset({"none", "basic", "token", "oauth2", "literal", "envRef"})
# Stands in for a URL that could not be resolved, so that the rest of the entry is still checked.
_UNRESOLVED_URL = "https://unresolved.invalid"
HeaderName = Annotated[str, Field(min_length=1, max_length=256, pattern=HEADER_NAME_PATTERN.pattern)]


class NoAuth(_Model):
    type: Literal["none"] = "none"


class BasicAuth(_Model):
    type: Literal["basic"]
    username: TextOrEnv
    password: SecretRef


class TokenAuth(_Model):
    type: Literal["token"]
    headers: Annotated[dict[HeaderName, SecretRef], Field(min_length=1, max_length=20)]


class OAuth2Auth(_Model):
    type: Literal["oauth2"]
    grant: OAuth2Grant = OAuth2Grant.CLIENT_CREDENTIALS
    token_url: str
    scope: str = ""
    client_auth: ClientAuthMethod = ClientAuthMethod.CLIENT_SECRET_BASIC
    token_content_type: TokenContentType = TokenContentType.FORM
    authorization_url: str | None = None
    redirect_url: str | None = None
    client_id: TextOrEnv
    client_secret: SecretRef


Auth = Annotated[NoAuth | BasicAuth | TokenAuth | OAuth2Auth, Field(discriminator="type")]


class RateLimitEntry(_Model):
    per_second: int | None = None
    per_minute: int | None = None


class ConnectorEntry(_Model):
    name: str
    base_url: UrlOrEnv
    auth: Auth = Field(default_factory=NoAuth)
    headers: dict[str, str] = Field(default_factory=dict)
    description: str = ""
    test_url: UrlOrEnv = ""
    # Absent or null: calls are not paced (an applied file removes a limit it no longer has).
    rate_limit: RateLimitEntry | None = None


class EventEntry(_Model):
    name: str
    version: str
    kind: RegistrationKind | None = None
    json_schema: dict[str, Any] | None = Field(default=None, alias="schema")
    description: str = ""


class ConfigFile(_Model):
    tenant: str | None = None
    events: list[EventEntry] = Field(default_factory=list)
    connectors: list[ConnectorEntry] = Field(default_factory=list)
    actions: list[dict[str, Any]] = Field(default_factory=list)
    rules: list[dict[str, Any]] = Field(default_factory=list)


@dataclass(frozen=True)
class DesiredConnector:
    spec: ConnectorSpec
    credentials: Credentials | None = field(repr=False)


@dataclass(frozen=True)
class DesiredConfig:
    """What the file asks for, validated, with secrets resolved (held as SecretStr)."""

    tenant_id: str
    events: list[Registration]
    connectors: list[DesiredConnector]
    actions: list[ActionDraft]
    # Validated rule drafts (eventrelay.rules.RuleDraft); typed loosely so this module does not
    # depend on the rules package.
    rules: list[Any]


def parse_config_text(text: str, source: str = "config") -> ConfigFile:
    """YAML (or JSON) text to the file model; ConfigError with locations, never the file's text."""
    try:
        document = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise ConfigError([f"{source}: invalid YAML{where}: {exc.problem}"]) from None
    except yaml.YAMLError:
        raise ConfigError([f"{source}: invalid YAML"]) from None
    if document is None:
        document = {}
    if not isinstance(document, dict):
        raise ConfigError([f"{source}: expected a mapping with tenant, events, connectors, actions, rules"])
    try:
        return ConfigFile.model_validate(document)
    except ValidationError as exc:
        raise ConfigError(_problems(exc, document)) from None


def load_config(
    text: str,
    environ: Mapping[str, str],
    *,
    tenant_id: str | None = None,
    source: str = "config",
    parse_rule: Callable[[Mapping[str, Any]], Any] | None = None,
) -> DesiredConfig:
    """Parse, validate and resolve a config file (ConfigError lists every problem).

    `tenant_id` overrides the file's `tenant`. `parse_rule` validates one rule entry (raising an
    exception whose `problems` lists what is wrong); without it, a `rules:` section is refused.
    """
    config = parse_config_text(text, source)
    problems: list[str] = []
    tenant = tenant_id or config.tenant
    if not tenant:
        problems.append("tenant: missing (write `tenant: <id>` in the file or pass --tenant)")
    events = _collect(
        config.events,
        "events",
        lambda entry: f"{entry.name}/{entry.version}",
        lambda e: _event(e, tenant or "-"),
        problems,
    )
    connectors = _collect(
        config.connectors, "connectors", lambda entry: entry.name, lambda e: _connector(e, environ), problems
    )
    actions = _collect(config.actions, "actions", _entry_name, lambda e: _action(e, tenant), problems)
    rules: list[Any] = []
    if config.rules and parse_rule is None:
        problems.append("rules: this version of eventrelay cannot apply rules")
    elif parse_rule is not None:
        rules = _collect(config.rules, "rules", _entry_name, parse_rule, problems)
    for kind, names in (
        ("events", [f"{e.name}/{e.version}" for e in config.events]),
        ("connectors", [c.name for c in config.connectors]),
        ("actions", [_entry_name(a) for a in config.actions]),
        ("rules", [_entry_name(r) for r in config.rules]),
    ):
        counts = Counter(names)
        problems += [f"{kind}: '{name}' is declared {n} times" for name, n in counts.items() if n > 1]
    if problems:
        raise ConfigError(problems)
    assert tenant is not None
    return DesiredConfig(tenant, events, connectors, actions, rules)


def _entry_name(entry: Mapping[str, Any]) -> str:
    name = entry.get("name") if isinstance(entry, Mapping) else None
    return name if isinstance(name, str) else "?"


def _collect(
    entries: Sequence[Any],
    section: str,
    name_of: Callable[[Any], str],
    convert: Callable[[Any], _T],
    problems: list[str],
) -> list[_T]:
    """Convert each entry; a failure adds its problems, prefixed with `section[i] (name)`."""
    converted: list[_T] = []
    for index, entry in enumerate(entries):
        where = f"{section}[{index}] ({name_of(entry)})"
        try:
            converted.append(convert(entry))
        except ConfigError as exc:
            problems += [f"{where}.{problem}" for problem in exc.problems]
        except TemplateError as exc:
            problems.append(f"{where}.{exc}")
        except Exception as exc:
            listed = getattr(exc, "problems", None)
            if not isinstance(listed, list):
                raise
            problems += [f"{where}.{problem}" for problem in listed]
    return converted


def _event(entry: EventEntry, tenant_id: str) -> Registration:
    kind = entry.kind or (RegistrationKind.JSON_SCHEMA if entry.json_schema is not None else None)
    kind = kind or RegistrationKind.OPEN
    if kind is RegistrationKind.JSON_SCHEMA and entry.json_schema is None:
        raise ConfigError(["schema: kind json_schema needs a schema"])
    if kind is not RegistrationKind.JSON_SCHEMA and entry.json_schema is not None:
        raise ConfigError([f"schema: only kind json_schema takes a schema (kind is {kind.value})"])
    if entry.json_schema is not None:
        try:
            check_schema(entry.json_schema)
        except InvalidSchema as exc:
            raise ConfigError([f"schema: {exc}"]) from None
    try:
        return Registration(
            tenant_id=tenant_id,
            event_name=entry.name,
            event_version=entry.version,
            kind=kind,
            json_schema=entry.json_schema,
            description=entry.description,
        )
    except InvalidFields as exc:
        raise ConfigError(exc.problems) from None


def _resolve(value: str | EnvRef, location: str, environ: Mapping[str, str], problems: list[str]) -> str:
    if isinstance(value, str):
        return value
    resolved = environ.get(value.env)
    if resolved is None:
        problems.append(f"{location}: environment variable {value.env} is not set")
        return ""
    if not resolved:
        problems.append(f"{location}: environment variable {value.env} is empty")
    return resolved


def _url(
    value: str | EnvRef, location: str, auth_type: AuthType, environ: Mapping[str, str], problems: list[str]
) -> str | None:
    """The URL a connector entry asks for; None (and a problem) when it cannot be used."""
    if isinstance(value, EnvRef):
        resolved = _resolve(value, location, environ, problems)
        if not resolved:
            return None
    elif auth_type is AuthType.NONE and urls.is_absolute(value) and urls.has_secret(value):
        problems.append(
            f"{location}: a secret is never written in the file, and the URL of a connector with auth "
            "type none (a webhook URL) is one: reference an environment variable, e.g. "
            "{env: SLACK_WEBHOOK_URL}"
        )
        return None
    else:
        resolved = value
    if urls.is_redacted(resolved):
        # Not a URL: the redacted form eventrelay shows for a secret URL.
        problems.append(
            f"{location}: a redacted URL ([REDACTED:...]) is what eventrelay shows, not a URL: give the "
            "URL itself (for auth type none as {env: VARIABLE})"
        )
        return None
    return resolved


def _connector(entry: ConnectorEntry, environ: Mapping[str, str]) -> DesiredConnector:
    problems: list[str] = []
    auth = entry.auth
    auth_type = AuthType(auth.type)
    oauth2: OAuth2Settings | None = None
    credentials: Credentials | None = None
    base_url = _url(entry.base_url, "baseUrl", auth_type, environ, problems)
    test_url = _url(entry.test_url, "testUrl", auth_type, environ, problems)
    try:
        if isinstance(auth, BasicAuth):
            credentials = Credentials(
                username=_resolve(auth.username, "auth.username", environ, problems),
                password=SecretStr(_resolve(auth.password, "auth.password", environ, problems)),
            )
        elif isinstance(auth, TokenAuth):
            credentials = Credentials(
                token_headers={
                    name: SecretStr(_resolve(ref, f"auth.headers.{name}", environ, problems))
                    for name, ref in auth.headers.items()
                }
            )
        elif isinstance(auth, OAuth2Auth):
            oauth2 = OAuth2Settings(
                grant=auth.grant,
                token_url=auth.token_url,
                scope=auth.scope,
                client_auth=auth.client_auth,
                token_content_type=auth.token_content_type,
                authorization_url=auth.authorization_url,
                redirect_url=auth.redirect_url,
            )
            credentials = Credentials(
                client_id=_resolve(auth.client_id, "auth.clientId", environ, problems),
                client_secret=SecretStr(_resolve(auth.client_secret, "auth.clientSecret", environ, problems)),
            )
        spec = ConnectorSpec(
            name=entry.name,
            base_url=_UNRESOLVED_URL if base_url is None else base_url,
            auth_type=auth_type,
            headers=entry.headers,
            description=entry.description,
            test_url="" if test_url is None else test_url,
            oauth2=oauth2,
            rate_limit=entry.rate_limit.model_dump() if entry.rate_limit is not None else None,
        )
    except ValidationError as exc:
        # The connector models speak snake_case; the file speaks camelCase.
        raise ConfigError(problems + _problems(exc, camel=True)) from None
    if problems:
        raise ConfigError(problems)
    missing = credential_problems(spec, credentials)
    if missing:
        raise ConfigError([f"auth: {problem}" for problem in missing])
    return DesiredConnector(spec, credentials)


def _action(entry: Any, tenant_id: str | None) -> ActionDraft:
    if not isinstance(entry, Mapping):
        raise ConfigError(["expected a mapping of action attributes"])
    draft = parse_draft(entry)
    try:
        # Validates the templates and the field choices now, before anything is written.
        compile_action(tenant_id or "tenant", draft)
    except InvalidAction as exc:
        raise ConfigError(exc.problems) from None
    return draft


def _problems(exc: ValidationError, document: Any = None, *, camel: bool = False) -> list[str]:
    """`location: message` per problem, without the input; list indexes as `[i] (name)`."""
    lines = []
    for error in exc.errors(include_url=False, include_input=False, include_context=False):
        loc = [to_camel(part) if camel and isinstance(part, str) else part for part in error["loc"]]
        location = _location(loc, document)
        lines.append(f"{location}: {error['msg'].removeprefix('Value error, ')}")
    return list(dict.fromkeys(lines))


def _location(loc: Sequence[int | str], document: Any) -> str:
    parts: list[str] = []
    node = document
    for part in loc:
        if isinstance(part, int):
            name = node[part].get("name") if isinstance(node, list) and isinstance(node[part], dict) else None
            parts[-1:] = [f"{parts[-1] if parts else ''}[{part}]" + (f" ({name})" if name else "")]
            node = node[part] if isinstance(node, list) and part < len(node) else None
        else:
            # Discriminated unions add the tag (`basic`) to the location: it is not a key of the file.
            if part in _UNION_TAGS and not (isinstance(node, dict) and part in node):
                continue
            parts.append(part)
            node = node.get(part) if isinstance(node, dict) else None
    return ".".join(parts) or "config"
