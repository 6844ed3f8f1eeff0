"""Issue 8 item 15: the OAuth 2.0 token request is form-encoded (the default) or JSON.

Set in the connector model, the admin service, the CLI (`--token-content-type form|json`) and
`apply` (`tokenContentType`); the local authorization server records each token request's
Content-Type and raw body, and answers both.
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from pydantic import SecretStr

from eventrelay.admin import AdminService, ConnectorChanges, CredentialChanges
from eventrelay.connectors.models import (
    AuthType,
    ClientAuthMethod,
    ConnectorSpec,
    OAuth2Grant,
    OAuth2Settings,
    TokenContentType,
)
from eventrelay.roots.connectors import ConnectorServices
from eventrelay.settings import Settings
from eventrelay_cli.main import main
from tests.support.oauth import OAUTH_CLIENT_ID, REDIRECT_URL, callback, consent
from tests.support.oauth_server import AuthorizationServer, TokenRequest

FORM = "application/x-www-form-urlencoded"


@pytest.fixture(autouse=True)
def _away_from_a_running_local_stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))


def oauth_spec(
    server: AuthorizationServer,
    content_type: TokenContentType | None,
    client_auth: ClientAuthMethod = ClientAuthMethod.CLIENT_SECRET_BASIC,
) -> ConnectorSpec:
    settings = OAuth2Settings(
        grant=OAuth2Grant.CLIENT_CREDENTIALS,
        token_url=server.token_url,
        scope="orders.read",
        client_auth=client_auth,
        **({"token_content_type": content_type} if content_type is not None else {}),
    )
    return ConnectorSpec(
        name="erp",
        base_url=server.resource_url("/api"),
        auth_type=AuthType.OAUTH2,
        test_url="/me",
        oauth2=settings,
    )


def secret_credentials(secret: str) -> CredentialChanges:
    return CredentialChanges(client_id=OAUTH_CLIENT_ID, client_secret=SecretStr(secret))


def assert_form(request: TokenRequest, expected: dict[str, str]) -> None:
    assert request.content_type == FORM
    assert {key: values[0] for key, values in parse_qs(request.body.decode()).items()} == expected


def assert_json(request: TokenRequest, expected: dict[str, str]) -> None:
    assert request.content_type == "application/json"
    assert json.loads(request.body) == expected


def test_token_requests_are_form_encoded_by_default(
    admin: AdminService, tenant: str, oauth_server: AuthorizationServer, canaries: dict[str, str]
) -> None:
    secret = canaries["oauth client secret"]
    view = admin.connectors.create(tenant, oauth_spec(oauth_server, None), secret_credentials(secret))
    assert view.to_dict()["oauth2"]["tokenContentType"] == "form"
    assert admin.connectors.test_connection(tenant, "erp").ok
    [request] = oauth_server.token_requests
    assert_form(request, {"grant_type": "client_credentials", "scope": "orders.read"})
    assert request.client_auth == "basic"


@pytest.mark.parametrize(
    ("client_auth", "in_body"),
    [
        (ClientAuthMethod.CLIENT_SECRET_BASIC, {}),
        (ClientAuthMethod.CLIENT_SECRET_POST, {"client_id": OAUTH_CLIENT_ID, "client_secret": None}),
    ],
)
def test_a_json_token_request_carries_the_same_parameters(
    admin: AdminService,
    tenant: str,
    oauth_server: AuthorizationServer,
    canaries: dict[str, str],
    client_auth: ClientAuthMethod,
    in_body: dict[str, str | None],
) -> None:
    secret = canaries["oauth client secret"]
    spec = oauth_spec(oauth_server, TokenContentType.JSON, client_auth)
    admin.connectors.create(tenant, spec, secret_credentials(secret))
    tested = admin.connectors.test_connection(tenant, "erp")
    assert tested.ok, tested.outcome.error
    [request] = oauth_server.token_requests
    expected = {"grant_type": "client_credentials", "scope": "orders.read"}
    expected |= {key: value if value is not None else secret for key, value in in_body.items()}
    assert_json(request, expected)
    assert request.client_id == OAUTH_CLIENT_ID  # the server authenticated the client
    assert oauth_server.resource_statuses() == [200]


def test_the_admin_service_changes_the_content_type_and_keeps_it_otherwise(
    admin: AdminService, tenant: str, oauth_server: AuthorizationServer, canaries: dict[str, str]
) -> None:
    secret = canaries["oauth client secret"]
    admin.connectors.create(tenant, oauth_spec(oauth_server, None), secret_credentials(secret))
    changed = admin.connectors.update(tenant, "erp", ConnectorChanges(oauth2={"token_content_type": "json"}))
    assert changed.changed
    assert admin.connectors.show(tenant, "erp").to_dict()["oauth2"]["tokenContentType"] == "json"
    kept = admin.connectors.update(tenant, "erp", ConnectorChanges(oauth2={"scope": "orders.write"}))
    assert kept.to_dict()["oauth2"]["tokenContentType"] == "json"
    assert admin.connectors.test_connection(tenant, "erp").ok
    assert_json(
        oauth_server.token_requests[-1], {"grant_type": "client_credentials", "scope": "orders.write"}
    )


def test_authorization_code_and_refresh_requests_are_json_when_chosen(
    admin: AdminService,
    services: ConnectorServices,
    tenant: str,
    oauth_server: AuthorizationServer,
    canaries: dict[str, str],
) -> None:
    secret = canaries["oauth client secret"]
    spec = ConnectorSpec(
        name="helpdesk",
        base_url=oauth_server.resource_url("/api"),
        auth_type=AuthType.OAUTH2,
        test_url="/me",
        oauth2=OAuth2Settings(
            grant=OAuth2Grant.AUTHORIZATION_CODE,
            token_url=oauth_server.token_url,
            authorization_url=oauth_server.authorize_url,
            redirect_url=REDIRECT_URL,
            token_content_type=TokenContentType.JSON,
        ),
    )
    admin.connectors.create(tenant, spec, secret_credentials(secret))
    query = consent(admin.connectors.authorize_url(tenant, "helpdesk").url)
    status, _ = callback(services, query)
    assert status == 200
    [exchange] = oauth_server.token_requests
    assert_json(
        exchange,
        {"grant_type": "authorization_code", "code": query["code"], "redirect_uri": REDIRECT_URL},
    )
    oauth_server.revoke_access_tokens()  # the next call is answered 401: the token is refreshed
    assert admin.connectors.test_connection(tenant, "helpdesk").ok
    [refresh] = oauth_server.token_requests_of("refresh_token")
    assert refresh.content_type == "application/json"
    assert json.loads(refresh.body)["grant_type"] == "refresh_token"
    assert refresh.status == 200


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str, stdin: str = "") -> tuple[int, str, str]:
    sys.stdin = io.StringIO(stdin)
    code = main(["--json", *argv])
    out, err = capsys.readouterr()
    lines = out.strip().splitlines()
    return code, lines[-1] if lines else "", err


def test_the_cli_sets_and_changes_the_token_content_type(
    capsys: pytest.CaptureFixture[str],
    settings: Settings,
    tenant: str,
    oauth_server: AuthorizationServer,
    canaries: dict[str, str],
) -> None:
    secret = canaries["oauth client secret"]
    code, out, err = run_cli(
        capsys, "connector", "create", tenant, "erp", "--base-url", oauth_server.resource_url("/api"),
        "--auth", "oauth2", "--token-url", oauth_server.token_url, "--client-id", OAUTH_CLIENT_ID,
        "--client-secret-stdin", "--test-url", "me", "--token-content-type", "json",
        stdin=secret + "\n",
    )  # fmt: skip
    assert code == 0, err
    assert json.loads(out)["oauth2"]["tokenContentType"] == "json"
    code, out, err = run_cli(capsys, "connector", "test", tenant, "erp")
    assert code == 0, err
    assert_json(oauth_server.token_requests[-1], {"grant_type": "client_credentials"})

    code, out, err = run_cli(capsys, "connector", "update", tenant, "erp", "--token-content-type", "form")
    assert code == 0, err
    assert json.loads(out)["oauth2"]["tokenContentType"] == "form"
    oauth_server.revoke_access_tokens()
    code, out, err = run_cli(capsys, "connector", "test", tenant, "erp")
    assert code == 0, err
    assert_form(oauth_server.token_requests[-1], {"grant_type": "client_credentials"})

    code, _, err = run_cli(capsys, "connector", "update", tenant, "erp", "--token-content-type", "xml")
    assert code == 2
    assert "xml" in err
    code, _, err = run_cli(
        capsys, "connector", "create", tenant, "plain", "--base-url", "https://x.example",
        "--token-content-type", "json",
    )  # fmt: skip
    assert code == 2
    assert "OAuth 2.0 options need --auth oauth2" in err


APPLY_CONFIG = """
tenant: {tenant}
connectors:
  - name: erp
    baseUrl: {base_url}
    testUrl: me
    auth:
      type: oauth2
      tokenUrl: {token_url}
      tokenContentType: {content_type}
      clientId: {client_id}
      clientSecret: {{env: TOKEN_CONTENT_TYPE_SECRET}}
"""


def test_apply_sets_the_token_content_type(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    admin: AdminService,
    tenant: str,
    oauth_server: AuthorizationServer,
    canaries: dict[str, str],
) -> None:
    monkeypatch.setenv("TOKEN_CONTENT_TYPE_SECRET", canaries["oauth client secret"])
    path = tmp_path / "config.yaml"

    def write(content_type: str) -> None:
        path.write_text(
            APPLY_CONFIG.format(
                tenant=tenant,
                base_url=oauth_server.resource_url("/api"),
                token_url=oauth_server.token_url,
                client_id=OAUTH_CLIENT_ID,
                content_type=content_type,
            )
        )

    write("json")
    code, _, err = run_cli(capsys, "apply", "-f", str(path))
    assert code == 0, err
    assert admin.connectors.show(tenant, "erp").to_dict()["oauth2"]["tokenContentType"] == "json"
    assert admin.connectors.test_connection(tenant, "erp").ok
    assert_json(oauth_server.token_requests[-1], {"grant_type": "client_credentials"})
    # Applied again: unchanged; then switched back to form
    code, out, err = run_cli(capsys, "apply", "-f", str(path))
    assert code == 0, err
    assert [change["result"] for change in json.loads(out)["changes"]] == ["unchanged"]
    write("form")
    code, out, err = run_cli(capsys, "apply", "-f", str(path))
    assert code == 0, err
    assert admin.connectors.show(tenant, "erp").to_dict()["oauth2"]["tokenContentType"] == "form"
    write("xml")
    code, _, err = run_cli(capsys, "apply", "-f", str(path))
    assert code == 2
    assert "tokenContentType" in err
