"""The CLI over the admin API (`--api`): a tenant admin without AWS credentials runs the README's
admin flow end to end (a dataset run included: the file goes up through an upload URL), and the
CLI prints the same documents as when it talks to AWS directly."""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import requests

from tests.support.datasets import rows_csv
from tests.support.http_servers import RecordingServer
from tests.support.local_stack import EVENTRELAY, RunningStack, user_environment
from tests.support.waiting import wait_until

CANARY_PASSWORD = "api-mode-canary-3d9f1e27"


def over_the_api(
    local_stack: RunningStack, token: str, *argv: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The CLI as a tenant admin on another machine runs it: no AWS settings, no local state."""
    environment = {
        **user_environment(),
        "EVENTRELAY_API": local_stack.api_url,
        "EVENTRELAY_TOKEN": token,
        **(env or {}),
    }
    return subprocess.run(
        [str(EVENTRELAY), *argv],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def ok_json(completed: subprocess.CompletedProcess[str]) -> Any:
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)


def publish(local_stack: RunningStack, payload: dict[str, Any]) -> str:
    answer = requests.post(
        f"{local_stack.api_url}/v1/eventManager/event",
        headers={
            "Content-Type": "application/json",
            "eventName": "TicketRequested",
            "eventVersion": "v01",
            "tenantId": "demo",
            "sharedSecret": local_stack.demo_secret,
        },
        data=json.dumps(payload),
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["data"]["eventId"])


def test_a_tenant_admin_runs_the_admin_flow_through_the_api_without_aws_credentials(
    local_stack: RunningStack, tmp_path: Path
) -> None:
    token = local_stack.cli("token", "demo").stdout.strip()
    assert token.count(".") == 2

    def cli(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return over_the_api(local_stack, token, *argv, cwd=tmp_path, env=env)

    with RecordingServer() as target:
        assert cli("event", "register", "demo", "TicketRequested", "v01").returncode == 0
        created = ok_json(
            cli(
                "--json", "connector", "create", "demo", "desk",
                "--base-url", target.url("/api"), "--auth", "basic", "--username", "bot",
                "--password-env", "DESK_PASSWORD", "--test-url", "ping",
                env={"DESK_PASSWORD": CANARY_PASSWORD},
            )
        )  # fmt: skip
        assert created["name"] == "desk"
        assert CANARY_PASSWORD not in json.dumps(created)
        assert cli("connector", "test", "demo", "desk").returncode == 0
        action = cli(
            "action", "create", "demo", "open-ticket", "--connector", "desk", "--method", "POST",
            "--url", "tickets", "--payload", '{"title": "{{title}}"}',
        )  # fmt: skip
        assert action.returncode == 0, action.stderr
        tested = cli("--json", "action", "test", "demo", "open-ticket", "--value", "title=Printer on fire")
        assert tested.returncode == 0, tested.stderr
        assert CANARY_PASSWORD not in tested.stdout
        rule = cli(
            "rule", "create", "demo", "tickets", "--event", "TicketRequested/v01",
            "--action", "open-ticket", "--map", "title=$.title",
        )  # fmt: skip
        assert rule.returncode == 0, rule.stderr

        calls_before = len(target.requests)
        event_id = publish(local_stack, {"title": "Disk full"})
        wait_until(
            lambda: any(b'"Disk full"' in request.body for request in target.requests[calls_before:]),
            "the rule's call reached the target",
            timeout=60,
        )
        deliveries = ok_json(cli("--json", "delivery", "list", "demo", "--event-id", event_id))
        listed = deliveries["deliveries"] if isinstance(deliveries, dict) else deliveries
        [delivery] = listed

        def succeeded() -> bool:
            shown = ok_json(cli("--json", "delivery", "show", "demo", delivery["deliveryId"]))
            return bool(shown["state"] == "SUCCEEDED" and len(shown["attempts"]) == 1)

        wait_until(succeeded, "the delivery shows SUCCEEDED with its one attempt", timeout=60)


def test_the_api_mode_prints_the_same_documents_as_the_direct_mode(
    local_stack: RunningStack, tmp_path: Path
) -> None:
    token = local_stack.cli("token", "--operator").stdout.strip()
    commands: list[tuple[str, ...]] = [
        ("tenant", "show", "demo"),
        ("event", "list", "demo"),
        ("limits", "show", "demo"),
    ]
    for argv in commands:
        direct = ok_json(local_stack.cli("--json", *argv))
        through_the_api = ok_json(over_the_api(local_stack, token, "--json", *argv, cwd=tmp_path))
        if argv[0] == "limits":  # the windows' use moves between the calls; their shape must not
            direct = {kind: [w["window"] for w in windows] for kind, windows in direct.items()}
            through_the_api = {
                kind: [w["window"] for w in windows] for kind, windows in through_the_api.items()
            }
        assert through_the_api == direct


def test_without_a_token_the_api_mode_says_how_to_get_one(local_stack: RunningStack, tmp_path: Path) -> None:
    completed = subprocess.run(
        [str(EVENTRELAY), "tenant", "list"],
        cwd=tmp_path,
        env={**user_environment(), "EVENTRELAY_API": local_stack.api_url, "XDG_CONFIG_HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 2
    assert "EVENTRELAY_TOKEN" in completed.stderr
    assert "eventrelay login" in completed.stderr


def test_a_tenant_admin_token_over_the_api_is_refused_operator_routes_with_exit_1(
    local_stack: RunningStack, tmp_path: Path
) -> None:
    token = local_stack.cli("token", "demo").stdout.strip()
    completed = over_the_api(local_stack, token, "tenant", "list", cwd=tmp_path)
    assert completed.returncode == 1
    assert "operators only" in completed.stderr


def test_dataset_run_over_the_api_uploads_through_an_upload_url_and_follows_the_run(
    local_stack: RunningStack, tmp_path: Path
) -> None:
    token = local_stack.cli("token", "demo").stdout.strip()

    def cli(*argv: str) -> subprocess.CompletedProcess[str]:
        return over_the_api(local_stack, token, *argv, cwd=tmp_path)

    with RecordingServer() as target:
        # Given a dataset rule made over the API, and a CSV with a quoted comma
        connector = cli("connector", "create", "demo", "rows-api", "--base-url", target.url("/api"))
        assert connector.returncode == 0, connector.stderr
        action = cli(
            "action", "create", "demo", "open-row", "--connector", "rows-api", "--method", "POST",
            "--url", "rows", "--payload", '{"id": "{{id}}", "title": "{{title}}"}',
        )  # fmt: skip
        assert action.returncode == 0, action.stderr
        rule = cli(
            "rule", "create", "demo", "api-rows", "--dataset", "--action", "open-row",
            "--map", "id=$.id", "--map", "title=$.title",
        )  # fmt: skip
        assert rule.returncode == 0, rule.stderr
        rows = [[f"A-{n}", f"Row {n}, over the API"] for n in range(1, 6)]
        (tmp_path / "rows.csv").write_bytes(rows_csv(["id", "title"], rows))

        # When a tenant admin without AWS credentials runs it over the API
        ran = cli("--json", "dataset", "run", "demo", "api-rows", "--file", "rows.csv", "--timeout", "50")

        # Then the file went up through an upload URL, the run SUCCEEDED (exit 0) with its progress
        # on stderr, and every row was called exactly once with its values
        assert ran.returncode == 0, ran.stderr
        assert "uploaded s3://" in ran.stderr
        assert "SUCCEEDED" in ran.stderr
        assert "X-Amz-Signature" not in ran.stderr + ran.stdout  # the URL is a credential: never printed
        followed = json.loads(ran.stdout)
        assert (followed["state"], followed["rule"], followed["rows"], followed["delivered"]) == (
            "SUCCEEDED",
            "api-rows",
            5,
            5,
        )
        assert followed["file"]["key"].startswith("tenants/demo/rules/api-rows/")
        calls = Counter((body["id"], body["title"]) for body in (json.loads(r.body) for r in target.requests))
        assert calls == Counter({(f"A-{n}", f"Row {n}, over the API"): 1 for n in range(1, 6)})
        # and `dataset show` over the API prints the run `dataset run` followed
        shown = ok_json(cli("--json", "dataset", "show", "demo", followed["runId"]))
        assert (shown["runId"], shown["state"]) == (followed["runId"], "SUCCEEDED")

        # And an event rule is refused (exit 2), an unknown rule is not found (exit 3), before any upload
        assert cli("event", "register", "demo", "RowRequested", "v01").returncode == 0
        event_rule = cli(
            "rule", "create", "demo", "api-events", "--event", "RowRequested/v01", "--action", "open-row",
            "--map", "id=$.id", "--map", "title=$.title",
        )  # fmt: skip
        assert event_rule.returncode == 0, event_rule.stderr
        refused = cli("dataset", "run", "demo", "api-events", "--file", "rows.csv")
        assert refused.returncode == 2, refused.stderr
        assert "not a dataset rule" in refused.stderr
        assert cli("dataset", "run", "demo", "no-such-rule", "--file", "rows.csv").returncode == 3
