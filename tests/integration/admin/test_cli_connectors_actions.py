"""`eventrelay connector …` and `eventrelay action …` in-process, against the embedded AWS and real
HTTP servers on 127.0.0.1: round trips, exit codes, and secrets that never reach the output."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from eventrelay.aws import secretsmanager_client
from eventrelay.settings import Settings
from eventrelay_cli.main import main
from tests.support.http_servers import RecordedRequest, RecordingServer, Reply
from tests.support.items import assert_absent, tenant_items
from tests.support.oauth import OAUTH_CLIENT_ID, REDIRECT_URL, callback, consent
from tests.support.oauth_server import AuthorizationServer

EXIT_FAILURE, EXIT_USAGE, EXIT_NOT_FOUND, EXIT_CONFLICT = 1, 2, 3, 4


@pytest.fixture(autouse=True)
def _away_from_a_running_local_stack(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> None:
    # A developer's running local stack writes .eventrelay/local.json in the checkout: don't target it.
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))


class Cli:
    """Runs the CLI in-process and keeps everything it printed (to search for secrets)."""

    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self.capsys = capsys
        self.printed: list[str] = []

    def __call__(self, *argv: str, stdin: str | None = None) -> tuple[int, str, str]:
        if stdin is not None:
            sys.stdin = io.StringIO(stdin)
        code = main(["--json", *argv])
        out, err = self.capsys.readouterr()
        self.printed += [out, err]
        # Our JSON logs go to the same stdout; the command's own JSON answer is the last line.
        lines = out.strip().splitlines()
        return code, lines[-1] if lines else "", err.strip()

    def json(self, *argv: str, stdin: str | None = None) -> Any:
        code, out, err = self(*argv, stdin=stdin)
        assert code == 0, err
        return json.loads(out)

    def human(self, *argv: str) -> tuple[int, str]:
        code = main(list(argv))
        out, err = self.capsys.readouterr()
        self.printed += [out, err]
        return code, out


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Cli:
    return Cli(capsys)


def _echo(request: RecordedRequest) -> Reply:
    return Reply(status=200, body=json.dumps({"headers": request.headers, "path": request.path}).encode())


def test_connector_round_trip_with_secrets_from_env_and_stdin(
    cli: Cli,
    tenant: str,
    canaries: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    password = canaries["basic password"]
    token = canaries["token header value"]
    monkeypatch.setenv("JIRA_PASSWORD", password)
    with RecordingServer(_echo) as server:
        # create: basic auth, password named by an environment variable
        created = cli.json(
            "connector", "create", tenant, "jira", "--base-url", server.url("/rest"), "--auth", "basic",
            "--username", "bot@acme.example", "--password-env", "JIRA_PASSWORD",
            "--header", "Accept=application/json", "--test-url", "myself",
        )  # fmt: skip
        assert created["credentials"] == {"username": "bot@acme.example", "password": "set"}
        assert created["health"]["state"] == "AUTHORIZED"
        assert created["headers"] == {"Accept": "application/json"}

        # show: which credentials are set, never their values; list: the connector
        shown = cli.json("connector", "show", tenant, "jira")
        assert shown["credentials"] == {"username": "bot@acme.example", "password": "set"}
        assert [c["name"] for c in cli.json("connector", "list", tenant)] == ["jira"]

        # test connection: GET the test URL with the credentials
        tested = cli.json("connector", "test", tenant, "jira")
        assert (tested["ok"], tested["status"], tested["url"]) == (True, 200, server.url("/rest/myself"))
        assert (server.requests[-1].header("Authorization") or "").startswith("Basic ")
        assert "[REDACTED]" in tested["body"]  # the server echoed the Authorization header

        # update: a changed base URL; the same options again change nothing
        updated = cli.json("connector", "update", tenant, "jira", "--base-url", server.url("/rest/v2"))
        assert (updated["changed"], updated["baseUrl"], updated["revision"]) == (
            True,
            server.url("/rest/v2"),
            2,
        )
        again = cli.json("connector", "update", tenant, "jira", "--base-url", server.url("/rest/v2"))
        assert (again["changed"], again["revision"]) == (False, 2)

        # update: a new password from stdin reaches Secrets Manager (and only there)
        rotated = password + "-2"
        changed = cli.json("connector", "update", tenant, "jira", "--password-stdin", stdin=rotated + "\n")
        assert changed["changed"] is True
        stored = secretsmanager_client(settings.region).get_secret_value(
            SecretId=f"{settings.secret_prefix}connectors/{tenant}/jira", VersionStage="AWSCURRENT"
        )
        assert json.loads(stored["SecretString"])["password"] == rotated
        assert json.loads(stored["SecretString"])["username"] == "bot@acme.example"

        # token auth: one header from a variable, one from stdin
        monkeypatch.setenv("SLACK_TOKEN", f"Bearer {token}")
        slack = cli.json(
            "connector", "create", tenant, "slack", "--base-url", server.url("/api"), "--auth", "token",
            "--token-header-env", "Authorization=SLACK_TOKEN", "--token-header-stdin", "X-Api-Key",
            stdin=token + "\n",
        )  # fmt: skip
        assert slack["credentials"] == {"tokenHeaders": {"Authorization": "set", "X-Api-Key": "set"}}
        assert cli.json("connector", "test", tenant, "slack")["ok"] is True
        assert server.requests[-1].header("X-Api-Key") == token
        assert server.requests[-1].header("Authorization") == f"Bearer {token}"

    # test connection to a server that is gone: reported, exit code 1
    code, out, _ = cli("connector", "test", tenant, "slack")
    assert code == EXIT_FAILURE
    assert json.loads(out)["outcome"] == "RETRYABLE"

    assert_absent(
        {"basic password": password, "token header value": token},
        {
            "cli output": "\n".join(cli.printed),
            "logs": caplog.text,
            "dynamodb": json.dumps(tenant_items(settings, tenant)),
        },
    )


def test_connector_errors_have_clear_messages_and_exit_codes(
    cli: Cli, tenant: str, monkeypatch: pytest.MonkeyPatch, canaries: dict[str, str]
) -> None:
    password = canaries["basic password"]
    monkeypatch.setenv("PW", password)
    base = ["--base-url", "https://api.example.com", "--auth", "basic", "--username", "u"]
    assert cli("connector", "create", tenant, "api", *base, "--password-env", "PW")[0] == 0

    code, _, err = cli("connector", "create", tenant, "api", *base, "--password-env", "PW")
    assert (code, err) == (EXIT_CONFLICT, f"error: connector api already exists for tenant {tenant}")

    code, _, err = cli("connector", "create", "no-such-tenant", "api", *base, "--password-env", "PW")
    assert (code, err) == (EXIT_NOT_FOUND, "error: tenant 'no-such-tenant' not found")

    code, _, err = cli("connector", "show", tenant, "nope")
    assert (code, err) == (EXIT_NOT_FOUND, f"error: connector nope not found for tenant {tenant}")

    code, _, err = cli("connector", "create", tenant, "b", *base, "--password-env", "UNSET_VARIABLE_X")
    assert (code, err) == (EXIT_USAGE, "error: password: environment variable UNSET_VARIABLE_X is not set")

    # no password at all, and stdin is not a terminal: nothing is prompted, the command fails
    code, _, err = cli("connector", "create", tenant, "b", *base)
    assert code == EXIT_USAGE
    assert "basic auth needs a password" in err

    code, _, err = cli("connector", "create", tenant, "b", "--base-url", "ftp://x", "--auth", "none")
    assert code == EXIT_USAGE
    assert "base_url: must be an absolute http(s) URL" in err

    code, _, err = cli(
        "connector", "create", tenant, "o", "--base-url", "https://x.example", "--auth", "oauth2"
    )
    assert code == EXIT_USAGE
    assert "token_url" in err

    code, _, err = cli(
        "connector", "create", tenant, "c", "--base-url", "https://x.example", "--header", "bad"
    )
    assert (code, err) == (EXIT_USAGE, "error: --header expects NAME=VALUE, got 'bad'")

    code, _, err = cli(
        "connector", "create", tenant, "d", "--base-url", "https://x.example", "--password-env", "PW"
    )
    assert (code, err) == (EXIT_USAGE, "error: --password-env does not apply to auth type none")
    code, _, err = cli(
        "connector",
        "create",
        tenant,
        "e",
        "--base-url",
        "https://x.example",
        "--token-url",
        "https://t.example",
    )
    assert (code, err) == (EXIT_USAGE, "error: OAuth 2.0 options need --auth oauth2")

    code, _, err = cli("connector", "authorize", tenant, "api")
    assert (code, err) == (
        EXIT_USAGE,
        "error: connector api does not use the OAuth 2.0 authorization-code grant",
    )

    # delete: refused while an action uses it, then forced; then it is gone
    cli.json("action", "create", tenant, "ping", "--connector", "api", "--method", "GET")
    code, _, err = cli("connector", "delete", tenant, "api")
    assert (code, err) == (
        EXIT_CONFLICT,
        "error: connector 'api' is used by action(s) ping: delete them first, or pass --force",
    )
    assert cli.json("connector", "delete", tenant, "api", "--force") == {"deleted": True, "name": "api"}
    assert cli("connector", "show", tenant, "api")[0] == EXIT_NOT_FOUND
    assert cli("connector", "delete", tenant, "api")[0] == EXIT_NOT_FOUND
    assert password not in "\n".join(cli.printed)


def test_action_round_trip_fields_and_test(
    cli: Cli,
    tenant: str,
    canaries: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    settings: Settings,
) -> None:
    token = canaries["token header value"]
    monkeypatch.setenv("API_TOKEN", token)
    with RecordingServer(lambda r: Reply(status=201, body=b'{"id": 99}')) as server:
        cli.json(
            "connector", "create", tenant, "desk", "--base-url", server.url("/v2"), "--auth", "token",
            "--token-header-env", "X-Api-Key=API_TOKEN",
        )  # fmt: skip

        # create: fields are parsed from the URL, headers and payload
        created = cli.json(
            "action", "create", tenant, "open-ticket", "--connector", "desk", "--method", "post",
            "--url", "tickets?queue={{queue}}", "--header", "X-Priority={{priority}}",
            "--payload", '{"subject": "{{subject}}", "count": {{count}}}', "--max-retries", "2",
        )  # fmt: skip
        assert [f["name"] for f in created["fields"]] == ["queue", "priority", "subject", "count"]
        assert (created["method"], created["maxRetries"], created["version"]) == ("POST", 2, 1)
        assert cli.json("action", "show", tenant, "open-ticket") == created
        assert [a["name"] for a in cli.json("action", "list", tenant)] == ["open-ticket"]
        assert cli.json("action", "list", tenant, "--connector", "other") == []

        # fields: set a type and defaults; show them
        fields = cli.json(
            "action", "fields", tenant, "open-ticket", "--type", "count=Number", "--default", "count=1",
            "--default", "queue=support", "--default", "priority=normal",
        )  # fmt: skip
        by_name = {f["name"]: f for f in fields["fields"]}
        assert by_name["count"] == {"name": "count", "type": "Number", "default": 1}
        assert by_name["queue"]["default"] == "support"
        assert cli.json("action", "fields", tenant, "open-ticket")["fields"] == fields["fields"]
        code, _, err = cli("action", "fields", tenant, "open-ticket", "--type", "count=Integer")
        assert (code, err) == (
            EXIT_USAGE,
            "error: unknown field type 'Integer' (one of String, Number, Boolean, Date, DateTime)",
        )
        code, _, err = cli("action", "fields", tenant, "open-ticket", "--default", "cuont=1")
        assert code == EXIT_USAGE
        assert "has no field 'cuont'" in err
        code, _, err = cli("action", "fields", tenant, "open-ticket", "--default", "count=many")
        assert code == EXIT_USAGE
        assert "count" in err

        # update: a new URL keeps the fields' choices; a malformed template is refused with its position
        updated = cli.json("action", "update", tenant, "open-ticket", "--url", "queues/{{queue}}/tickets")
        assert {f["name"]: f for f in updated["fields"]}["count"]["default"] == 1
        assert updated["version"] == 3
        code, _, err = cli("action", "update", tenant, "open-ticket", "--payload", '{"a": "{{x"}')
        assert code == EXIT_USAGE
        assert err.startswith("error: payload:")
        assert "line 1, column" in err
        code, _, err = cli("action", "update", tenant, "open-ticket", "--max-retries", "9")
        assert code == EXIT_USAGE
        assert "max retries must be between 0 and 5, got 9" in err

        # test: a missing value names the field; then a real call with --value
        code, _, err = cli("action", "test", tenant, "open-ticket")
        assert (code, err) == (
            EXIT_USAGE,
            "error: action 'open-ticket': no value and no default for field 'subject'",
        )
        report = cli.json("action", "test", tenant, "open-ticket", "--value", "subject=Printer on fire")
        assert report["ok"] is True
        assert report["response"]["status"] == 201
        assert report["request"]["url"] == server.url("/v2/queues/support/tickets")
        assert report["request"]["headers"]["X-Api-Key"] == "[REDACTED]"
        assert server.requests[-1].body == b'{"subject": "Printer on fire", "count": 1}'
        assert server.requests[-1].header("X-Api-Key") == token

        # the human output shows the request, the response and the curl line
        code, out = cli.human("action", "test", tenant, "open-ticket", "--value", "subject=x")
        assert code == 0
        assert "POST " + server.url("/v2/queues/support/tickets") in out
        assert "X-Api-Key: [REDACTED]" in out
        assert "curl -sS -i -X POST" in out

    # create from a file, options overriding it
    spec = tmp_path / "action.yaml"
    spec.write_text(
        "connector: desk\nmethod: GET\nurl: 'users/{{id}}'\nfields:\n  - {name: id, type: Number}\n"
    )
    from_file = cli.json("action", "create", tenant, "get-user", "--file", str(spec), "--method", "DELETE")
    assert (from_file["method"], from_file["fields"]) == (
        "DELETE",
        [{"name": "id", "type": "Number", "default": None}],
    )

    code, _, err = cli("action", "create", tenant, "open-ticket", "--connector", "desk", "--method", "GET")
    assert (code, err) == (EXIT_CONFLICT, "error: action 'open-ticket' already exists")
    code, _, err = cli("action", "create", tenant, "x", "--connector", "ghost", "--method", "GET")
    assert (code, err) == (EXIT_NOT_FOUND, f"error: connector ghost not found for tenant {tenant}")
    code, _, err = cli("action", "create", tenant, "x", "--connector", "desk")
    assert (code, err) == (EXIT_USAGE, "error: missing method (options or --file)")
    code, _, err = cli("action", "create", tenant, "x", "--connector", "desk", "--method", "TRACE")
    assert code == EXIT_USAGE
    assert "method" in err

    # delete: refused while a rule uses the action, then forced
    from eventrelay.actions import ActionStore
    from eventrelay.aws import dynamodb_client
    from eventrelay.rules import RuleStore

    rules = RuleStore(
        settings.config_table,
        dynamodb_client(settings.region),
        ActionStore(settings.config_table, dynamodb_client(settings.region)),
    )
    rules.create(
        tenant,
        {
            "name": "r1",
            "eventName": "E",
            "eventVersion": "v01",
            "action": "open-ticket",
            "mapping": {"subject": "$.s"},
        },
    )
    code, _, err = cli("action", "delete", tenant, "open-ticket")
    assert (code, err) == (
        EXIT_CONFLICT,
        "error: action 'open-ticket' is used by rule(s) r1: delete them first, or pass --force",
    )
    assert cli.json("action", "delete", tenant, "open-ticket", "--force") == {
        "deleted": True,
        "name": "open-ticket",
    }
    code, _, err = cli("action", "show", tenant, "open-ticket")
    assert (code, err) == (EXIT_NOT_FOUND, "error: action 'open-ticket' not found")
    assert cli("action", "delete", tenant, "open-ticket")[0] == EXIT_NOT_FOUND
    assert cli("action", "test", tenant, "open-ticket")[0] == EXIT_NOT_FOUND
    assert token not in "\n".join(cli.printed)


def test_oauth_authorize_and_action_test_through_the_cli_never_print_secrets(
    cli: Cli,
    tenant: str,
    canaries: dict[str, str],
    oauth_server: AuthorizationServer,
    settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from eventrelay.roots import AwsClients
    from eventrelay.roots.connectors import build_connector_services

    secret = canaries["oauth client secret"]
    # create: an authorization-code connector, the client secret piped on stdin
    created = cli.json(
        "connector", "create", tenant, "helpdesk", "--base-url", oauth_server.resource_url("/api"),
        "--auth", "oauth2", "--grant", "authorization_code", "--token-url", oauth_server.token_url,
        "--authorization-url", oauth_server.authorize_url, "--redirect-url", REDIRECT_URL,
        "--scope", "tickets", "--client-auth", "client_secret_post", "--client-id", OAUTH_CLIENT_ID,
        "--client-secret-stdin", "--test-url", "me",
        stdin=secret + "\n",
    )  # fmt: skip
    assert created["health"]["state"] == "PENDING_AUTHORIZATION"
    assert created["credentials"] == {"clientId": OAUTH_CLIENT_ID, "clientSecret": "set"}

    # authorize: the URL to open; the admin's browser consents and the callback stores the tokens
    started = cli.json("connector", "authorize", tenant, "helpdesk")
    assert started["url"].startswith(oauth_server.http.url("/authorize?prompt=consent&response_type=code"))
    assert (
        callback(
            build_connector_services(settings, AwsClients.for_settings(settings)), consent(started["url"])
        )[0]
        == 200
    )
    shown = cli.json("connector", "show", tenant, "helpdesk")
    assert shown["health"]["state"] == "AUTHORIZED"
    assert shown["credentials"]["refreshToken"] == "stored"
    assert "accessTokenExpiresAt" in shown["credentials"]

    # action test: refresh on 401, then a careless resource echoing the token it refuses
    cli.json("action", "create", tenant, "me", "--connector", "helpdesk", "--method", "GET", "--url", "me")
    oauth_server.revoke_access_tokens()
    oauth_server.rotate_refresh_tokens = True
    assert cli.json("action", "test", tenant, "me")["ok"] is True
    oauth_server.echo_request_in_errors = True
    oauth_server.reject_all_tokens = True
    code, out, _ = cli("action", "test", tenant, "me")
    assert code == EXIT_FAILURE
    assert json.loads(out)["response"]["status"] == 401
    assert cli("connector", "test", tenant, "helpdesk")[0] == EXIT_FAILURE
    cli.human("action", "test", tenant, "me")
    cli.human("connector", "show", tenant, "helpdesk")

    issued = oauth_server.issued_tokens()
    assert any(t.startswith("CANARY-ACCESS-") for t in issued)
    assert any(t.startswith("CANARY-REFRESH-") for t in issued)
    assert_absent(
        {"oauth client secret": secret} | {f"issued token {i}": t for i, t in enumerate(issued)},
        {
            "cli output": "\n".join(cli.printed),
            "logs": caplog.text,
            "dynamodb": json.dumps(tenant_items(settings, tenant)),
        },
    )
