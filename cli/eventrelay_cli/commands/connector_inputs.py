"""What `connector create|update` were given, turned into a connector definition and credentials.

Imported when one of those commands runs (it loads pydantic and the connector models). Secrets
come from environment variables or standard input, read in a fixed order, and never from argv.
"""

from __future__ import annotations

import getpass
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TextIO

from pydantic import SecretStr, ValidationError

from eventrelay.admin import connector_spec
from eventrelay.connectors import urls
from eventrelay.connectors.models import (
    AuthType,
    Connector,
    ConnectorSpec,
    Credentials,
    OAuth2Grant,
    OAuth2Settings,
)
from eventrelay_cli.exit_codes import EXIT_USAGE, CliError
from eventrelay_cli.inputs import pairs, problems_of


@dataclass(frozen=True)
class ConnectorOptions:
    """The options of `connector create` and `connector update` (None: not given)."""

    tenant_id: str
    name: str
    base_url: str | None
    base_url_env: str | None
    base_url_stdin: bool
    auth: str | None
    header: tuple[str, ...]
    description: str | None
    test_url: str | None
    test_url_env: str | None
    test_url_stdin: bool
    username: str | None
    password_env: str | None
    password_stdin: bool
    token_header_env: tuple[str, ...]
    token_header_stdin: tuple[str, ...]
    grant: str | None
    token_url: str | None
    scope: str | None
    client_auth: str | None
    authorization_url: str | None
    redirect_url: str | None
    client_id: str | None
    client_secret_env: str | None
    client_secret_stdin: bool
    remove_header: tuple[str, ...] = ()
    token_content_type: str | None = None


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


def _oauth2_settings(options: ConnectorOptions, current: OAuth2Settings | None) -> OAuth2Settings:
    base: dict[str, Any] = current.model_dump() if current is not None else {}
    given = {
        "grant": options.grant,
        "token_url": options.token_url,
        "scope": options.scope,
        "client_auth": options.client_auth,
        "token_content_type": options.token_content_type,
        "authorization_url": options.authorization_url,
        "redirect_url": options.redirect_url,
    }
    base.update({key: value for key, value in given.items() if value is not None})
    base.setdefault("grant", OAuth2Grant.CLIENT_CREDENTIALS)
    try:
        return OAuth2Settings.model_validate(base)
    except ValidationError as exc:
        raise CliError("oauth2: " + problems_of(exc), EXIT_USAGE) from None


def _oauth_flags_given(options: ConnectorOptions) -> bool:
    return any(
        getattr(options, name) is not None
        for name in (
            "grant",
            "token_url",
            "scope",
            "client_auth",
            "token_content_type",
            "authorization_url",
            "redirect_url",
        )
    )


def _url(options: ConnectorOptions, option: str, what: str, sources: SecretSources) -> str | None:
    """The URL from `--<option>`, `--<option>-env` or `--<option>-stdin` (mutually exclusive)."""
    plain: str | None = getattr(options, option)
    if plain is not None:
        return plain
    return _secret(getattr(options, f"{option}_env"), getattr(options, f"{option}_stdin"), what, sources)


def _warn_plain_secret_urls(
    options: ConnectorOptions, auth_type: AuthType, warn: Callable[[str], None]
) -> None:
    """A URL-based connector's URL given in plain text: it works, but shell history and `ps` keep it."""
    if auth_type is not AuthType.NONE:
        return
    for option, url in (("base-url", options.base_url), ("test-url", options.test_url)):
        if url is not None and urls.has_secret(url):
            warn(
                f"warning: --{option} shows this connector's secret URL to shell history and `ps`; "
                f"pass it with --{option}-env VARIABLE (or --{option}-stdin) instead"
            )


def spec_from_options(
    options: ConnectorOptions, current: Connector | None, sources: SecretSources, warn: Callable[[str], None]
) -> ConnectorSpec:
    """The connector's definition after this command: the current one with the options laid over it."""
    base: dict[str, Any] = connector_spec(current).model_dump() if current is not None else {}
    base["name"] = options.name
    for attribute, value in (
        ("base_url", _url(options, "base_url", "base URL", sources)),
        ("auth_type", options.auth),
        ("description", options.description),
        ("test_url", _url(options, "test_url", "test URL", sources)),
    ):
        if value is not None:
            base[attribute] = value
    headers = dict(base.get("headers") or {})
    for name in options.remove_header:
        headers = {key: value for key, value in headers.items() if key.lower() != name.lower()}
    headers.update(pairs(options.header, "--header"))
    base["headers"] = headers
    auth_type = AuthType(base.get("auth_type", AuthType.NONE))
    _warn_plain_secret_urls(options, auth_type, warn)
    if auth_type is AuthType.OAUTH2:
        base["oauth2"] = _oauth2_settings(options, current.oauth2 if current is not None else None)
    else:
        if _oauth_flags_given(options):
            raise CliError("OAuth 2.0 options need --auth oauth2", EXIT_USAGE)
        base["oauth2"] = None
    if "base_url" not in base:
        raise CliError("--base-url, --base-url-env or --base-url-stdin is required", EXIT_USAGE)
    try:
        return ConnectorSpec.model_validate(base)
    except ValidationError as exc:
        raise CliError(problems_of(exc), EXIT_USAGE) from None


def credentials_from_options(
    options: ConnectorOptions,
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
    wrong_kind = _flags_for_other_auth(options, spec.auth_type)
    if wrong_kind:
        raise CliError(f"{wrong_kind} does not apply to auth type {spec.auth_type.value}", EXIT_USAGE)
    if spec.auth_type is AuthType.NONE:
        return None
    base = current.configured() if current is not None else Credentials()
    changes = _credential_changes(options, spec.auth_type, base, sources, ask_missing=ask_missing)
    if not changes and current is not None:
        return None  # nothing to change: the stored credentials stay as they are
    try:
        return Credentials.model_validate({**base.model_dump(), **changes})
    except ValidationError as exc:
        raise CliError("credentials: " + problems_of(exc), EXIT_USAGE) from None


def _credential_changes(
    options: ConnectorOptions,
    auth_type: AuthType,
    base: Credentials,
    sources: SecretSources,
    *,
    ask_missing: bool,
) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    if auth_type is AuthType.BASIC:
        if options.username is not None:
            changes["username"] = options.username
        password = _secret(options.password_env, options.password_stdin, "password", sources)
        if password is None and ask_missing and base.password is None and sources.interactive:
            password = sources.from_stdin("password")
        if password is not None:
            changes["password"] = SecretStr(password)
    elif auth_type is AuthType.OAUTH2:
        if options.client_id is not None:
            changes["client_id"] = options.client_id
        secret = _secret(options.client_secret_env, options.client_secret_stdin, "client secret", sources)
        if secret is None and ask_missing and base.client_secret is None and sources.interactive:
            secret = sources.from_stdin("client secret")
        if secret is not None:
            changes["client_secret"] = SecretStr(secret)
    elif auth_type is AuthType.TOKEN and (options.token_header_env or options.token_header_stdin):
        headers = dict(base.token_headers)
        for name, variable in pairs(options.token_header_env, "--token-header-env").items():
            headers[name] = SecretStr(sources.from_env(variable, f"token header {name}"))
        for name in options.token_header_stdin or ():
            headers[name] = SecretStr(sources.from_stdin(f"token header {name}"))
        changes["token_headers"] = headers
    return changes


def _flags_for_other_auth(options: ConnectorOptions, auth_type: AuthType) -> str | None:
    by_kind = {
        AuthType.BASIC: ("username", "password_env", "password_stdin"),
        AuthType.TOKEN: ("token_header_env", "token_header_stdin"),
        AuthType.OAUTH2: ("client_id", "client_secret_env", "client_secret_stdin"),
    }
    for kind, names in by_kind.items():
        if kind is auth_type:
            continue
        for name in names:
            if getattr(options, name):
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
