"""The local stack's sign-in for the console: a minimal OAuth 2.0 authorization server (code + PKCE).

On AWS the console signs in through Cognito's hosted UI; locally the stack is its own token
issuer (token_issuer.py), so it also answers the two endpoints the console's sign-in uses:

- `GET /local-auth/authorize?response_type=code&client_id=…&redirect_uri=…&state=…&
  code_challenge=…&code_challenge_method=S256`: an HTML form (a subject; operator, or tenant
  admin of the listed tenants). `POST` of that form redirects to `redirect_uri?code=…&state=…`
  with a one-time code valid for `CODE_TTL_SECONDS`.
- `POST /local-auth/token` (form: `grant_type=authorization_code`, `code`, `code_verifier`,
  `redirect_uri`, `client_id`): checks the PKCE verifier against the challenge (S256), then
  answers `{"id_token", "access_token", "token_type": "Bearer", "expires_in"}` signed by the
  stack's key. A code is used once; a wrong verifier, client or redirect is `invalid_grant`.

There is no password: anyone who can reach 127.0.0.1 can mint tokens here, exactly as anyone who
can read the stack's state folder can with `eventrelay token`. Redirects go only to the origin
the request was sent to, so a code never leaves this stack.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
import secrets
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from eventrelay.clock import Clock, system_clock
from eventrelay_cli.local.token_issuer import LOCAL_AUDIENCE, LocalTokenIssuer

AUTHORIZE_PATH = "/local-auth/authorize"
TOKEN_PATH = "/local-auth/token"  # noqa: S105 (a path, not a secret)
CONSOLE_CLIENT_ID = LOCAL_AUDIENCE  # the id token's `aud` is the client id, as Cognito's
CODE_TTL_SECONDS = 120
TOKEN_TTL_SECONDS = 3600
# Template parameters (the console's sign-in) the local stack sets: relative, on its own origin.
CONSOLE_PARAMETERS = {
    "ConsoleAuthorizeUrl": AUTHORIZE_PATH,
    "ConsoleTokenUrl": TOKEN_PATH,
    "ConsoleClientId": CONSOLE_CLIENT_ID,
}
_TENANT_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_FORM_POLICY = (
    "default-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


@dataclass(frozen=True)
class PendingCode:
    client_id: str
    redirect_uri: str
    code_challenge: str
    subject: str
    operator: bool
    tenants: tuple[str, ...]
    expires_at: float


class AuthorizationError(Exception):
    """An OAuth error answered to the caller (`error` is the RFC 6749 code)."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


def _request_parts(event: Mapping[str, Any]) -> tuple[str, dict[str, str], dict[str, str]]:
    """(method, lower-case headers, query + form fields) of a payload 2.0 event."""
    method = str(((event.get("requestContext") or {}).get("http") or {}).get("method") or "GET").upper()
    headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
    raw = event.get("body") or ""
    body = base64.b64decode(raw).decode("utf-8") if event.get("isBase64Encoded") else str(raw)
    fields = dict(parse_qsl(str(event.get("rawQueryString") or ""), keep_blank_values=True))
    if method == "POST":
        fields.update(parse_qsl(body, keep_blank_values=True))
    return method, headers, fields


def _own_origin(headers: Mapping[str, str]) -> str:
    scheme = headers.get("x-forwarded-proto", "http").split(",", 1)[0].strip() or "http"
    return f"{scheme}://{headers.get('host', '')}"


def pkce_challenge(verifier: str) -> str:
    """S256: base64url(SHA-256(verifier)) without padding (RFC 7636)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@dataclass
class LocalAuthorizationServer:
    """`authorize` and `token` are gateway handlers (event, context) → payload 2.0 result."""

    issuer: Callable[[], LocalTokenIssuer]
    clock: Clock = system_clock
    _codes: dict[str, PendingCode] = field(default_factory=dict, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def routes(self) -> list[tuple[str, Callable[[dict[str, Any], object], dict[str, Any]]]]:
        """The gateway routes this server answers."""
        return [
            (f"GET {AUTHORIZE_PATH}", self.authorize),
            (f"POST {AUTHORIZE_PATH}", self.authorize),
            (f"POST {TOKEN_PATH}", self.token),
        ]

    def authorize(self, event: dict[str, Any], context: object = None) -> dict[str, Any]:
        method, headers, fields = _request_parts(event)
        try:
            self._check_authorize_request(fields, headers)
        except AuthorizationError as error:
            # Never redirect an invalid request: its redirect_uri may be anyone's.
            return _page(400, "Sign-in refused", [f"{error.error}: {error.description}"], fields, form=False)
        if method == "GET":
            return _page(200, "Sign in to the eventrelay console (local stack)", [], fields, form=True)
        try:
            code = self._issue_code(fields)
        except AuthorizationError as error:
            return _page(
                400, "Sign in to the eventrelay console (local stack)", [error.description], fields, True
            )
        location = f"{fields['redirect_uri']}?{urlencode({'code': code, 'state': fields.get('state', '')})}"
        return {"statusCode": 302, "headers": {"Location": location, "Cache-Control": "no-store"}, "body": ""}

    def token(self, event: dict[str, Any], context: object = None) -> dict[str, Any]:
        _, _, fields = _request_parts(event)
        try:
            answer = self._exchange(fields)
        except AuthorizationError as error:
            return _json(400, {"error": error.error, "error_description": error.description})
        return _json(200, answer)

    def _check_authorize_request(self, fields: Mapping[str, str], headers: Mapping[str, str]) -> None:
        if fields.get("response_type") != "code":
            raise AuthorizationError("unsupported_response_type", "response_type must be code")
        if fields.get("client_id") != CONSOLE_CLIENT_ID:
            raise AuthorizationError("unauthorized_client", "unknown client_id")
        redirect = urlsplit(fields.get("redirect_uri", ""))
        if f"{redirect.scheme}://{redirect.netloc}" != _own_origin(headers) or redirect.query:
            raise AuthorizationError("invalid_request", "redirect_uri must be on this stack's origin")
        if fields.get("code_challenge_method") != "S256" or not fields.get("code_challenge"):
            raise AuthorizationError("invalid_request", "PKCE is required: code_challenge with method S256")

    def _issue_code(self, fields: Mapping[str, str]) -> str:
        subject = fields.get("subject", "").strip()
        if not subject or len(subject) > 128:
            raise AuthorizationError("invalid_request", "Give a subject (who you are, up to 128 characters)")
        operator = fields.get("role") == "operator"
        tenants = tuple(dict.fromkeys(t.strip() for t in fields.get("tenants", "").split(",") if t.strip()))
        if not operator and not tenants:
            raise AuthorizationError("invalid_request", "A tenant admin names at least one tenant")
        if not all(_TENANT_ID.match(tenant) for tenant in tenants):
            raise AuthorizationError("invalid_request", "Tenant ids are letters, digits, '_', '.' or '-'")
        code = secrets.token_urlsafe(24)
        pending = PendingCode(
            client_id=fields["client_id"],
            redirect_uri=fields["redirect_uri"],
            code_challenge=fields["code_challenge"],
            subject=subject,
            operator=operator,
            tenants=() if operator else tenants,
            expires_at=self.clock() + CODE_TTL_SECONDS,
        )
        with self._lock:
            now = self.clock()
            for stale in [key for key, held in self._codes.items() if held.expires_at <= now]:
                del self._codes[stale]
            self._codes[code] = pending
        return code

    def _exchange(self, fields: Mapping[str, str]) -> dict[str, Any]:
        if fields.get("grant_type") != "authorization_code":
            raise AuthorizationError("unsupported_grant_type", "grant_type must be authorization_code")
        with self._lock:  # one use, even for two simultaneous exchanges
            pending = self._codes.pop(fields.get("code", ""), None)
        if pending is None or pending.expires_at <= self.clock():
            raise AuthorizationError("invalid_grant", "unknown, used or expired code")
        if fields.get("client_id") != pending.client_id or fields.get("redirect_uri") != pending.redirect_uri:
            raise AuthorizationError(
                "invalid_grant", "client_id or redirect_uri differs from the authorization"
            )
        verifier = fields.get("code_verifier", "")
        if not 43 <= len(verifier) <= 128 or not secrets.compare_digest(
            pkce_challenge(verifier), pending.code_challenge
        ):
            raise AuthorizationError("invalid_grant", "code_verifier does not match the code_challenge")
        token = self.issuer().mint(
            pending.subject, operator=pending.operator, tenants=pending.tenants, ttl_seconds=TOKEN_TTL_SECONDS
        )
        return {
            "id_token": token,
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": TOKEN_TTL_SECONDS,
        }


def _json(status: int, document: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json", "Cache-Control": "no-store", "Pragma": "no-cache"},
        "body": json.dumps(document),
    }


_CARRIED = (
    "response_type",
    "client_id",
    "redirect_uri",
    "state",
    "code_challenge",
    "code_challenge_method",
    "scope",
)


def _page(
    status: int, title: str, problems: list[str], fields: Mapping[str, str], form: bool
) -> dict[str, Any]:
    """The sign-in form (every value escaped; the OAuth parameters carried as hidden fields)."""
    escape = html.escape
    hidden = "".join(
        f'<input type="hidden" name="{name}" value="{escape(fields.get(name, ""))}">' for name in _CARRIED
    )
    errors = "".join(f'<p class="error" role="alert">{escape(problem)}</p>' for problem in problems)
    body = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>
<link rel="stylesheet" href="/console/console.css"></head>
<body><main id="main" class="signin"><h1>{escape(title)}</h1>{errors}"""
    if form:
        subject = escape(fields.get("subject", "admin@local"))
        tenants = escape(fields.get("tenants", ""))
        operator_checked = "" if fields.get("role") == "tenant" else " checked"
        tenant_checked = " checked" if fields.get("role") == "tenant" else ""
        body += f"""<p>The local stack is its own identity provider: choose who to be. No password.</p>
<form method="post" action="{AUTHORIZE_PATH}">{hidden}
<p><label for="subject">Subject</label> <input id="subject" name="subject" value="{subject}" required></p>
<fieldset><legend>Role</legend>
<p><input type="radio" id="role-operator" name="role" value="operator"{operator_checked}>
<label for="role-operator">Operator (every tenant)</label></p>
<p><input type="radio" id="role-tenant" name="role" value="tenant"{tenant_checked}>
<label for="role-tenant">Tenant admin of</label>
<label for="tenants" class="visually-hidden">Tenants (comma separated)</label>
<input id="tenants" name="tenants" value="{tenants}" placeholder="acme, demo"></p>
</fieldset>
<p><button type="submit" id="sign-in">Sign in</button></p></form>"""
    body += "</main></body></html>"
    return {
        "statusCode": status,
        "headers": {
            "Content-Type": "text/html; charset=utf-8",
            "Content-Security-Policy": _FORM_POLICY,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-store",
        },
        "body": body,
    }
