"""The `eventrelay` CLI against the embedded AWS, and `publish`/`job show` over a real local HTTP API."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from eventrelay.settings import Settings
from eventrelay_cli.local.http_gateway import HttpGateway
from eventrelay_cli.local.lambda_runtime import LocalFunction, load_handler
from eventrelay_cli.main import cli, main
from tests.support.local_stack import EVENTRELAY
from tests.support.paths import REPO_ROOT


@pytest.fixture(autouse=True)
def _away_from_a_running_local_stack(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> None:
    # A developer's running local stack writes .eventrelay/local.json in the checkout: don't target it.
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="module")
def api_url(local_aws: object) -> Iterator[str]:
    gateway = HttpGateway()
    function = LocalFunction(
        "PublishFunction", lambda: load_handler(REPO_ROOT / "functions" / "publish"), timeout_seconds=10
    )
    for route in (
        "POST /v1/eventManager/event",
        "POST /v1/eventManager/events/bulk",
        "GET /v1/eventManager/jobs/{jobId}",
    ):
        gateway.add_route(route, function)
    gateway.start()
    try:
        yield gateway.url
    finally:
        gateway.stop()


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["--json", *argv])
    out, err = capsys.readouterr()
    # The in-process HTTP API logs to the same stdout; the CLI's own JSON answer is the last line.
    lines = out.strip().splitlines()
    return code, lines[-1] if lines else "", err


def test_tenant_lifecycle_and_clear_errors(capsys: pytest.CaptureFixture[str], tenant_id: str) -> None:
    code, out, _ = run(capsys, "tenant", "create", tenant_id, "--name", "Acme")
    created = json.loads(out)
    assert code == 0
    assert (created["tenantId"], created["name"]) == (tenant_id, "Acme")
    assert len(created["sharedSecret"]) >= 32

    code, _, err = run(capsys, "tenant", "create", tenant_id)
    assert (code, err.strip()) == (4, f"error: tenant '{tenant_id}' already exists")

    code, out, _ = run(capsys, "tenant", "show", tenant_id)
    assert code == 0
    assert "sharedSecret" not in out  # shown once, at creation
    assert created["sharedSecret"] not in out

    code, _, err = run(capsys, "tenant", "show", "nobody-here")
    assert (code, err.strip()) == (3, "error: tenant 'nobody-here' not found")

    code, out, _ = run(capsys, "tenant", "list")
    assert tenant_id in [t["tenantId"] for t in json.loads(out)]

    code, _, err = run(capsys, "tenant", "create", "bad id!")
    assert code == 2
    assert "tenant id" in err


def test_registrations_schema_files_and_limits(
    capsys: pytest.CaptureFixture[str], tenant_id: str, tmp_path: Path
) -> None:
    run(capsys, "tenant", "create", tenant_id)
    schema = tmp_path / "schema.json"
    schema.write_text(json.dumps({"type": "object", "required": ["id"]}))
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"type": "no-such-type"}))

    assert run(capsys, "event", "register", tenant_id, "Won", "v01", "--schema", str(schema))[0] == 0
    assert run(capsys, "event", "register", tenant_id, "Asset", "v01", "--kind", "system_asset")[0] == 0
    code, _, err = run(capsys, "event", "register", tenant_id, "Bad", "v01", "--schema", str(broken))
    assert code == 2
    assert "invalid JSON Schema" in err
    code, out, _ = run(capsys, "event", "list", tenant_id)
    assert sorted((r["eventName"], r["kind"]) for r in json.loads(out)) == [
        ("Asset", "system_asset"),
        ("Won", "json_schema"),
    ]
    assert run(capsys, "event", "delete", tenant_id, "Won", "v01")[0] == 0
    assert run(capsys, "event", "delete", tenant_id, "Won", "v01")[0] == 3

    code, out, _ = run(capsys, "limits", "set", tenant_id, "--sync-per-minute", "500")
    assert json.loads(out)["limits"] == {"sync_per_minute": 500}
    code, out, _ = run(capsys, "limits", "show", tenant_id)
    windows = json.loads(out)
    assert [w["limit"] for w in windows["sync"]] == [500, 50000]
    assert [w["limit"] for w in windows["async"]] == [10, 100]
    assert run(capsys, "limits", "set", tenant_id, "--sync-per-minute", "-1")[0] == 2


# Serves the publish function behind the local gateway (a worker process per instance).
@pytest.mark.slow
def test_publish_rotate_and_job_show_over_http(
    capsys: pytest.CaptureFixture[str], tenant_id: str, api_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = json.loads(run(capsys, "tenant", "create", tenant_id)[1])["sharedSecret"]
    run(capsys, "event", "register", tenant_id, "Won", "v01")
    code, out, _ = run(
        capsys,
        "--api-url",
        api_url,
        "publish",
        tenant_id,
        "Won",
        "v01",
        "--secret",
        secret,
        "--data",
        '{"id": 1}',
    )
    answer = json.loads(out)
    assert (code, answer["status"]) == (0, 200)
    assert answer["headers"]["RateLimit-Limit"] == "100"

    rotated = json.loads(run(capsys, "secret", "rotate", tenant_id, "--overlap", "0")[1])
    assert rotated["sharedSecret"] != secret
    monkeypatch.setenv("EVENTRELAY_SHARED_SECRET", rotated["sharedSecret"])
    code, out, _ = run(
        capsys, "--api-url", api_url, "publish", tenant_id, "Won", "v01", "--data", '{"id": 2}'
    )
    assert (code, json.loads(out)["status"]) == (0, 200)
    code, out, _ = run(
        capsys, "--api-url", api_url, "publish", tenant_id, "Won", "v01", "--secret", secret, "--data", "{}"
    )
    assert (code, json.loads(out)["body"]["errorCode"]) == (1, "1005")

    code, out, _ = run(
        capsys, "--api-url", api_url, "job", "show", tenant_id, "00000000-0000-0000-0000-000000000000"
    )
    assert (code, json.loads(out)["status"]) == (3, 404)  # not found is 3 everywhere


def eventrelay(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The CLI as a user runs it: a fresh process, targeting this session's AWS (its environment)."""
    return subprocess.run(
        [str(EVENTRELAY), *argv],
        cwd=cwd,
        env=dict(os.environ),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("dashes", ["-", "--"])
def test_a_secret_starting_with_a_dash_works_as_documented_and_an_unknown_job_is_not_found(
    dashes: str, tenant_id: str, api_url: str, tmp_path: Path
) -> None:
    # Given a shared secret that starts with '-' (or '--'), passed as the README shows: --secret "$S"
    secret = dashes + secrets.token_urlsafe(32)
    created = eventrelay("--json", "tenant", "create", tenant_id, "--secret", secret, cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    assert json.loads(created.stdout)["sharedSecret"] == secret
    assert eventrelay("event", "register", tenant_id, "Won", "v01", cwd=tmp_path).returncode == 0

    # When it publishes with that secret, Then the API accepts it (the value was the secret)
    published = eventrelay(
        "--json", "--api-url", api_url, "publish", tenant_id, "Won", "v01", "--secret", secret,
        "--data", '{"id": 1}', cwd=tmp_path,
    )  # fmt: skip
    assert (published.returncode, json.loads(published.stdout)["status"]) == (0, 200), published.stderr
    refused = eventrelay(
        "--json", "--api-url", api_url, "publish", tenant_id, "Won", "v01", "--secret", secret + "x",
        "--data", '{"id": 2}', cwd=tmp_path,
    )  # fmt: skip
    assert (refused.returncode, json.loads(refused.stdout)["body"]["errorCode"]) == (1, "1005")

    # And an unknown job is not found: exit code 3, as for every resource
    job = eventrelay(
        "--json", "--api-url", api_url, "job", "show", tenant_id, "00000000-0000-0000-0000-000000000000",
        "--secret", secret, cwd=tmp_path,
    )  # fmt: skip
    assert (job.returncode, json.loads(job.stdout)["status"]) == (3, 404), job.stderr


def test_publish_without_a_body_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "--api-url", "http://127.0.0.1:9", "publish", "t", "E", "v01", "--secret", "s")
    assert code == 2
    assert "--data" in err


def test_json_anywhere_on_the_line_gives_the_same_output(
    capsys: pytest.CaptureFixture[str], tenant_id: str
) -> None:
    run(capsys, "tenant", "create", tenant_id, "--name", "Acme")
    run(capsys, "event", "register", tenant_id, "Won", "v01")
    for command in (
        ("tenant", "show", tenant_id),
        ("tenant", "list"),
        ("event", "list", tenant_id),
        ("connector", "list", tenant_id),
        ("rule", "list", tenant_id),
    ):
        answers = []
        for argv in (
            ["--json", *command],
            [*command, "--json"],
            [command[0], "--json", *command[1:]],
        ):
            code = main(argv)
            out, err = capsys.readouterr()
            answers.append((code, out.strip().splitlines()[-1], err))
        assert answers[0][0] == 0
        json.loads(answers[0][1])
        assert answers[1:] == [answers[0], answers[0]], command
    # And the same failure, wherever --json is given
    failures = []
    for argv in (["--json", "tenant", "show", "nobody-here"], ["tenant", "show", "nobody-here", "--json"]):
        code = main(argv)
        failures.append((code, capsys.readouterr()))
    assert failures[0] == failures[1]
    assert failures[0][0] == 3


def test_a_value_that_looks_like_json_flag_stays_a_value(
    capsys: pytest.CaptureFixture[str], tenant_id: str
) -> None:
    # --json is an option of every command, never taken out of argv: here it is --name's value.
    code, out, _ = run(capsys, "tenant", "create", tenant_id, "--name", "--json")
    assert (code, json.loads(out)["name"]) == (0, "--json")


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[list[str]]:
    found: list[list[str]] = []
    context = click.Context(group)
    for name in group.list_commands(context):
        command = group.get_command(context, name)
        found.append([*prefix, name])
        if isinstance(command, click.Group):
            found += _commands(command, (*prefix, name))
    return found


@pytest.mark.parametrize("command", _commands(cli), ids=" ".join)
def test_every_command_has_help(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*command, "--help"]) == 0
    assert f"Usage: eventrelay {' '.join(command)}" in capsys.readouterr().out


def test_publish_to_an_unreachable_api_says_so_once_its_retry_budget_is_spent(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, err = run(
        capsys, "--api-url", "http://127.0.0.1:9", "publish", "t", "E", "v01", "--secret", "s",
        "--data", "{}", "--retry-budget", "0",
    )  # fmt: skip
    assert (code, err.strip()) == (1, "error: cannot reach the Events API: ConnectionError")
