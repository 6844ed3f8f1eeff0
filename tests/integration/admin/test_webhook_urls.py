"""A URL-based connector's webhook URL through the CLI and `eventrelay apply`, on the embedded AWS.

The URL (a Slack-like webhook whose path holds a canary) is given through an environment variable
or standard input, never on the command line or in the file; it reaches the wire at exactly its
path, and appears in no output (stdout, stderr), no DynamoDB item and no log. A plain `--base-url`
still works with a warning; a literal one in the file is refused; a connector stored before URLs
were kept secret is moved to Secrets Manager by `apply`.
"""

from __future__ import annotations

import io
import json
import secrets
import sys
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from eventrelay.aws import dynamodb_client, secretsmanager_client
from eventrelay.connectors import urls
from eventrelay.connectors.store import connector_key
from eventrelay.settings import Settings
from eventrelay_cli.main import main
from tests.support.http_servers import RecordingServer

EXIT_USAGE = 2
WARNING = (
    "warning: --{option} shows this connector's secret URL to shell history and `ps`; "
    "pass it with --{option}-env VARIABLE (or --{option}-stdin) instead"
)


@pytest.fixture(autouse=True)
def _away_from_a_running_local_stack(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> None:
    # A developer's running local stack writes .eventrelay/local.json in the checkout: don't target it.
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))


@pytest.fixture
def canary() -> str:
    return f"CANARY-WEBHOOK-{secrets.token_hex(8)}"


@pytest.fixture
def secret_path(canary: str) -> str:
    return f"/services/T0{secrets.token_hex(3)}/B0{secrets.token_hex(3)}/{canary}"


class Cli:
    """Runs the CLI in-process (`--json`) and keeps everything it printed, stdout and stderr."""

    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self.capsys = capsys
        self.printed: list[str] = []

    def __call__(self, *argv: str, stdin: str | None = None) -> tuple[int, str, str]:
        if stdin is not None:
            sys.stdin = io.StringIO(stdin)
        code = main(["--json", *argv])
        out, err = self.capsys.readouterr()
        self.printed += [out, err]
        lines = out.strip().splitlines()  # the command's JSON answer is the last line
        return code, lines[-1] if lines else "", err.strip()

    def json(self, *argv: str, stdin: str | None = None) -> Any:
        code, out, err = self(*argv, stdin=stdin)
        assert code == 0, err
        return json.loads(out)


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Cli:
    return Cli(capsys)


def url_secret(settings: Settings, tenant: str, name: str) -> dict[str, Any] | None:
    client = secretsmanager_client(settings.region)
    try:
        value = client.get_secret_value(
            SecretId=f"{settings.secret_prefix}connectors/{tenant}/{name}/url", VersionStage="AWSCURRENT"
        )["SecretString"]
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceNotFoundException":
            raise
        return None
    document: dict[str, Any] = json.loads(value)
    return document


def connector_item(settings: Settings, tenant: str, name: str) -> dict[str, Any]:
    item = dynamodb_client(settings.region).get_item(
        TableName=settings.config_table, Key=connector_key(tenant, name), ConsistentRead=True
    )["Item"]
    return dict(item)


def whole_config_table(settings: Settings) -> str:
    client = dynamodb_client(settings.region)
    pages = client.get_paginator("scan").paginate(TableName=settings.config_table)
    return json.dumps([item for page in pages for item in page.get("Items", [])])


def assert_nowhere(secret: str, places: dict[str, str]) -> None:
    for place, text in places.items():
        assert secret not in text, f"the webhook URL leaked into {place}"


# ---- CLI


def test_the_cli_takes_the_webhook_url_from_env_or_stdin_and_never_prints_it(
    cli: Cli,
    tenant: str,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    secret_path: str,
    canary: str,
) -> None:
    with RecordingServer() as server:
        real = server.url(secret_path)
        monkeypatch.setenv("SLACK_WEBHOOK_URL", real)

        # When a URL-based connector is created with its URL named by an environment variable
        code, out, err = cli("connector", "create", tenant, "hook", "--base-url-env", "SLACK_WEBHOOK_URL")
        assert (code, err) == (0, "")  # no warning: the URL was not on the command line
        created = json.loads(out)
        # Then it is shown redacted, its credentials say the URL is set, and it is in Secrets Manager
        assert created["baseUrl"] == urls.redacted_url(real)
        assert created["credentials"] == {"baseUrl": "set"}
        assert cli.json("connector", "show", tenant, "hook")["credentials"] == {"baseUrl": "set"}
        assert url_secret(settings, tenant, "hook") == {"baseUrl": real}
        # And test connection reaches the exact secret path
        tested = cli.json("connector", "test", tenant, "hook")
        assert (tested["ok"], tested["url"]) == (True, created["baseUrl"])
        assert server.requests[-1].path == secret_path

        # When a new URL is piped on stdin (one line) and an absolute test URL comes from a variable
        rotated, test_url = real + "-rotated", real + "-rotated/ping"
        monkeypatch.setenv("HOOK_TEST_URL", test_url)
        updated = cli.json(
            "connector", "update", tenant, "hook", "--base-url-stdin", "--test-url-env", "HOOK_TEST_URL",
            stdin=rotated + "\n",
        )  # fmt: skip
        # Then both are replaced, redacted, and set
        assert updated["changed"] is True
        assert (updated["baseUrl"], updated["testUrl"]) == (
            urls.redacted_url(rotated),
            urls.redacted_url(test_url),
        )
        assert updated["credentials"] == {"baseUrl": "set", "testUrl": "set"}
        assert url_secret(settings, tenant, "hook") == {"baseUrl": rotated, "testUrl": test_url}
        assert cli.json("connector", "test", tenant, "hook")["ok"] is True
        assert server.requests[-1].path == secret_path + "-rotated/ping"
        # And the same URL again (from a variable) changes nothing: compared by fingerprint
        monkeypatch.setenv("SLACK_WEBHOOK_URL", rotated)
        again = cli.json("connector", "update", tenant, "hook", "--base-url-env", "SLACK_WEBHOOK_URL")
        assert (again["changed"], again["revision"]) == (False, updated["revision"])
        assert cli.json("connector", "list", tenant)[0]["baseUrl"] == urls.redacted_url(rotated)

    # The URL is in no output (stdout and stderr), no item of the config table, no log
    assert_nowhere(
        canary,
        {
            "cli output": "\n".join(cli.printed),
            "config table": whole_config_table(settings),
            "logs": caplog.text,
        },
    )


def test_a_webhook_url_given_in_plain_text_still_works_with_a_warning(
    cli: Cli, tenant: str, settings: Settings, monkeypatch: pytest.MonkeyPatch, secret_path: str, canary: str
) -> None:
    real = "https://hooks.example" + secret_path

    # When the URL of a URL-based connector is given with plain --base-url
    code, out, err = cli("connector", "create", tenant, "hook", "--base-url", real)
    # Then it works, the URL is stored as a secret, and stderr recommends --base-url-env
    assert code == 0
    assert json.loads(out)["baseUrl"] == urls.redacted_url(real)
    assert url_secret(settings, tenant, "hook") == {"baseUrl": real}
    assert err == WARNING.format(option="base-url")
    # Same for an absolute secret test URL (the connector is URL-based: no --auth needed)
    code, out, err = cli("connector", "update", tenant, "hook", "--test-url", real + "/ping")
    assert code == 0
    assert err == WARNING.format(option="test-url")
    assert canary not in "\n".join(cli.printed)  # the warning does not repeat the URL

    # No warning when the URL has no secret part, when the auth type is not none, or from a variable
    monkeypatch.setenv("PW", "pw")
    monkeypatch.setenv("HOOK_URL", real)
    basic = ("--auth", "basic", "--username", "u", "--password-env", "PW")
    for argv in (
        ("plain", "--base-url", "https://hooks.example/", "--test-url", "health"),
        ("api", "--base-url", "https://api.example/v1/T0123456", *basic),
        ("hook2", "--base-url-env", "HOOK_URL"),
    ):
        code, _, err = cli("connector", "create", tenant, *argv)
        assert (code, err) == (0, "")

    # The sources of a URL exclude each other (a usage error), and an unset or missing one is named
    for conflicting in (
        ("--base-url", real, "--base-url-env", "HOOK_URL"),
        ("--base-url-env", "HOOK_URL", "--base-url-stdin"),
    ):
        code, _, err = cli("connector", "create", tenant, "x", *conflicting)
        assert code == EXIT_USAGE
        assert "is not allowed with" in err
    code, _, err = cli("connector", "create", tenant, "x", "--base-url-env", "UNSET_HOOK_URL_X")
    assert (code, err) == (EXIT_USAGE, "error: base URL: environment variable UNSET_HOOK_URL_X is not set")
    code, _, err = cli("connector", "create", tenant, "x", "--base-url-stdin", stdin="")
    assert (code, err) == (EXIT_USAGE, "error: base URL: no value on standard input")
    monkeypatch.setenv("BAD_URL", "ftp://hooks.example" + secret_path)
    code, _, err = cli("connector", "create", tenant, "x", "--base-url-env", "BAD_URL")
    assert (code, err) == (EXIT_USAGE, "error: base_url: must be an absolute http(s) URL")
    assert canary not in "\n".join(cli.printed[-6:]) + whole_config_table(settings)


# ---- apply

WEBHOOK_CONFIG = """
tenant: {tenant}
connectors:
  - name: hook
    baseUrl: {{env: SLACK_WEBHOOK_URL}}
    testUrl: ping
actions:
  - {{name: notify, connector: hook, method: POST, payload: '{{"text": "{{{{text}}}}"}}'}}
"""


def apply(cli: Cli, *argv: str) -> tuple[int, dict[str, Any] | None, str]:
    code, out, err = cli("apply", *argv)
    return code, json.loads(out) if code == 0 else None, err


def results(report: dict[str, Any] | None) -> list[dict[str, Any]]:
    assert report is not None
    return [change for change in report["changes"] if change["kind"] == "connector"]


def test_apply_reads_the_webhook_url_from_the_environment_and_a_second_run_changes_nothing(
    cli: Cli,
    tenant: str,
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    secret_path: str,
    canary: str,
) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(WEBHOOK_CONFIG.format(tenant=tenant), encoding="utf-8")
    with RecordingServer() as server:
        real = server.url(secret_path)
        monkeypatch.setenv("SLACK_WEBHOOK_URL", real)

        # When the file is applied: the connector is created with its URL in Secrets Manager only
        code, first, _ = apply(cli, "-f", str(config))
        assert code == 0
        assert results(first) == [{"kind": "connector", "name": "hook", "result": "created"}]
        assert url_secret(settings, tenant, "hook") == {"baseUrl": real}
        stored = connector_item(settings, tenant, "hook")
        assert stored["baseUrl"]["S"] == urls.redacted_url(real)

        # Then applying it again changes nothing (the fingerprint in the item matches)
        code, second, _ = apply(cli, "-f", str(config))
        assert code == 0
        assert second is not None
        assert second["summary"] == {"created": 0, "updated": 0, "unchanged": 2}
        assert connector_item(settings, tenant, "hook") == stored

        # When the variable holds another URL, the connector is updated and calls go there
        monkeypatch.setenv("SLACK_WEBHOOK_URL", real + "-rotated")
        code, planned, _ = apply(cli, "-f", str(config), "--dry-run")
        assert results(planned) == [
            {"kind": "connector", "name": "hook", "result": "updated", "changed": ["baseUrl"]}
        ]
        assert connector_item(settings, tenant, "hook") == stored  # a dry run writes nothing
        code, third, _ = apply(cli, "-f", str(config))
        assert results(third) == [
            {"kind": "connector", "name": "hook", "result": "updated", "changed": ["baseUrl"]}
        ]
        assert url_secret(settings, tenant, "hook") == {"baseUrl": real + "-rotated"}
        assert results(apply(cli, "-f", str(config))[1])[0]["result"] == "unchanged"
        tested = cli.json("action", "test", tenant, "notify", "--value", "text=hi")
        assert tested["request"]["url"] == urls.redacted_url(real + "-rotated")
        assert cli.json("connector", "test", tenant, "hook")["ok"] is True
        assert [r.path for r in server.requests] == [secret_path + "-rotated", secret_path + "-rotated/ping"]

    # And the URL is in no output, no item, no log, nor in the file that was applied
    assert_nowhere(
        canary,
        {
            "cli output": "\n".join(cli.printed),
            "config table": whole_config_table(settings),
            "logs": caplog.text,
            "the YAML file": config.read_text(encoding="utf-8"),
        },
    )


def test_apply_refuses_a_webhook_url_written_in_the_file_and_an_unset_variable(
    cli: Cli, tenant: str, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, canary: str
) -> None:
    config = tmp_path / "config.yaml"
    real = f"https://hooks.example/services/T0/B0/{canary}"

    # A literal secret URL: refused where it is, like a literal password, without repeating it
    config.write_text(
        f"tenant: {tenant}\nconnectors:\n  - name: hook\n    baseUrl: {real}\n", encoding="utf-8"
    )
    code, _, err = apply(cli, "-f", str(config))
    assert code == EXIT_USAGE
    assert (
        "connectors[0] (hook).baseUrl: a secret is never written in the file, and the URL of a connector "
        "with auth type none (a webhook URL) is one: reference an environment variable, e.g. "
        "{env: SLACK_WEBHOOK_URL}"
    ) in err
    assert canary not in "\n".join(cli.printed)

    # An unset or empty variable: an error naming it
    config.write_text(WEBHOOK_CONFIG.format(tenant=tenant), encoding="utf-8")
    monkeypatch.delenv("SLACK_WEBHOOK_URL", raising=False)
    code, _, err = apply(cli, "-f", str(config))
    assert code == EXIT_USAGE
    assert "connectors[0] (hook).baseUrl: environment variable SLACK_WEBHOOK_URL is not set" in err
    monkeypatch.setenv("SLACK_WEBHOOK_URL", "")
    code, _, err = apply(cli, "-f", str(config))
    assert "connectors[0] (hook).baseUrl: environment variable SLACK_WEBHOOK_URL is empty" in err
    # Nothing was written
    stored = dynamodb_client(settings.region).get_item(
        TableName=settings.config_table, Key=connector_key(tenant, "hook"), ConsistentRead=True
    )
    assert "Item" not in stored
    assert url_secret(settings, tenant, "hook") is None


def test_apply_moves_the_url_of_a_connector_stored_before_urls_were_secret(
    cli: Cli, tenant: str, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, canary: str
) -> None:
    # Given a connector item written before URLs were kept secret: the real URL in `baseUrl`
    real = f"https://hooks.example/services/T0/B0/{canary}"
    legacy_item = {
        **connector_key(tenant, "legacy"),
        "kind": {"S": "CONNECTOR"},
        "tenantId": {"S": tenant},
        "name": {"S": "legacy"},
        "baseUrl": {"S": real},
        "authType": {"S": "none"},
        "headers": {"M": {}},
        "description": {"S": ""},
        "testUrl": {"S": ""},
        "revision": {"N": "1"},
        "createdAt": {"S": "2026-01-01T00:00:00.000Z"},
        "updatedAt": {"S": "2026-01-01T00:00:00.000Z"},
        "healthState": {"S": "AUTHORIZED"},
        "healthReason": {"NULL": True},
        "healthChangedAt": {"S": "2026-01-01T00:00:00.000Z"},
        "authFailures": {"N": "0"},
    }
    dynamodb_client(settings.region).put_item(TableName=settings.config_table, Item=legacy_item)
    # And a file asking for that same connector, its URL from the environment
    config = tmp_path / "config.yaml"
    config.write_text(
        f"tenant: {tenant}\nconnectors:\n  - {{name: legacy, baseUrl: {{env: LEGACY_HOOK_URL}}}}\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("LEGACY_HOOK_URL", real)
    expected = {
        "kind": "connector",
        "name": "legacy",
        "result": "updated",
        "changed": ["baseUrl"],
        "note": "the config table held its secret URL in the clear",
    }

    # When it is dry-run: the connector would be updated, and nothing is written yet
    code, planned, _ = apply(cli, "-f", str(config), "--dry-run")
    assert code == 0
    assert results(planned) == [expected]
    assert connector_item(settings, tenant, "legacy") == legacy_item

    # When it is applied: the item holds only the redacted form, the URL is in Secrets Manager
    code, applied, _ = apply(cli, "-f", str(config))
    assert code == 0
    assert results(applied) == [expected]
    migrated = connector_item(settings, tenant, "legacy")
    assert migrated["baseUrl"]["S"] == urls.redacted_url(real)
    assert migrated["urlSecretId"]["S"] == f"{settings.secret_prefix}connectors/{tenant}/legacy/url"
    assert canary not in json.dumps(migrated)
    assert url_secret(settings, tenant, "legacy") == {"baseUrl": real}

    # Then the next run finds nothing to do
    code, again, _ = apply(cli, "-f", str(config))
    assert results(again) == [{"kind": "connector", "name": "legacy", "result": "unchanged"}]
    assert canary not in "\n".join(cli.printed) + whole_config_table(settings)
