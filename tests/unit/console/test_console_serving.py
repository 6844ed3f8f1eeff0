"""The console's files and sign-in config, served by the admin function with its security headers."""

from __future__ import annotations

import json
from typing import Any

import pytest

from eventrelay.admin_api.edge import AdminApi
from eventrelay.admin_api.http_event import handle_event
from eventrelay.console import ConsoleSettings, answer, content_security_policy

COGNITO = ConsoleSettings(
    authorize_url="https://admins.auth.eu-west-1.amazoncognito.com/oauth2/authorize",
    token_url="https://admins.auth.eu-west-1.amazoncognito.com/oauth2/token",
    client_id="client-123",
    scopes="openid email",
)
LOCAL = ConsoleSettings("/local-auth/authorize", "/local-auth/token", "eventrelay-console", "openid")
HEADERS = {"host": "abc.execute-api.eu-west-1.amazonaws.com", "x-forwarded-proto": "https"}


def get(path: str, console: ConsoleSettings = COGNITO, method: str = "GET") -> Any:
    return answer(console, method, path, HEADERS)


@pytest.mark.parametrize("path", ["/console", "/console/", "/console/index.html"])
def test_the_index_is_served_never_cached(path: str) -> None:
    page = get(path)
    assert page.status == 200
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    assert page.headers["Cache-Control"] == "no-store"
    assert '<script type="module" src="/console/app.js">' in page.body


def test_every_answer_carries_the_security_headers() -> None:
    for path in ("/console/", "/console/app.js", "/console/config.json", "/console/nope.js"):
        headers = get(path).headers
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "no-referrer"
        policy = headers["Content-Security-Policy"]
        assert "unsafe-inline" not in policy
        assert "unsafe-eval" not in policy
        assert "script-src 'self';" in policy
        assert "frame-ancestors 'none'" in policy


def test_the_policy_allows_the_identity_provider_for_the_token_and_the_sign_in_only() -> None:
    assert content_security_policy(COGNITO) == (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self' https://admins.auth.eu-west-1.amazoncognito.com; "
        "form-action 'self' https://admins.auth.eu-west-1.amazoncognito.com; "
        "frame-ancestors 'none'; base-uri 'none'"
    )
    assert "connect-src 'self';" in content_security_policy(LOCAL)


def test_assets_have_their_content_type() -> None:
    script = get("/console/app.js")
    assert script.status == 200
    assert script.headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert get("/console/console.css").headers["Content-Type"] == "text/css; charset=utf-8"


@pytest.mark.parametrize(
    "path",
    [
        "/console/nope.js",
        "/console/../__init__.py",
        "/console/..%2f__init__.py",
        "/console//etc/passwd",
        "/console/static/app.js",
        "/console/../../settings.py",
    ],
)
def test_unknown_assets_and_paths_leaving_the_folder_are_404(path: str) -> None:
    page = get(path)
    assert page.status == 404
    assert "import" not in page.body


def test_only_reads_are_answered() -> None:
    assert get("/console/", method="POST").status == 405


def test_the_config_says_where_to_sign_in_and_come_back() -> None:
    page = get("/console/config.json")
    assert page.headers["Cache-Control"] == "no-store"
    assert json.loads(page.body) == {
        "configured": True,
        "authorizeUrl": COGNITO.authorize_url,
        "tokenUrl": COGNITO.token_url,
        "clientId": "client-123",
        "scopes": "openid email",
        "redirectUrl": "https://abc.execute-api.eu-west-1.amazonaws.com/console/",
    }
    local = answer(
        LOCAL, "GET", "/console/config.json", {"host": "127.0.0.1:3000", "x-forwarded-proto": "http"}
    )
    assert json.loads(local.body)["redirectUrl"] == "http://127.0.0.1:3000/console/"
    assert (
        json.loads(answer(ConsoleSettings(), "GET", "/console/config.json", HEADERS).body)["configured"]
        is False
    )


def _event(path: str) -> dict[str, Any]:
    return {
        "rawPath": path,
        "headers": HEADERS,
        "requestContext": {"requestId": "r-1", "http": {"method": "GET", "path": path}},
    }


def test_the_admin_function_serves_the_console_before_any_token_check() -> None:
    def refuse(header: str | None) -> Any:
        raise AssertionError("the console's files need no token")

    api = AdminApi(service=None, authenticate=refuse, routes=())  # type: ignore[arg-type]
    served = handle_event(api, _event("/console/"), COGNITO)
    assert served["statusCode"] == 200
    assert served["headers"]["Content-Security-Policy"].startswith("default-src 'none'")
    assert "<title>eventrelay console</title>" in served["body"]
