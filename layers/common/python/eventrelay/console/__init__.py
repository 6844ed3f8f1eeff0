"""The admin console: a small client app (static HTML, CSS and JavaScript modules) and its config.

The admin API's function serves it: `GET /console` and `/console/` answer `index.html`,
`GET /console/{asset}` a file of `static/` (an unknown asset or a path that would leave the
folder answers 404), and `GET /console/config.json` tells the app where to sign in (OAuth 2.0
authorization code + PKCE: the authorize and token URLs, the client id, the scopes and the
redirect URL, this console's own `/console/`). The app calls the admin API's JSON routes with the
token in the `Authorization` header, never in a cookie, so a cross-site page cannot act with it.

Every answer carries the security headers: a Content-Security-Policy without inline scripts or
styles, `nosniff`, no referrer, and no caching of the index and the config.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from urllib.parse import urlsplit

from eventrelay.settings import Settings

CONSOLE_PATH = "/console"
CONFIG_ASSET = "config.json"
INDEX_ASSET = "index.html"
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".json": "application/json",
    ".png": "image/png",
    ".ico": "image/x-icon",
}
# Assets change only with a deployment; the index and the config are read again on every visit.
ASSET_CACHE_CONTROL = "max-age=300"


@dataclass(frozen=True)
class ConsoleSettings:
    """Where the console signs in. A relative URL (`/local-auth/authorize`) is on the console's own
    origin (the local stack's issuer); an absolute one is the identity provider's (Cognito)."""

    authorize_url: str = ""
    token_url: str = ""
    client_id: str = ""
    scopes: str = "openid"

    @classmethod
    def from_settings(cls, settings: Settings) -> ConsoleSettings:
        return cls(
            authorize_url=settings.console_authorize_url,
            token_url=settings.console_token_url,
            client_id=settings.console_client_id,
            scopes=settings.console_scopes or "openid",
        )

    @property
    def configured(self) -> bool:
        return bool(self.authorize_url and self.token_url and self.client_id)


@dataclass(frozen=True)
class ConsoleAnswer:
    status: int
    body: str
    headers: dict[str, str] = field(default_factory=dict)


def is_console_path(path: str) -> bool:
    return path == CONSOLE_PATH or path.startswith(CONSOLE_PATH + "/")


def _origin_of(url: str) -> str | None:
    """`scheme://host[:port]` of an absolute URL; None for a relative one (the console's origin)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None


def content_security_policy(console: ConsoleSettings) -> str:
    token_origin = _origin_of(console.token_url)
    authorize_origin = _origin_of(console.authorize_url)
    connect = " ".join(["'self'", *([token_origin] if token_origin else [])])
    form_action = " ".join(["'self'", *([authorize_origin] if authorize_origin else [])])
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"connect-src {connect}; form-action {form_action}; frame-ancestors 'none'; base-uri 'none'"
    )


def security_headers(console: ConsoleSettings, cache_control: str) -> dict[str, str]:
    return {
        "Content-Security-Policy": content_security_policy(console),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "X-Frame-Options": "DENY",
        "Cache-Control": cache_control,
    }


def _static_root() -> Traversable:
    return resources.files("eventrelay.console").joinpath("static")


@cache
def _asset_names() -> frozenset[str]:
    """The files the console may answer: whatever `static/` holds (nested folders included)."""
    names: set[str] = set()

    def walk(folder: Traversable, prefix: str) -> None:
        for entry in folder.iterdir():
            if entry.is_dir():
                walk(entry, f"{prefix}{entry.name}/")
            elif entry.is_file():
                names.add(prefix + entry.name)

    walk(_static_root(), "")
    return frozenset(names)


def _read_asset(name: str) -> str:
    resource = _static_root()
    for part in name.split("/"):
        resource = resource.joinpath(part)
    return resource.read_text(encoding="utf-8")


def config_document(console: ConsoleSettings, origin: str) -> dict[str, object]:
    """What the app needs to sign in; `redirectUrl` is this console, on the origin it was served from."""
    return {
        "configured": console.configured,
        "authorizeUrl": console.authorize_url,
        "tokenUrl": console.token_url,
        "clientId": console.client_id,
        "scopes": console.scopes,
        "redirectUrl": f"{origin}{CONSOLE_PATH}/",
    }


def request_origin(headers: dict[str, str]) -> str:
    """The origin a request was sent to, as API Gateway forwards it (`host`, `x-forwarded-proto`)."""
    scheme = headers.get("x-forwarded-proto", "https").split(",", 1)[0].strip() or "https"
    return f"{scheme}://{headers.get('host', '')}"


def answer(console: ConsoleSettings, method: str, path: str, headers: dict[str, str]) -> ConsoleAnswer:
    """The console's answer to one request under `/console` (headers: lower-case names)."""
    if method not in ("GET", "HEAD"):
        return _not_found(console, 405, "Method not allowed")
    asset = path[len(CONSOLE_PATH) :].lstrip("/")
    if asset in ("", INDEX_ASSET):
        return ConsoleAnswer(
            200,
            _read_asset(INDEX_ASSET),
            {"Content-Type": CONTENT_TYPES[".html"], **security_headers(console, "no-store")},
        )
    if asset == CONFIG_ASSET:
        document = config_document(console, request_origin(headers))
        return ConsoleAnswer(
            200,
            json.dumps(document),
            {"Content-Type": CONTENT_TYPES[".json"], **security_headers(console, "no-store")},
        )
    # Only names listed from the folder are read: `..`, `%2e%2e` or an absolute path never match.
    if asset not in _asset_names():
        return _not_found(console, 404, "Not found")
    suffix = asset[asset.rfind(".") :] if "." in asset else ""
    content_type = CONTENT_TYPES.get(suffix, "application/octet-stream")
    return ConsoleAnswer(
        200,
        _read_asset(asset),
        {"Content-Type": content_type, **security_headers(console, ASSET_CACHE_CONTROL)},
    )


def _not_found(console: ConsoleSettings, status: int, message: str) -> ConsoleAnswer:
    return ConsoleAnswer(
        status,
        message,
        {"Content-Type": "text/plain; charset=utf-8", **security_headers(console, "no-store")},
    )


__all__ = [
    "CONSOLE_PATH",
    "ConsoleAnswer",
    "ConsoleSettings",
    "answer",
    "config_document",
    "content_security_policy",
    "is_console_path",
    "request_origin",
]
