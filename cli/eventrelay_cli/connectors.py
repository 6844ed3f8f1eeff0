"""`eventrelay connector create|list|show|update|delete|test|authorize`.

Secrets never appear on the command line (where shell history and `ps` would keep them) and are
never printed. Each one comes from an environment variable the command names
(`--password-env JIRA_PASSWORD`) or from standard input (`--password-stdin`: one line per secret,
in the order base URL, test URL, password, client secret, token headers; on a terminal, a prompt
without echo). `create` asks for a missing required secret the same way when standard input is a
terminal.

A URL-based connector (auth none, e.g. a Slack incoming webhook) is authenticated by its URL: give
it with `--base-url-env SLACK_WEBHOOK_URL` or `--base-url-stdin` (and an absolute test URL with
`--test-url-env`/`--test-url-stdin`). A plain `--base-url`/`--test-url` still works for it, with a
warning on stderr; the URL is then stored in Secrets Manager and shown redacted.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TextIO

from pydantic import SecretStr, ValidationError

from eventrelay.actions import ActionStore
from eventrelay.admin_actions import connector_spec, connector_view
from eventrelay.clock import iso_utc
from eventrelay.connectors import urls
from eventrelay.connectors.errors import (
    ConnectorConflict,
    ConnectorExists,
    ConnectorNotFound,
    InvalidConnectorCredentials,
    NotAuthorizationCode,
)
from eventrelay.connectors.models import (
    AuthType,
    ClientAuthMethod,
    Connector,
    ConnectorSpec,
    Credentials,
    OAuth2Grant,
    OAuth2Settings,
)
from eventrelay.connectors.wiring import ConnectorServices, build_connector_services
from eventrelay.errors import DependencyFailure
from eventrelay_cli.admin_args import pairs, problems_of, require_tenant
from eventrelay_cli.context import EXIT_CONFLICT, EXIT_FAILURE, EXIT_NOT_FOUND, EXIT_USAGE, CliError


def _services(args: argparse.Namespace) -> ConnectorServices:
    return build_connector_services(args.context.settings)


@dataclass
class SecretSources:
    """Where each secret of a create/update comes from; reads stdin lines in a fixed order."""

    environ: Mapping[str, str]
    stdin: TextIO
    prompt: Callable[[str], str] = getpass.getpass

    def from_env(self, variable: str, what: str) -> str:
        value = self.environ.get(variable)
        if value is None:
            raise CliError(f"{what}: environment variable {variable} is not set", EXIT_USAGE)
        if not value:
            raise CliError(f"{what}: environment variable {variable} is empty", EXIT_USAGE)
        return value

    def from_stdin(self, what: str) -> str:
        # On a terminal, a prompt without echo; otherwise one line of the piped input.
        value = self.prompt(f"{what}: ") if self.stdin.isatty() else self.stdin.readline().rstrip("\r\n")
        if not value:
            raise CliError(f"{what}: no value on standard input", EXIT_USAGE)
        return value

    @property
    def interactive(self) -> bool:
        return self.stdin.isatty()


def _secret_sources(args: argparse.Namespace) -> SecretSources:
    return SecretSources(environ=os.environ, stdin=sys.stdin)


def _oauth2_settings(args: argparse.Namespace, current: OAuth2Settings | None) -> OAuth2Settings:
    base: dict[str, Any] = current.model_dump() if current is not None else {}
    given = {
        "grant": args.grant,
        "token_url": args.token_url,
        "scope": args.scope,
        "client_auth": args.client_auth,
        "authorization_url": args.authorization_url,
        "redirect_url": args.redirect_url,
    }
    base.update({key: value for key, value in given.items() if value is not None})
    base.setdefault("grant", OAuth2Grant.CLIENT_CREDENTIALS)
    try:
        return OAuth2Settings.model_validate(base)
    except ValidationError as exc:
        raise CliError("oauth2: " + problems_of(exc), EXIT_USAGE) from None


def _oauth_flags_given(args: argparse.Namespace) -> bool:
    return any(
        getattr(args, name) is not None
        for name in ("grant", "token_url", "scope", "client_auth", "authorization_url", "redirect_url")
    )


def _url(args: argparse.Namespace, option: str, what: str, sources: SecretSources) -> str | None:
    """The URL from `--<option>`, `--<option>-env` or `--<option>-stdin` (mutually exclusive)."""
    plain: str | None = getattr(args, option)
    if plain is not None:
        return plain
    return _secret(getattr(args, f"{option}_env"), getattr(args, f"{option}_stdin"), what, sources)


def _warn_plain_secret_urls(args: argparse.Namespace, auth_type: AuthType) -> None:
    """A URL-based connector's URL given in plain text: it works, but shell history and `ps` keep it."""
    if auth_type is not AuthType.NONE:
        return
    for option, url in (("base-url", args.base_url), ("test-url", args.test_url)):
        if url is not None and urls.has_secret(url):
            args.context.info(
                f"warning: --{option} shows this connector's secret URL to shell history and `ps`; "
                f"pass it with --{option}-env VARIABLE (or --{option}-stdin) instead"
            )


def _spec(args: argparse.Namespace, current: Connector | None, sources: SecretSources) -> ConnectorSpec:
    base: dict[str, Any] = connector_spec(current).model_dump() if current is not None else {}
    base["name"] = args.name
    for attribute, value in (
        ("base_url", _url(args, "base_url", "base URL", sources)),
        ("auth_type", args.auth),
        ("description", args.description),
        ("test_url", _url(args, "test_url", "test URL", sources)),
    ):
        if value is not None:
            base[attribute] = value
    headers = dict(base.get("headers") or {})
    for name in getattr(args, "remove_header", None) or ():
        headers = {key: value for key, value in headers.items() if key.lower() != name.lower()}
    headers.update(pairs(args.header, "--header"))
    base["headers"] = headers
    auth_type = AuthType(base.get("auth_type", AuthType.NONE))
    _warn_plain_secret_urls(args, auth_type)
    if auth_type is AuthType.OAUTH2:
        base["oauth2"] = _oauth2_settings(args, current.oauth2 if current is not None else None)
    else:
        if _oauth_flags_given(args):
            raise CliError("OAuth 2.0 options need --auth oauth2", EXIT_USAGE)
        base["oauth2"] = None
    if "base_url" not in base:
        raise CliError("--base-url, --base-url-env or --base-url-stdin is required", EXIT_USAGE)
    try:
        return ConnectorSpec.model_validate(base)
    except ValidationError as exc:
        raise CliError(problems_of(exc), EXIT_USAGE) from None


def _credentials(
    args: argparse.Namespace,
    spec: ConnectorSpec,
    current: Credentials | None,
    sources: SecretSources,
    *,
    ask_missing: bool,
) -> Credentials | None:
    """The configured credentials after this command: the current ones with the given changes.

    Secrets are read in a fixed order (password, client secret, token headers) so that several
    of them can be piped on standard input, one per line.
    """
    wrong_kind = _flags_for_other_auth(args, spec.auth_type)
    if wrong_kind:
        raise CliError(f"{wrong_kind} does not apply to auth type {spec.auth_type.value}", EXIT_USAGE)
    if spec.auth_type is AuthType.NONE:
        return None
    base = current.configured() if current is not None else Credentials()
    changes = _credential_changes(args, spec.auth_type, base, sources, ask_missing=ask_missing)
    if not changes and current is not None:
        return None  # nothing to change: the stored credentials stay as they are
    try:
        return Credentials.model_validate({**base.model_dump(), **changes})
    except ValidationError as exc:
        raise CliError("credentials: " + problems_of(exc), EXIT_USAGE) from None


def _credential_changes(
    args: argparse.Namespace,
    auth_type: AuthType,
    base: Credentials,
    sources: SecretSources,
    *,
    ask_missing: bool,
) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    if auth_type is AuthType.BASIC:
        if args.username is not None:
            changes["username"] = args.username
        password = _secret(args.password_env, args.password_stdin, "password", sources)
        if password is None and ask_missing and base.password is None and sources.interactive:
            password = sources.from_stdin("password")
        if password is not None:
            changes["password"] = SecretStr(password)
    elif auth_type is AuthType.OAUTH2:
        if args.client_id is not None:
            changes["client_id"] = args.client_id
        secret = _secret(args.client_secret_env, args.client_secret_stdin, "client secret", sources)
        if secret is None and ask_missing and base.client_secret is None and sources.interactive:
            secret = sources.from_stdin("client secret")
        if secret is not None:
            changes["client_secret"] = SecretStr(secret)
    elif auth_type is AuthType.TOKEN and (args.token_header_env or args.token_header_stdin):
        headers = dict(base.token_headers)
        for name, variable in pairs(args.token_header_env, "--token-header-env").items():
            headers[name] = SecretStr(sources.from_env(variable, f"token header {name}"))
        for name in args.token_header_stdin or ():
            headers[name] = SecretStr(sources.from_stdin(f"token header {name}"))
        changes["token_headers"] = headers
    return changes


def _flags_for_other_auth(args: argparse.Namespace, auth_type: AuthType) -> str | None:
    by_kind = {
        AuthType.BASIC: ("username", "password_env", "password_stdin"),
        AuthType.TOKEN: ("token_header_env", "token_header_stdin"),
        AuthType.OAUTH2: ("client_id", "client_secret_env", "client_secret_stdin"),
    }
    for kind, names in by_kind.items():
        if kind is auth_type:
            continue
        for name in names:
            if getattr(args, name):
                return "--" + name.replace("_", "-")
    return None


def _secret(variable: str | None, stdin: bool, what: str, sources: SecretSources) -> str | None:
    if variable is not None and stdin:
        raise CliError(f"{what}: give either an environment variable or --*-stdin, not both", EXIT_USAGE)
    if variable is not None:
        return sources.from_env(variable, what)
    if stdin:
        return sources.from_stdin(what)
    return None


def _get(services: ConnectorServices, tenant_id: str, name: str) -> Connector:
    try:
        return services.store.get(tenant_id, name)
    except ConnectorNotFound:
        raise CliError(f"connector {name!r} not found for tenant {tenant_id!r}", EXIT_NOT_FOUND) from None


def _guarded(operation: Callable[[], int]) -> int:
    """Map the connectors' typed errors to CLI errors (their messages never carry secrets)."""
    try:
        return operation()
    except InvalidConnectorCredentials as exc:
        raise CliError(
            f"credentials: {exc.message} (secrets come from --*-env VARIABLE or --*-stdin)", EXIT_USAGE
        ) from None
    except ConnectorExists as exc:
        raise CliError(exc.message, EXIT_CONFLICT) from None
    except ConnectorNotFound as exc:  # deleted while the command ran
        raise CliError(exc.message, EXIT_NOT_FOUND) from None
    except ConnectorConflict as exc:
        raise CliError(exc.message, EXIT_CONFLICT) from None
    except NotAuthorizationCode as exc:
        raise CliError(exc.message, EXIT_USAGE) from None
    except DependencyFailure as exc:
        raise CliError(
            f"AWS is unavailable ({exc}); nothing was changed or the change is partial", 1
        ) from None


def _summary(view: dict[str, Any], verb: str) -> str:
    line = (
        f"{verb} connector {view['name']} ({view['authType']}) for tenant {view['tenantId']}: "
        f"health {view['health']['state']}"
    )
    if view["health"]["state"] == "PENDING_AUTHORIZATION":
        line += f"\nnext: eventrelay connector authorize {view['tenantId']} {view['name']}"
    return line


def connector_create(args: argparse.Namespace) -> int:
    def run() -> int:
        require_tenant(args.context.settings, args.tenant_id)
        services = _services(args)
        sources = _secret_sources(args)
        spec = _spec(args, None, sources)
        credentials = _credentials(args, spec, None, sources, ask_missing=True)
        connector = services.store.create(args.tenant_id, spec, credentials)
        # Auth type none: its secret URLs are what the view reports as set.
        view = connector_view(connector, credentials if credentials is not None else spec.secret_urls())
        args.context.emit(view, lambda v: _summary(v, "created"))
        return 0

    return _guarded(run)


def connector_update(args: argparse.Namespace) -> int:
    def run() -> int:
        services = _services(args)
        current = _get(services, args.tenant_id, args.name)
        sources = _secret_sources(args)
        spec = _spec(args, current, sources)
        stored = services.store.load_credentials(current) if current.secret_id else None
        same_auth = spec.auth_type is current.auth_type
        credentials = _credentials(
            args, spec, stored if same_auth else None, sources, ask_missing=not same_auth
        )
        updated = services.store.update(args.tenant_id, spec, credentials)
        changed = updated.revision != current.revision
        view = connector_view(updated, services.store.load_credentials(updated))
        args.context.emit(
            {**view, "changed": changed},
            lambda v: _summary(v, "updated") if changed else f"connector {v['name']}: unchanged",
        )
        return 0

    return _guarded(run)


def connector_list(args: argparse.Namespace) -> int:
    def run() -> int:
        rows = [connector_view(c) for c in _services(args).store.list(args.tenant_id)]
        args.context.emit(
            rows,
            lambda rs: (
                "\n".join(f"{r['name']}\t{r['authType']}\t{r['health']['state']}\t{r['baseUrl']}" for r in rs)
                or "(no connectors)"
            ),
        )
        return 0

    return _guarded(run)


def connector_show(args: argparse.Namespace) -> int:
    def run() -> int:
        services = _services(args)
        connector = _get(services, args.tenant_id, args.name)
        args.context.emit(connector_view(connector, services.store.load_credentials(connector)))
        return 0

    return _guarded(run)


def connector_delete(args: argparse.Namespace) -> int:
    def run() -> int:
        services = _services(args)
        _get(services, args.tenant_id, args.name)
        users = [
            a.name
            for a in ActionStore.from_settings(args.context.settings).list(
                args.tenant_id, connector=args.name
            )
        ]
        if users and not args.force:
            raise CliError(
                f"connector {args.name!r} is used by action(s) {', '.join(users)}: "
                "delete them first, or pass --force",
                EXIT_CONFLICT,
            )
        services.store.delete(args.tenant_id, args.name)
        args.context.emit({"deleted": True, "name": args.name}, lambda _: f"deleted connector {args.name}")
        return 0

    return _guarded(run)


def connector_test(args: argparse.Namespace) -> int:
    def run() -> int:
        services = _services(args)
        connector = _get(services, args.tenant_id, args.name)
        result = services.caller.test_connection(connector)
        view = result.to_dict(args.body_limit)

        def human(v: dict[str, Any]) -> str:
            status = f"HTTP {v['status']}" if v["status"] is not None else "no response"
            lines = [
                f"GET {v['url']}: {v['outcome']}, {status} in {v['durationMs']} ms (health {v['health']})"
            ]
            if v["error"]:
                lines.append(f"error: {v['error']}")
            if v["body"]:
                lines += ["", v["body"] + (" [truncated]" if v["bodyTruncated"] else "")]
            return "\n".join(lines)

        args.context.emit(view, human)
        return 0 if result.ok else EXIT_FAILURE

    return _guarded(run)


def connector_authorize(args: argparse.Namespace) -> int:
    def run() -> int:
        services = _services(args)
        _get(services, args.tenant_id, args.name)
        started = services.authorizer.start(args.tenant_id, args.name)
        view = {"url": started.url, "expiresAt": iso_utc(started.expires_at)}
        args.context.emit(
            view,
            lambda v: (
                f"Open this URL in a browser and grant access (valid until {v['expiresAt']}):\n{v['url']}"
            ),
        )
        return 0

    return _guarded(run)


def _add_spec_options(parser: argparse.ArgumentParser, *, update: bool) -> None:
    parser.add_argument("tenant_id")
    parser.add_argument("name")
    base_url = parser.add_mutually_exclusive_group(required=not update)
    base_url.add_argument("--base-url", help="the API's base URL (http or https)")
    base_url.add_argument(
        "--base-url-env",
        metavar="VARIABLE",
        help="read the base URL from this variable (for a secret webhook URL, auth none)",
    )
    base_url.add_argument("--base-url-stdin", action="store_true", help="read the base URL from stdin")
    parser.add_argument(
        "--auth",
        choices=[kind.value for kind in AuthType],
        default=None if update else AuthType.NONE.value,
        help="authentication (default none)",
    )
    parser.add_argument(
        "--header", action="append", metavar="NAME=VALUE", help="a header sent on every call (repeatable)"
    )
    if update:
        parser.add_argument("--remove-header", action="append", metavar="NAME", help="drop a header")
    parser.add_argument("--description")
    test_url = parser.add_mutually_exclusive_group()
    test_url.add_argument("--test-url", help="URL `connector test` GETs (absolute, or relative to the base)")
    test_url.add_argument("--test-url-env", metavar="VARIABLE", help="read the test URL from this variable")
    test_url.add_argument("--test-url-stdin", action="store_true", help="read the test URL from stdin")

    basic = parser.add_argument_group("basic auth")
    basic.add_argument("--username")
    basic.add_argument("--password-env", metavar="VARIABLE", help="read the password from this variable")
    basic.add_argument("--password-stdin", action="store_true", help="read the password from stdin")

    token = parser.add_argument_group("token auth (header key/values)")
    token.add_argument(
        "--token-header-env",
        action="append",
        metavar="NAME=VARIABLE",
        help="a header whose value is read from an environment variable (repeatable)",
    )
    token.add_argument(
        "--token-header-stdin",
        action="append",
        metavar="NAME",
        help="a header whose value is read from stdin, one line each (repeatable)",
    )

    oauth = parser.add_argument_group("oauth2")
    oauth.add_argument("--grant", choices=[grant.value for grant in OAuth2Grant])
    oauth.add_argument("--token-url")
    oauth.add_argument("--scope")
    oauth.add_argument(
        "--client-auth",
        choices=[method.value for method in ClientAuthMethod],
        help="how the client authenticates to the token endpoint (default client_secret_basic)",
    )
    oauth.add_argument("--authorization-url", help="authorization_code grant: the provider's consent page")
    oauth.add_argument("--redirect-url", help="authorization_code grant: this stack's /oauth/callback URL")
    oauth.add_argument("--client-id")
    oauth.add_argument("--client-secret-env", metavar="VARIABLE", help="read the client secret from this")
    oauth.add_argument("--client-secret-stdin", action="store_true", help="read the client secret from stdin")


def register(subparsers: Any) -> None:
    connector = subparsers.add_parser(
        "connector",
        help="external APIs and how to authenticate to them",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    ).add_subparsers(dest="action", metavar="ACTION", required=True)

    create = connector.add_parser(
        "create", help="create a connector (credentials from environment variables or stdin)"
    )
    _add_spec_options(create, update=False)
    create.set_defaults(handler=connector_create)

    update = connector.add_parser("update", help="change a connector; options not given keep their value")
    _add_spec_options(update, update=True)
    update.set_defaults(handler=connector_update)

    lst = connector.add_parser("list", help="a tenant's connectors and their health")
    lst.add_argument("tenant_id")
    lst.set_defaults(handler=connector_list)

    show = connector.add_parser("show", help="one connector (which credentials are set, never their values)")
    show.add_argument("tenant_id")
    show.add_argument("name")
    show.set_defaults(handler=connector_show)

    delete = connector.add_parser("delete", help="delete a connector and its credentials")
    delete.add_argument("tenant_id")
    delete.add_argument("name")
    delete.add_argument("--force", action="store_true", help="delete even if actions use it")
    delete.set_defaults(handler=connector_delete)

    test = connector.add_parser("test", help="test connection: GET the test URL with the connector's auth")
    test.add_argument("tenant_id")
    test.add_argument("name")
    test.add_argument("--body-limit", type=int, default=2048, help="characters of the body to show")
    test.set_defaults(handler=connector_test)

    authorize = connector.add_parser(
        "authorize", help="print the URL to open for the OAuth 2.0 authorization-code grant"
    )
    authorize.add_argument("tenant_id")
    authorize.add_argument("name")
    authorize.set_defaults(handler=connector_authorize)
