"""What `connector create|update` were given, turned into the admin API's request body.

Imported when one of those commands runs. Secrets come from environment variables or standard
input, read in a fixed order, and never from argv. What the changes may be (which credentials an
auth type takes, what is required) is the admin service's to decide; here options are only read,
and the service's answer is worded with the options' names.
"""

from __future__ import annotations

import getpass
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TextIO

from eventrelay.connectors import urls
from eventrelay.connectors.models import AuthType
from eventrelay.errors import InvalidResource
from eventrelay_cli.exit_codes import EXIT_USAGE, CliError
from eventrelay_cli.inputs import pairs


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
    rate_per_second: int | None = None
    rate_per_minute: int | None = None
    no_rate_limit: bool = False


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


def warn_plain_secret_urls(options: ConnectorOptions, auth_type: str, warn: Callable[[str], None]) -> None:
    """A URL-based connector's URL given in plain text: it works, but shell history and `ps` keep it."""
    if auth_type != AuthType.NONE.value:
        return
    for option, url in (("base-url", options.base_url), ("test-url", options.test_url)):
        if url is not None and urls.has_secret(url):
            warn(
                f"warning: --{option} shows this connector's secret URL to shell history and `ps`; "
                f"pass it with --{option}-env VARIABLE (or --{option}-stdin) instead"
            )


def body_from_options(
    options: ConnectorOptions, sources: SecretSources, *, ask_missing: bool
) -> dict[str, Any]:
    """The admin API body (`admin_api.connectors`) the options ask for: create's with `name`,
    update's (PATCH) with `removeHeaders`. Secrets are read in a fixed order (base URL, test URL,
    password, client secret, token headers) so several can be piped on stdin, one per line; a URL
    read from a variable or stdin goes in `credentials` (a secret), a plain `--base-url` does not.

    `ask_missing` (create, on a terminal): prompt for the secret the chosen auth type needs.
    """
    body: dict[str, Any] = {}
    credentials: dict[str, Any] = {}
    for option, field, what in (("base_url", "baseUrl", "base URL"), ("test_url", "testUrl", "test URL")):
        plain: str | None = getattr(options, option)
        if plain is not None:
            body[field] = plain
        else:
            secret = _secret(
                getattr(options, f"{option}_env"), getattr(options, f"{option}_stdin"), what, sources
            )
            if secret is not None:
                credentials[field] = secret
    oauth2 = {
        "grant": options.grant,
        "tokenUrl": options.token_url,
        "scope": options.scope,
        "clientAuth": options.client_auth,
        "tokenContentType": options.token_content_type,
        "authorizationUrl": options.authorization_url,
        "redirectUrl": options.redirect_url,
    }
    given: dict[str, Any] = {
        "authType": options.auth,
        "description": options.description,
        "headers": pairs(options.header, "--header") or None,
        "removeHeaders": list(options.remove_header) or None,
        "oauth2": {name: value for name, value in oauth2.items() if value is not None} or None,
    }
    body.update({name: value for name, value in given.items() if value is not None})
    rate_limit = {"perSecond": options.rate_per_second, "perMinute": options.rate_per_minute}
    if options.no_rate_limit:
        body["rateLimit"] = None
    elif any(value is not None for value in rate_limit.values()):
        body["rateLimit"] = {name: value for name, value in rate_limit.items() if value is not None}
    credentials.update(_credentials(options, sources, ask_missing=ask_missing))
    if credentials:
        body["credentials"] = credentials
    return body


def _credentials(options: ConnectorOptions, sources: SecretSources, *, ask_missing: bool) -> dict[str, Any]:
    # On a terminal, create asks for the secret its auth type cannot do without.
    prompt = ask_missing and sources.interactive
    password = _secret(options.password_env, options.password_stdin, "password", sources)
    if password is None and prompt and options.auth == AuthType.BASIC.value:
        password = sources.from_stdin("password")
    client_secret = _secret(options.client_secret_env, options.client_secret_stdin, "client secret", sources)
    if client_secret is None and prompt and options.auth == AuthType.OAUTH2.value:
        client_secret = sources.from_stdin("client secret")
    token_headers = {
        name: sources.from_env(variable, f"token header {name}")
        for name, variable in pairs(options.token_header_env, "--token-header-env").items()
    }
    for name in options.token_header_stdin:
        token_headers[name] = sources.from_stdin(f"token header {name}")
    given: dict[str, Any] = {
        "username": options.username,
        "password": password,
        "tokenHeaders": token_headers or None,
        "clientId": options.client_id,
        "clientSecret": client_secret,
    }
    return {name: value for name, value in given.items() if value is not None}


# The options that give each credential (the service names the credential, the user the option).
_CREDENTIAL_OPTIONS: dict[str, tuple[str, ...]] = {
    "username": ("username",),
    "password": ("password_env", "password_stdin"),
    "token_headers": ("token_header_env", "token_header_stdin"),
    "client_id": ("client_id",),
    "client_secret": ("client_secret_env", "client_secret_stdin"),
}
_OAUTH2_ELSEWHERE = "oauth2: OAuth 2.0 settings need auth type oauth2"


@contextmanager
def worded_for_options(options: ConnectorOptions) -> Iterator[None]:
    """The service's InvalidConnector with the options' names where it names a credential
    (`credentials.password: does not apply ...` -> `--password-env does not apply ...`)."""
    try:
        yield
    except InvalidResource as exc:
        # Raised in this process only (over --api an error is the API's message); the admin
        # package is loaded by then.
        from eventrelay.admin.errors import InvalidConnector

        if not isinstance(exc, InvalidConnector):
            raise
        worded = [_worded(problem, options) for problem in exc.problems]
        if worded == exc.problems:
            raise
        raise InvalidConnector(worded) from None


def _worded(problem: str, options: ConnectorOptions) -> str:
    if problem == _OAUTH2_ELSEWHERE:
        return "OAuth 2.0 options need --auth oauth2"
    location, separator, message = problem.partition(": ")
    credential = location.removeprefix("credentials.")
    if not separator or credential == location or credential not in _CREDENTIAL_OPTIONS:
        return problem
    given = [name for name in _CREDENTIAL_OPTIONS[credential] if getattr(options, name)]
    if not given:
        return problem
    return f"--{given[0].replace('_', '-')} {message}"


def _secret(variable: str | None, stdin: bool, what: str, sources: SecretSources) -> str | None:
    if variable is not None and stdin:
        raise CliError(f"{what}: give either an environment variable or --*-stdin, not both", EXIT_USAGE)
    if variable is not None:
        return sources.from_env(variable, what)
    if stdin:
        return sources.from_stdin(what)
    return None
