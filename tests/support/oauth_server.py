"""A small OAuth 2.0 authorization server and protected resource on 127.0.0.1 (RFC 6749, RFC 6750).

- `GET /authorize`: the authorization endpoint (4.1.1); approves at once and redirects to the
  client's redirect URI with `code` and `state` (or an `error`).
- `POST /token`: the token endpoint (3.2) for `client_credentials` (4.4), `authorization_code`
  (4.1.3) and `refresh_token` (6). Client authentication by HTTP Basic (2.3.1, form-urlencoded
  id and secret) or by body parameters, never both. Errors as in 5.2 (`invalid_client` with 401
  and WWW-Authenticate, `invalid_grant`, `unsupported_grant_type`, `invalid_request`).
- `/api/...`: a protected resource accepting `Authorization: Bearer <token>` (RFC 6750).

Tests steer it: revoke access tokens (the next call gets 401), revoke refresh tokens (the next
refresh gets `invalid_grant`), rotate refresh tokens, make the token endpoint fail, or have it
answer whatever a test chooses (`token_reply`, a hostile provider). Every token it issues starts
with a canary prefix, so tests can look for them in logs and outputs. The token endpoint takes a
form-encoded body (RFC 6749) or a JSON object (what some providers expect instead), and records
each request's Content-Type and raw body.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
from dataclasses import dataclass, field
from types import TracebackType
from urllib.parse import parse_qs, parse_qsl, unquote_plus, urlencode, urlsplit

from tests.support.http_servers import RecordedRequest, RecordingServer, Reply

ACCESS_TOKEN_PREFIX = "CANARY-ACCESS-"
REFRESH_TOKEN_PREFIX = "CANARY-REFRESH-"


@dataclass
class TokenRequest:
    grant_type: str
    client_id: str | None
    client_auth: str  # "basic", "post" or "none"
    form: dict[str, str]  # the parameters, from a form-encoded or a JSON body
    status: int
    content_type: str | None = None
    body: bytes = b""


def _parameters(content_type: str | None, body: bytes) -> dict[str, str]:
    """The token request's parameters: a JSON object's string members, else the form's fields."""
    if (content_type or "").split(";")[0].strip().lower() == "application/json":
        try:
            document = json.loads(body)
        except ValueError:
            return {}
        if not isinstance(document, dict):
            return {}
        return {key: value for key, value in document.items() if isinstance(value, str)}
    return {key: values[0] for key, values in parse_qs(body.decode(), keep_blank_values=True).items()}


@dataclass
class _Grant:
    client_id: str
    scope: str
    active: bool = True


@dataclass
class _Code:
    client_id: str
    redirect_uri: str
    scope: str
    used: bool = False


@dataclass
class AuthorizationServer:
    clients: dict[str, str]
    access_token_lifetime: int = 3600
    rotate_refresh_tokens: bool = False
    token_endpoint_status: int | None = None  # force an answer (e.g. 503) from the token endpoint
    # A careless provider: error answers echo what the client sent (credentials included).
    echo_request_in_errors: bool = False
    # The resource refuses every token, even fresh ones (a client lacking a permission, say).
    reject_all_tokens: bool = False
    # Answer every token request with this, whatever it asked (after recording it).
    token_reply: Reply | None = None
    token_requests: list[TokenRequest] = field(default_factory=list)
    resource_requests: list[tuple[RecordedRequest, int]] = field(default_factory=list)
    access_tokens: dict[str, _Grant] = field(default_factory=dict)
    refresh_tokens: dict[str, _Grant] = field(default_factory=dict)
    codes: dict[str, _Code] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: RecordingServer | None = None

    # Lifecycle

    def __enter__(self) -> AuthorizationServer:
        self._server = RecordingServer(self._respond).start()
        return self

    def __exit__(self, *_exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        assert self._server is not None
        self._server.close()

    @property
    def http(self) -> RecordingServer:
        assert self._server is not None
        return self._server

    @property
    def token_url(self) -> str:
        return self.http.url("/token")

    @property
    def authorize_url(self) -> str:
        return self.http.url("/authorize?prompt=consent")

    def resource_url(self, path: str = "/api/me") -> str:
        return self.http.url(path)

    # Steering

    def revoke_access_tokens(self) -> None:
        with self._lock:
            for grant in self.access_tokens.values():
                grant.active = False

    def revoke_refresh_tokens(self) -> None:
        with self._lock:
            for grant in self.refresh_tokens.values():
                grant.active = False

    def token_requests_of(self, grant_type: str) -> list[TokenRequest]:
        return [request for request in self.token_requests if request.grant_type == grant_type]

    def resource_statuses(self) -> list[int]:
        return [status for _, status in self.resource_requests]

    def issued_tokens(self) -> list[str]:
        return [*self.access_tokens, *self.refresh_tokens]

    # Endpoints

    def _respond(self, request: RecordedRequest) -> Reply:
        path = urlsplit(request.path).path
        if path == "/authorize" and request.method == "GET":
            return self._authorize(request)
        if path == "/token" and request.method == "POST":
            return self._token(request)
        if path.startswith("/api/"):
            return self._resource(request)
        return Reply(status=404, body=b"{}")

    def _authorize(self, request: RecordedRequest) -> Reply:
        query = dict(parse_qsl(urlsplit(request.path).query))
        client_id = query.get("client_id", "")
        redirect_uri = query.get("redirect_uri", "")
        if client_id not in self.clients or not redirect_uri:
            return Reply(status=400, body=b'{"error": "invalid_request"}')
        answer: dict[str, str]
        if query.get("response_type") != "code":
            answer = {"error": "unsupported_response_type"}
        else:
            code = secrets.token_urlsafe(16)
            with self._lock:
                self.codes[code] = _Code(client_id, redirect_uri, query.get("scope", ""))
            answer = {"code": code}
        if "state" in query:
            answer["state"] = query["state"]
        separator = "&" if "?" in redirect_uri else "?"
        return Reply(status=302, headers={"Location": redirect_uri + separator + urlencode(answer)}, body=b"")

    def _authenticate_client(self, request: RecordedRequest, form: dict[str, str]) -> tuple[str | None, str]:
        header = request.header("Authorization")
        in_body = "client_secret" in form
        if header is not None and in_body:
            return None, "both"
        if header is not None:
            if not header.startswith("Basic "):
                return None, "basic"
            try:
                decoded = base64.b64decode(header[6:], validate=True).decode()
            except ValueError:
                return None, "basic"
            raw_id, _, raw_secret = decoded.partition(":")
            client_id, client_secret = unquote_plus(raw_id), unquote_plus(raw_secret)
            method = "basic"
        elif in_body:
            client_id, client_secret = form.get("client_id", ""), form["client_secret"]
            method = "post"
        else:
            return None, "none"
        expected = self.clients.get(client_id)
        if expected is None or not secrets.compare_digest(expected.encode(), client_secret.encode()):
            return None, method
        return client_id, method

    def _token(self, request: RecordedRequest) -> Reply:
        content_type = request.header("Content-Type")
        form = _parameters(content_type, request.body)
        grant_type = form.get("grant_type", "")
        client_id, method = self._authenticate_client(request, form)
        status, document = self._token_answer(grant_type, client_id, method, form)
        if self.token_reply is not None:
            status = self.token_reply.status
        with self._lock:
            self.token_requests.append(
                TokenRequest(grant_type, client_id, method, form, status, content_type, request.body)
            )
        if self.token_reply is not None:
            return self.token_reply
        headers = {
            "Content-Type": "application/json;charset=UTF-8",
            "Cache-Control": "no-store",
            "Pragma": "no-cache",
        }
        if status == 401:
            headers["WWW-Authenticate"] = 'Basic realm="token"'
        if status != 200 and self.echo_request_in_errors:
            document["error_description"] = f"{request.header('Authorization')} {request.body.decode()}"
        return Reply(status=status, headers=headers, body=json.dumps(document).encode())

    def _token_answer(
        self, grant_type: str, client_id: str | None, method: str, form: dict[str, str]
    ) -> tuple[int, dict[str, object]]:
        if self.token_endpoint_status is not None:
            return self.token_endpoint_status, {"error": "temporarily_unavailable"}
        if method == "both":
            return 400, {
                "error": "invalid_request",
                "error_description": "more than one client authentication",
            }
        if client_id is None:
            return 401, {"error": "invalid_client"}
        grants = {
            "client_credentials": self._client_credentials,
            "authorization_code": self._authorization_code,
            "refresh_token": self._refresh_token,
        }
        if grant_type not in grants:
            return 400, {"error": "unsupported_grant_type"}
        with self._lock:
            return grants[grant_type](client_id, form)

    def _client_credentials(self, client_id: str, form: dict[str, str]) -> tuple[int, dict[str, object]]:
        return 200, self._issue(client_id, form.get("scope", ""), with_refresh=False)

    def _authorization_code(self, client_id: str, form: dict[str, str]) -> tuple[int, dict[str, object]]:
        code = self.codes.get(form.get("code", ""))
        if (
            code is None
            or code.used
            or code.client_id != client_id
            or code.redirect_uri != form.get("redirect_uri")
        ):
            return 400, {"error": "invalid_grant"}
        code.used = True
        return 200, self._issue(client_id, code.scope, with_refresh=True)

    def _refresh_token(self, client_id: str, form: dict[str, str]) -> tuple[int, dict[str, object]]:
        grant = self.refresh_tokens.get(form.get("refresh_token", ""))
        if grant is None or not grant.active or grant.client_id != client_id:
            return 400, {"error": "invalid_grant", "error_description": "refresh token is not valid"}
        if self.rotate_refresh_tokens:
            grant.active = False
        return 200, self._issue(client_id, grant.scope, with_refresh=self.rotate_refresh_tokens)

    def _issue(self, client_id: str, scope: str, with_refresh: bool) -> dict[str, object]:
        access_token = ACCESS_TOKEN_PREFIX + secrets.token_hex(12)
        self.access_tokens[access_token] = _Grant(client_id, scope)
        document: dict[str, object] = {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": self.access_token_lifetime,
        }
        if scope:
            document["scope"] = scope
        if with_refresh:
            refresh_token = REFRESH_TOKEN_PREFIX + secrets.token_hex(12)
            self.refresh_tokens[refresh_token] = _Grant(client_id, scope)
            document["refresh_token"] = refresh_token
        return document

    def _resource(self, request: RecordedRequest) -> Reply:
        header = request.header("Authorization") or ""
        token = header[7:] if header.startswith("Bearer ") else ""
        with self._lock:
            grant = self.access_tokens.get(token)
            valid = grant is not None and grant.active and not self.reject_all_tokens
        status = 200 if valid else 401
        with self._lock:
            self.resource_requests.append((request, status))
        if not valid:
            body = {"error": "invalid_token"}
            if self.echo_request_in_errors:
                body["received"] = header
            return Reply(
                status=401,
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
                body=json.dumps(body).encode(),
            )
        return Reply(status=200, body=json.dumps({"ok": True, "path": request.path}).encode())
