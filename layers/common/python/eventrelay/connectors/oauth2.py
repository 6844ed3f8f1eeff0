"""OAuth 2.0 client side (RFC 6749): the token endpoint and the authorization URL.

A token request's parameters are form-encoded (RFC 6749, the default) or, for providers that
expect it, a JSON object (`OAuth2Settings.token_content_type`); the client authentication is the
same either way. Token requests go through the same OutboundClient as every other call (SSRF guard, timeouts,
caps). Errors carry the RFC error code only: a provider's error_description may echo what it
was sent, so it is never kept.

Token endpoint answers are read defensively: at most `MAX_TOKEN_RESPONSE_BYTES`, JSON nested at
most `MAX_TOKEN_RESPONSE_DEPTH` levels (checked before parsing, so no answer can exhaust the
stack), and the tokens are checked on receipt: printable ASCII only (a CR/LF or other control
character would break every request that carries it) and at most `MAX_TOKEN_CHARS` long. An answer
that fails these checks is `InvalidTokenResponse` (a `TokenRequestRefused`): the connector is
deauthorized with the reason, and nothing from the answer is stored.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, quote_plus, urlencode, urlsplit, urlunsplit

from eventrelay.clock import Clock, system_clock
from eventrelay.connectors.models import ClientAuthMethod, Credentials, OAuth2Settings, TokenContentType
from eventrelay.outbound.client import OutboundClient
from eventrelay.outbound.outcome import OutcomeKind
from eventrelay.outbound.request import OutboundRequest

# Used when a token response has no expires_in (RFC 6749 5.1 makes it optional).
DEFAULT_TOKEN_LIFETIME_SECONDS = 3600
# RFC 6749 5.2: error codes are printable ASCII without '"' and '\'.
_ERROR_CODE = re.compile(r"^[\x20\x21\x23-\x5b\x5d-\x7e]{1,64}$")
# A token answer is a small JSON object; anything larger or deeper is not one.
MAX_TOKEN_RESPONSE_BYTES = 65_536
MAX_TOKEN_RESPONSE_DEPTH = 32
# Long enough for large JWTs (with many claims), far below what a header or a secret can carry.
MAX_TOKEN_CHARS = 16_384
# RFC 6749 A.12/A.17: tokens are VSCHAR, printable ASCII.
_TOKEN = re.compile(r"[\x20-\x7e]+")


class TokenEndpointUnavailable(Exception):
    """The token endpoint could not answer now (connection error, timeout, 5xx, 429): retry later."""

    def __init__(self, detail: str, retry_after_seconds: float | None = None) -> None:
        super().__init__(f"token endpoint unavailable ({detail})")
        self.detail = detail
        self.retry_after_seconds = retry_after_seconds


class TokenRequestRefused(Exception):
    """The token endpoint refused the grant (e.g. invalid_grant, invalid_client): an admin must act."""

    def __init__(self, error_code: str, status: int | None) -> None:
        super().__init__(f"token endpoint refused the request ({error_code})")
        self.error_code = error_code
        self.status = status


class InvalidTokenResponse(TokenRequestRefused):
    """The token endpoint answered 200 with something that is not a usable token response.

    `reason` says what is wrong (never a value): the connector is deauthorized with it.
    """

    def __init__(self, reason: str) -> None:
        super().__init__("invalid_token_response", 200)
        self.reason = reason


@dataclass(frozen=True)
class TokenGrant:
    access_token: str = field(repr=False)
    expires_at: float
    refresh_token: str | None = field(default=None, repr=False)
    scope: str | None = None


def client_basic_authorization(client_id: str, client_secret: str) -> str:
    """RFC 6749 2.3.1: both values form-urlencoded, then joined and base64-encoded."""
    joined = f"{quote_plus(client_id)}:{quote_plus(client_secret)}"
    return "Basic " + base64.b64encode(joined.encode()).decode("ascii")


def authorization_url(settings: OAuth2Settings, client_id: str, state: str) -> str:
    """The URL an admin opens to authorize (RFC 6749 4.1.1); the endpoint's own query is kept."""
    if settings.authorization_url is None or settings.redirect_url is None:
        raise ValueError("authorization_url and redirect_url are required")
    parts = urlsplit(settings.authorization_url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    query += [("response_type", "code"), ("client_id", client_id), ("redirect_uri", settings.redirect_url)]
    if settings.scope:
        query.append(("scope", settings.scope))
    query.append(("state", state))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))


class TokenEndpoint:
    def __init__(self, client: OutboundClient, clock: Clock = system_clock) -> None:
        self._client = client
        self._clock = clock

    def client_credentials(self, settings: OAuth2Settings, credentials: Credentials) -> TokenGrant:
        form = {"grant_type": "client_credentials"}
        if settings.scope:
            form["scope"] = settings.scope
        return self._request(settings, credentials, form)

    def authorization_code(self, settings: OAuth2Settings, credentials: Credentials, code: str) -> TokenGrant:
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": settings.redirect_url or ""}
        return self._request(settings, credentials, form)

    def refresh(self, settings: OAuth2Settings, credentials: Credentials, refresh_token: str) -> TokenGrant:
        form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        if settings.scope:
            form["scope"] = settings.scope
        return self._request(settings, credentials, form)

    def _request(
        self, settings: OAuth2Settings, credentials: Credentials, form: dict[str, str]
    ) -> TokenGrant:
        client_id = credentials.client_id or ""
        client_secret = credentials.client_secret.get_secret_value() if credentials.client_secret else ""
        headers = {"Accept": "application/json"}
        if settings.client_auth is ClientAuthMethod.CLIENT_SECRET_BASIC:
            headers["Authorization"] = client_basic_authorization(client_id, client_secret)
        else:
            form = {**form, "client_id": client_id, "client_secret": client_secret}
        if settings.token_content_type is TokenContentType.JSON:
            headers["Content-Type"] = "application/json"
            body = json.dumps(form, ensure_ascii=False).encode("utf-8")
        else:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            body = urlencode(form).encode("ascii")
        requested_at = self._clock()
        outcome = self._client.send(OutboundRequest("POST", settings.token_url, headers, body))
        if outcome.kind is OutcomeKind.RETRYABLE:
            detail = (
                f"HTTP {outcome.status}" if outcome.status is not None else (outcome.error or "no answer")
            )
            raise TokenEndpointUnavailable(detail, outcome.retry_after_seconds)
        if outcome.status is None:
            # Refused before sending (SSRF guard, invalid URL): the configuration must change.
            raise TokenRequestRefused("token_url_refused", None)
        document, problem = _json_object(outcome.body, outcome.body_truncated)
        if outcome.status != 200:
            code = document.get("error") if document else None
            error_code = (
                code if isinstance(code, str) and _ERROR_CODE.match(code) else f"http_{outcome.status}"
            )
            raise TokenRequestRefused(error_code, outcome.status)
        if document is None:
            raise InvalidTokenResponse(problem or "the answer is not a JSON object")
        return _grant_from(document, requested_at)


def _json_object(body: bytes, truncated: bool) -> tuple[dict[str, object] | None, str | None]:
    """The answer as a JSON object, else None and what is wrong with it."""
    if truncated or len(body) > MAX_TOKEN_RESPONSE_BYTES:
        return None, f"the answer is larger than {MAX_TOKEN_RESPONSE_BYTES} bytes"
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return None, "the answer is not UTF-8 text"
    if _nested_deeper_than(text, MAX_TOKEN_RESPONSE_DEPTH):
        return None, f"the answer is JSON nested deeper than {MAX_TOKEN_RESPONSE_DEPTH} levels"
    try:
        document = json.loads(text)
    except (ValueError, RecursionError):
        return None, "the answer is not valid JSON"
    if not isinstance(document, dict):
        return None, "the answer is not a JSON object"
    return document, None


def _nested_deeper_than(text: str, limit: int) -> bool:
    """Whether JSON text opens more than `limit` arrays/objects at once (strings skipped)."""
    depth = 0
    in_string = False
    escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > limit:
                return True
        elif char in "]}":
            depth -= 1
    return False


def _lifetime(expires_in: object) -> float:
    """expires_in as seconds: a positive number, or digits (some providers send a string)."""
    if isinstance(expires_in, str) and expires_in.isdigit():
        expires_in = int(expires_in)
    if isinstance(expires_in, int | float) and not isinstance(expires_in, bool) and expires_in > 0:
        return float(expires_in)
    return float(DEFAULT_TOKEN_LIFETIME_SECONDS)


def _checked_token(value: object, name: str) -> str:
    """A token from the answer, refused (InvalidTokenResponse) unless it can be stored and sent."""
    if not isinstance(value, str) or not value:
        raise InvalidTokenResponse(f"the {name} is missing or not a string")
    if len(value) > MAX_TOKEN_CHARS:
        raise InvalidTokenResponse(f"the {name} is longer than {MAX_TOKEN_CHARS} characters")
    if not _TOKEN.fullmatch(value):
        raise InvalidTokenResponse(
            f"the {name} contains control characters (such as CR or LF) or non-ASCII characters"
        )
    return value


def _grant_from(document: dict[str, object], requested_at: float) -> TokenGrant:
    """RFC 6749 5.1; a malformed answer or an unusable token is refused (InvalidTokenResponse)."""
    access_token = _checked_token(document.get("access_token"), "access_token")
    token_type = document.get("token_type", "Bearer")
    if not isinstance(token_type, str):
        raise InvalidTokenResponse("the token_type is not a string")
    if token_type.lower() != "bearer":
        raise TokenRequestRefused("unsupported_token_type", 200)
    lifetime = _lifetime(document.get("expires_in"))
    refresh_token = document.get("refresh_token")
    scope = document.get("scope")
    return TokenGrant(
        access_token=access_token,
        # Measured from when the request was sent, so network time never makes a token look fresher.
        expires_at=requested_at + lifetime,
        refresh_token=_checked_token(refresh_token, "refresh_token") if refresh_token else None,
        scope=scope if isinstance(scope, str) else None,
    )
