"""What `connector create|update` were given, turned into the admin service's `ConnectorChanges`.

Imported when one of those commands runs (it loads pydantic and the connector models). Secrets
come from environment variables or standard input, read in a fixed order, and never from argv.
What the changes may be (which credentials an auth type takes, what is required) is the admin
service's to decide; here options are only read, and the service's answer is worded with the
options' names.
"""

from __future__ import annotations

import getpass
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TextIO

from pydantic import SecretStr

from eventrelay.admin import ConnectorChanges, CredentialChanges, InvalidConnector
from eventrelay.connectors import urls
from eventrelay.connectors.models import AuthType
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


def _url(options: ConnectorOptions, option: str, what: str, sources: SecretSources) -> str | None:
    """The URL from `--<option>`, `--<option>-env` or `--<option>-stdin` (mutually exclusive)."""
    plain: str | None = getattr(options, option)
    if plain is not None:
        return plain
    return _secret(getattr(options, f"{option}_env"), getattr(options, f"{option}_stdin"), what, sources)


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


def changes_from_options(
    options: ConnectorOptions, sources: SecretSources, *, ask_missing: bool
) -> ConnectorChanges:
    """The changes the options ask for; secrets are read in a fixed order (base URL, test URL,
    password, client secret, token headers) so several can be piped on stdin, one per line.

    `ask_missing` (create, on a terminal): prompt for the secret the chosen auth type needs.
    """
    oauth2 = {
        "grant": options.grant,
        "token_url": options.token_url,
        "scope": options.scope,
        "client_auth": options.client_auth,
        "token_content_type": options.token_content_type,
        "authorization_url": options.authorization_url,
        "redirect_url": options.redirect_url,
    }
    return ConnectorChanges(
        base_url=_url(options, "base_url", "base URL", sources),
        auth_type=AuthType(options.auth) if options.auth is not None else None,
        description=options.description,
        test_url=_url(options, "test_url", "test URL", sources),
        headers=pairs(options.header, "--header"),
        remove_headers=options.remove_header,
        oauth2={key: value for key, value in oauth2.items() if value is not None},
        credentials=_credential_changes(options, sources, ask_missing=ask_missing),
    )


def _credential_changes(
    options: ConnectorOptions, sources: SecretSources, *, ask_missing: bool
) -> CredentialChanges:
    # On a terminal, create asks for the secret its auth type cannot do without.
    prompt = ask_missing and sources.interactive
    password = _secret(options.password_env, options.password_stdin, "password", sources)
    if password is None and prompt and options.auth == AuthType.BASIC.value:
        password = sources.from_stdin("password")
    client_secret = _secret(options.client_secret_env, options.client_secret_stdin, "client secret", sources)
    if client_secret is None and prompt and options.auth == AuthType.OAUTH2.value:
        client_secret = sources.from_stdin("client secret")
    token_headers = {
        name: SecretStr(sources.from_env(variable, f"token header {name}"))
        for name, variable in pairs(options.token_header_env, "--token-header-env").items()
    }
    for name in options.token_header_stdin:
        token_headers[name] = SecretStr(sources.from_stdin(f"token header {name}"))
    return CredentialChanges(
        username=options.username,
        password=SecretStr(password) if password is not None else None,
        token_headers=token_headers,
        client_id=options.client_id,
        client_secret=SecretStr(client_secret) if client_secret is not None else None,
    )


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
    except InvalidConnector as exc:
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
