"""Connectors: where an external API lives and how to authenticate to it.

A connector's configuration (`ConnectorSpec`) is stored in the config table; its credentials
(`Credentials`) only in Secrets Manager. Credentials hold `SecretStr` values so that a stray
repr, log line or validation error shows `**********`, never the secret.

A URL-based connector (auth type `none`) has no credentials but its URL: its base URL and its
absolute test URL are secrets (see `urls`). A `ConnectorSpec` built with a real URL keeps it only in
memory (`secret_urls()`, as `Credentials.base_url`/`test_url`, for the store to save) and shows,
dumps and compares the redacted form `https://hooks.slack.com/[REDACTED:<fingerprint>]`. A redacted
form given back to the store (an update that keeps the URL) stands for the stored URL.

A call never works from the redacted form: it uses a `LoadedConnector`, the connector with its
secrets read once from Secrets Manager, whose `base_url`/`test_url` are the real URLs.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Annotated, Any, Self
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PrivateAttr, SecretStr, model_validator

from eventrelay.connectors import urls
from eventrelay.outbound.request import is_absolute_url, join_url
from eventrelay.tenants import TENANT_ID_PATTERN

CONNECTOR_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
HEADER_NAME_PATTERN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")


class AuthType(StrEnum):
    NONE = "none"
    BASIC = "basic"
    TOKEN = "token"  # noqa: S105 - a name, not a password
    OAUTH2 = "oauth2"


class OAuth2Grant(StrEnum):
    CLIENT_CREDENTIALS = "client_credentials"
    AUTHORIZATION_CODE = "authorization_code"


class ClientAuthMethod(StrEnum):
    """How the client authenticates to the token endpoint (RFC 6749 2.3.1)."""

    # Authorization: Basic header
    CLIENT_SECRET_BASIC = "client_secret_basic"  # noqa: S105 - a method name, not a secret
    # client_id and client_secret in the form body
    CLIENT_SECRET_POST = "client_secret_post"  # noqa: S105 - a method name, not a secret


class TokenContentType(StrEnum):
    """How the token request's parameters are written in its body."""

    # application/x-www-form-urlencoded, as RFC 6749 says (the default)
    FORM = "form"
    # application/json: a JSON object of the same parameters, for providers that expect it
    JSON = "json"


class HealthState(StrEnum):
    AUTHORIZED = "AUTHORIZED"
    DEAUTHORIZED = "DEAUTHORIZED"
    # An authorization-code connector nobody has authorized yet (`connector authorize`).
    PENDING_AUTHORIZATION = "PENDING_AUTHORIZATION"


def _http_url(value: str) -> str:
    if _CONTROL_CHARACTERS.search(value):
        raise ValueError("must not contain control characters")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises on an invalid port
    except ValueError:
        raise ValueError("must be an absolute http(s) URL") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an absolute http(s) URL")
    if "@" in parts.netloc:
        raise ValueError("must not carry credentials (user:password@); use the connector's auth")
    return value


def _no_control_characters(value: str) -> str:
    if _CONTROL_CHARACTERS.search(value.replace("\t", " ")):
        raise ValueError("must not contain control characters (CR, LF, NUL, ...)")
    return value


def _relative_or_absolute_url(value: str) -> str:
    if "://" in value:
        return _http_url(value)
    return _no_control_characters(value)


HttpUrlText = Annotated[str, Field(min_length=1, max_length=2048), AfterValidator(_http_url)]
ConnectorName = Annotated[str, Field(pattern=CONNECTOR_NAME_PATTERN.pattern)]
TenantIdText = Annotated[str, Field(pattern=TENANT_ID_PATTERN.pattern)]
HeaderName = Annotated[str, Field(min_length=1, max_length=256, pattern=HEADER_NAME_PATTERN.pattern)]
HeaderValue = Annotated[str, Field(max_length=8192), AfterValidator(_no_control_characters)]
ScopeText = Annotated[str, Field(max_length=2048), AfterValidator(_no_control_characters)]


def _secret_header_value(value: SecretStr) -> SecretStr:
    _no_control_characters(value.get_secret_value())
    return value


def _secret_url(value: SecretStr) -> SecretStr:
    _http_url(value.get_secret_value())
    return value


SecretHeaderValue = Annotated[SecretStr, AfterValidator(_secret_header_value)]
SecretUrl = Annotated[SecretStr, AfterValidator(_secret_url)]


class OAuth2Settings(BaseModel):
    """The non-secret half of an OAuth 2.0 configuration (client id and secret are credentials)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    grant: OAuth2Grant
    token_url: HttpUrlText
    scope: ScopeText = ""
    client_auth: ClientAuthMethod = ClientAuthMethod.CLIENT_SECRET_BASIC
    token_content_type: TokenContentType = TokenContentType.FORM
    authorization_url: HttpUrlText | None = None
    redirect_url: HttpUrlText | None = None

    @model_validator(mode="after")
    def _grant_needs(self) -> Self:
        if self.grant is OAuth2Grant.AUTHORIZATION_CODE and not (
            self.authorization_url and self.redirect_url
        ):
            raise ValueError("the authorization_code grant needs authorization_url and redirect_url")
        return self


# One limits-table item takes every counted call of a (tenant, connector); DynamoDB allows at most
# 1,000 writes per second on one item, so a faster limit could not be enforced.
MAX_CALLS_PER_SECOND = 1000
MAX_CALLS_PER_MINUTE = 60 * MAX_CALLS_PER_SECOND


class RateLimit(BaseModel):
    """A connector's outbound rate limit: calls per second and/or per minute, across all runners.

    Counted per tenant and connector in fixed windows aligned to UTC second/minute boundaries
    (`eventrelay.delivery.pacing`); a delivery over the limit waits on the queue.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    per_second: Annotated[int, Field(ge=1, le=MAX_CALLS_PER_SECOND)] | None = None
    per_minute: Annotated[int, Field(ge=1, le=MAX_CALLS_PER_MINUTE)] | None = None

    @model_validator(mode="after")
    def _limits_something(self) -> Self:
        if self.per_second is None and self.per_minute is None:
            raise ValueError("a rate limit needs per_second, per_minute or both")
        return self

    def to_view(self) -> dict[str, int | None]:
        """The camelCase form of bodies, views, the config table and `apply` files."""
        return {"perSecond": self.per_second, "perMinute": self.per_minute}

    @classmethod
    def from_view(cls, view: dict[str, Any]) -> RateLimit:
        return cls(per_second=view.get("perSecond"), per_minute=view.get("perMinute"))


class ConnectorSpec(BaseModel):
    """What an admin configures for a connector, without its credentials."""

    # A validation error must not echo a URL: for auth type none, the URL is the credential.
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    name: ConnectorName
    base_url: HttpUrlText
    auth_type: AuthType = AuthType.NONE
    headers: dict[HeaderName, HeaderValue] = Field(default_factory=dict)
    description: Annotated[str, Field(max_length=1024)] = ""
    # GET by "test connection"; absolute, or relative to base_url. Empty: base_url itself.
    test_url: Annotated[str, Field(max_length=2048), AfterValidator(_relative_or_absolute_url)] = ""
    oauth2: OAuth2Settings | None = None
    # None: calls are not paced (the default).
    rate_limit: RateLimit | None = None
    # Auth type none: the real base URL and absolute test URL given to this object, in memory
    # only (never dumped, shown or stored in the config table).
    _secret_urls: Credentials | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _oauth2_settings_match_auth_type(self) -> Self:
        if self.auth_type is AuthType.OAUTH2 and self.oauth2 is None:
            raise ValueError("auth_type oauth2 needs oauth2 settings")
        if self.auth_type is not AuthType.OAUTH2 and self.oauth2 is not None:
            raise ValueError("oauth2 settings are only allowed with auth_type oauth2")
        return self

    @model_validator(mode="after")
    def _keep_secret_urls_in_memory(self) -> Self:
        if self.auth_type is not AuthType.NONE:
            return self
        base = self.base_url if urls.has_secret(self.base_url) else None
        test = self.test_url if urls.is_absolute(self.test_url) and urls.has_secret(self.test_url) else None
        if base is None and test is None:
            return self
        # Frozen model: the fields are replaced once, here, while the object is being built.
        if base is not None:
            object.__setattr__(self, "base_url", urls.redacted_url(base))
        if test is not None:
            object.__setattr__(self, "test_url", urls.redacted_url(test))
        self._secret_urls = Credentials(
            base_url=SecretStr(base) if base is not None else None,
            test_url=SecretStr(test) if test is not None else None,
        )
        return self

    def secret_urls(self) -> Credentials | None:
        """The real URLs this object was given (auth type none), else None."""
        return self._secret_urls

    def resolve_url(self, url: str) -> str:
        """An absolute URL as given; a relative one joined to `base_url` (`outbound.request.join_url`).

        For a URL-based connector with a secret URL this is the form shown to admins; the URL a
        call sends comes from `LoadedConnector.resolve_url`.
        """
        return url if is_absolute_url(url) else join_url(self.base_url, url)

    @property
    def uses_authorization_code(self) -> bool:
        return self.oauth2 is not None and self.oauth2.grant is OAuth2Grant.AUTHORIZATION_CODE


class ConnectorHealth(BaseModel):
    model_config = ConfigDict(frozen=True)

    state: HealthState
    reason: str | None = None
    changed_at: str
    # Consecutive calls that ended in 401 although auth was applied (and refreshed, for OAuth).
    auth_failures: int = 0


class Connector(ConnectorSpec):
    """A stored connector: its spec plus what the service keeps about it."""

    tenant_id: TenantIdText
    health: ConnectorHealth
    revision: int = 1
    created_at: str
    updated_at: str
    secret_id: str | None = None
    # Auth type none with a secret URL: the secret holding the real URLs (see `urls`).
    url_secret_id: str | None = None


@dataclass(frozen=True)
class LoadedConnector:
    """A connector loaded for a call: its configuration, and its secrets read once from Secrets Manager.

    For a URL-based connector `base_url` and `test_url` are the real URLs (the configuration holds
    their redacted forms); a `Redactor` built from `credentials` masks them in what a call reports.
    """

    connector: Connector
    credentials: Credentials = field(repr=False)

    @property
    def base_url(self) -> str:
        real = self.credentials.base_url
        return real.get_secret_value() if real is not None else self.connector.base_url

    @property
    def test_url(self) -> str:
        real = self.credentials.test_url
        return real.get_secret_value() if real is not None else self.connector.test_url

    def resolve_url(self, url: str) -> str:
        """The URL a call sends: absolute as given, relative joined to the real base URL.

        Raises `outbound.request.UrlNotJoinable` when the base URL has a query or a fragment.
        """
        return url if is_absolute_url(url) else join_url(self.base_url, url)


class Credentials(BaseModel):
    """Everything secret about a connector; lives only in Secrets Manager.

    Configured by the admin: username/password (basic), token_headers (token), client_id and
    client_secret (oauth2), the real base URL and absolute test URL (none: the URL is the
    credential). Obtained by the service: access_token (+ expiry) and refresh_token.
    """

    # A validation error must not echo a secret it was given.
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    username: Annotated[str, Field(max_length=1024), AfterValidator(_no_control_characters)] | None = None
    password: SecretStr | None = None
    token_headers: dict[HeaderName, SecretHeaderValue] = Field(default_factory=dict)
    client_id: Annotated[str, Field(max_length=1024), AfterValidator(_no_control_characters)] | None = None
    client_secret: SecretStr | None = None
    access_token: SecretStr | None = None
    access_token_expires_at: float | None = None
    refresh_token: SecretStr | None = None
    base_url: SecretUrl | None = None
    test_url: SecretUrl | None = None

    def configured(self) -> Credentials:
        """Only what an admin configures (tokens obtained from a provider dropped)."""
        return self.model_copy(
            update={"access_token": None, "access_token_expires_at": None, "refresh_token": None}
        )

    def configured_fingerprint(self) -> bytes:
        """A digest of the configured part, to tell whether an update changes credentials."""
        canonical = json.dumps(self.configured().to_secret_dict(), sort_keys=True).encode("utf-8")
        return hashlib.sha256(canonical).digest()

    def with_tokens(self, access_token: str, expires_at: float, refresh_token: str | None) -> Credentials:
        return self.model_copy(
            update={
                "access_token": SecretStr(access_token),
                "access_token_expires_at": expires_at,
                "refresh_token": SecretStr(refresh_token) if refresh_token else self.refresh_token,
            }
        )

    def secret_values(self) -> list[str]:
        """Every secret value (for redaction); identifiers (username, client id) are not secrets."""
        values = [self.password, self.client_secret, self.access_token, self.refresh_token]
        values.extend(self.token_headers.values())
        revealed = [
            value.get_secret_value() for value in values if value is not None and value.get_secret_value()
        ]
        for url in (self.base_url, self.test_url):
            if url is not None:
                revealed.extend(urls.secret_values(url.get_secret_value()))
        return revealed

    def to_secret_dict(self) -> dict[str, Any]:
        def reveal(value: SecretStr | None) -> str | None:
            return value.get_secret_value() if value is not None else None

        document: dict[str, Any] = {
            "username": self.username,
            "password": reveal(self.password),
            "tokenHeaders": {name: value.get_secret_value() for name, value in self.token_headers.items()},
            "clientId": self.client_id,
            "clientSecret": reveal(self.client_secret),
            "accessToken": reveal(self.access_token),
            "accessTokenExpiresAt": self.access_token_expires_at,
            "refreshToken": reveal(self.refresh_token),
            "baseUrl": reveal(self.base_url),
            "testUrl": reveal(self.test_url),
        }
        return {key: value for key, value in document.items() if value not in (None, {})}

    def to_secret_json(self) -> str:
        return json.dumps(self.to_secret_dict(), sort_keys=True)

    @classmethod
    def from_secret_json(cls, text: str) -> Credentials:
        data = json.loads(text)
        return cls(
            username=data.get("username"),
            password=data.get("password"),
            token_headers=data.get("tokenHeaders") or {},
            client_id=data.get("clientId"),
            client_secret=data.get("clientSecret"),
            access_token=data.get("accessToken"),
            access_token_expires_at=data.get("accessTokenExpiresAt"),
            refresh_token=data.get("refreshToken"),
            base_url=data.get("baseUrl"),
            test_url=data.get("testUrl"),
        )


def credential_problems(spec: ConnectorSpec, credentials: Credentials | None) -> list[str]:
    """What the credentials lack for the spec's auth type (field names only, never values)."""
    creds = credentials or Credentials()
    problems: list[str] = []
    if spec.auth_type is AuthType.BASIC:
        if not creds.username:
            problems.append("basic auth needs a username")
        elif ":" in creds.username:
            problems.append("a basic-auth username must not contain ':'")
        if creds.password is None or not creds.password.get_secret_value():
            problems.append("basic auth needs a password")
    elif spec.auth_type is AuthType.TOKEN:
        if not creds.token_headers:
            problems.append("token auth needs at least one header")
        problems.extend(
            f"token header {name} has an empty value"
            for name, value in creds.token_headers.items()
            if not value.get_secret_value()
        )
    elif spec.auth_type is AuthType.OAUTH2:
        if not creds.client_id:
            problems.append("oauth2 needs a client_id")
        if creds.client_secret is None or not creds.client_secret.get_secret_value():
            problems.append("oauth2 needs a client_secret")
    return problems


def needs_secret(auth_type: AuthType) -> bool:
    return auth_type is not AuthType.NONE
