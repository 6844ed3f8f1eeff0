"""`eventrelay rule ...` and `eventrelay delivery ...` against the embedded AWS."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from eventrelay.delivery.models import DeliveryState
from eventrelay_cli.main import main
from tests.support.delivery import Harness
from tests.support.http_servers import RecordedRequest, RecordingServer, Reply
from tests.support.local_stack import EVENTRELAY


@pytest.fixture(autouse=True)
def _cli_targets_this_test(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, queue_url: str) -> None:
    # Away from a developer's running local stack, and replays go to this test's queue.
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EVENTRELAY_EVENTS_QUEUE_URL", queue_url)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, object, str]:
    code = main(["--json", *argv])
    out, err = capsys.readouterr()
    return code, json.loads(out) if out.strip() else None, err


def test_rule_commands(capsys: pytest.CaptureFixture[str], harness: Harness, tenant_id: str) -> None:
    assert run(capsys, "tenant", "create", tenant_id)[0] == 0  # rules belong to a tenant that exists
    harness.connector(tenant_id, "http://127.0.0.1:9/")
    harness.action(tenant_id, name="hook", url="/hook/{{n}}", payload='{"p": "{{priority}}"}')

    # A rule whose mapping leaves out a required field is refused, naming it
    code, _, err = run(
        capsys,
        "rule",
        "create",
        tenant_id,
        "big",
        "--event",
        "OrderPlaced/v01",
        "--action",
        "hook",
        "--map",
        "n=$.n",
    )
    assert code == 2
    assert "mapping.priority: field 'priority' of action 'hook' has no default" in err

    code, created, _ = run(
        capsys,
        "rule",
        "create",
        tenant_id,
        "big",
        "--event",
        "OrderPlaced/v01",
        "--action",
        "hook",
        "--map",
        "n=$.n",
        "--set",
        "priority=high",
        "--where",
        "$.n >= 2",
        "--where",
        '$.kind in ["a","b"]',
    )
    assert code == 0
    assert created == {
        "name": "big",
        "source": {"type": "events"},
        "eventName": "OrderPlaced",
        "eventVersion": "v01",
        "action": "hook",
        "condition": {
            "all": [
                {"path": "$.n", "op": "gte", "value": 2},
                {"path": "$.kind", "op": "in", "value": ["a", "b"]},
            ]
        },
        "conditionText": '$.n >= 2 and $.kind in ["a", "b"]',
        "mapping": {"n": {"path": "$.n"}, "priority": {"constant": "high"}},
        "enabled": True,
        "description": "",
        "tenantId": tenant_id,
        "version": 1,
        "createdAt": created["createdAt"],
        "updatedAt": created["updatedAt"],  # type: ignore[index]
    }
    code, _, err = run(
        capsys,
        "rule",
        "create",
        tenant_id,
        "big",
        "--event",
        "OrderPlaced/v01",
        "--action",
        "hook",
        "--map",
        "n=$.n",
        "--set",
        "priority=low",
    )
    assert (code, err.strip()) == (4, "error: rule 'big' already exists")
    code, _, err = run(
        capsys,
        "rule",
        "create",
        tenant_id,
        "odd",
        "--event",
        "OrderPlaced/v01",
        "--action",
        "hook",
        "--map",
        "n=$.n",
        "--set",
        "priority=x",
        "--where",
        "$.n ~ 2",
    )
    assert code == 2
    assert "cannot read '$.n ~ 2'" in err

    code, updated, _ = run(
        capsys, "rule", "update", tenant_id, "big", "--set", "priority=7", "--no-condition"
    )
    assert code == 0
    assert (updated["version"], updated["condition"], updated["mapping"]["priority"]) == (  # type: ignore[index]
        2,
        None,
        {"constant": 7},
    )
    assert run(capsys, "rule", "disable", tenant_id, "big")[1]["enabled"] is False  # type: ignore[index]
    code, listed, _ = run(capsys, "rule", "list", tenant_id, "--event", "OrderPlaced/v01")
    assert [(r["name"], r["enabled"]) for r in listed] == [("big", False)]  # type: ignore[union-attr]
    assert run(capsys, "rule", "enable", tenant_id, "big")[1]["enabled"] is True  # type: ignore[index]
    assert run(capsys, "rule", "show", tenant_id, "big")[1]["version"] == 4  # type: ignore[index]
    assert run(capsys, "rule", "delete", tenant_id, "big")[0] == 0
    code, _, err = run(capsys, "rule", "show", tenant_id, "big")
    assert (code, err.strip()) == (3, "error: rule 'big' not found")


def test_rule_from_a_file_and_human_output(
    capsys: pytest.CaptureFixture[str], harness: Harness, tenant_id: str, tmp_path: Path
) -> None:
    assert run(capsys, "tenant", "create", tenant_id)[0] == 0
    harness.connector(tenant_id, "http://127.0.0.1:9/")
    harness.action(tenant_id, name="hook", url="/hook/{{n}}")
    (tmp_path / "rule.yaml").write_text(
        "name: from-file\neventName: OrderPlaced\neventVersion: v01\naction: hook\n"
        "mapping:\n  n: $.order.id\ncondition: {path: $.total, op: '>', value: 10}\n"
    )
    assert main(["rule", "create", tenant_id, "--file", str(tmp_path / "rule.yaml")]) == 0
    out = capsys.readouterr().out
    assert "created rule from-file (enabled, version 1)" in out
    assert "when    OrderPlaced/v01 and $.total > 10" in out
    assert "map     n <- path $.order.id" in out


def test_delivery_commands(capsys: pytest.CaptureFixture[str], harness: Harness, tenant_id: str) -> None:
    # Given two failed deliveries and one that succeeded, of a tenant (the admin API checks it exists)
    assert run(capsys, "tenant", "create", tenant_id)[0] == 0
    answer = {"status": 500}

    def target(request: RecordedRequest) -> Reply:
        return Reply(status=200 if request.path.endswith("/ok") else answer["status"], body=b"nope")

    with RecordingServer(target) as server:
        harness.connector(tenant_id, server.url())
        harness.action(tenant_id, name="hook", url="/hook/{{kind}}", maxRetries=0)
        harness.rule(tenant_id, name="hook", action="hook", mapping={"kind": "$.kind"})
        envelopes = [harness.envelope(tenant_id, {"kind": k}) for k in ("bad", "bad", "ok")]
        for envelope in envelopes:
            harness.handle(envelope)

        code, page, _ = run(capsys, "delivery", "list", tenant_id, "--state", "failed", "--since", "1h")
        assert code == 0
        listed = page["deliveries"]  # type: ignore[index]
        assert page["nextCursor"] is None  # type: ignore[index]
        assert sorted(d["eventId"] for d in listed) == sorted(e.eventId for e in envelopes[:2])
        assert {d["state"] for d in listed} == {"FAILED"}
        assert len(run(capsys, "delivery", "list", tenant_id)[1]["deliveries"]) == 3  # type: ignore[index]
        # --cursor continues where a page ended (human output says how)
        assert main(["delivery", "list", tenant_id, "--limit", "2"]) == 0
        first_page = capsys.readouterr()
        [more] = [line for line in first_page.err.splitlines() if line.startswith("more: --cursor ")]
        code, rest, _ = run(
            capsys, "delivery", "list", tenant_id, "--cursor", more.removeprefix("more: --cursor ")
        )
        assert code == 0
        assert rest["nextCursor"] is None  # type: ignore[index]
        first_ids = {line.split("\t")[0] for line in first_page.out.splitlines()}
        rest_ids = {d["deliveryId"] for d in rest["deliveries"]}  # type: ignore[index]
        assert (len(first_ids), len(rest_ids), first_ids & rest_ids) == (2, 1, set())
        assert run(capsys, "delivery", "list", tenant_id, "--since", "2999-01-01")[1] == {
            "deliveries": [],
            "nextCursor": None,
        }

        failed_id = harness.delivery_of(envelopes[0], "hook").delivery_id
        code, shown, _ = run(capsys, "delivery", "show", tenant_id, failed_id)
        assert shown["state"] == "FAILED"  # type: ignore[index]
        [attempt] = shown["attempts"]  # type: ignore[index]
        assert (attempt["outcome"], attempt["statusCode"], attempt["responseBody"]) == (
            "RETRYABLE",
            500,
            "nope",
        )
        assert run(capsys, "delivery", "show", "someone-else", failed_id)[0] == 3

        # When the admin counts, then replays, the failed ones (the target works again)
        answer["status"] = 200
        code, dry_run, _ = run(capsys, "delivery", "replay", tenant_id, "--dry-run")
        assert (code, dry_run) == (0, {"dryRun": True, "wouldReplay": 2})
        code, replayed, err = run(capsys, "delivery", "replay", tenant_id, "--action", "hook")
        assert (code, replayed) == (0, {"matched": 2, "replayed": 2, "skipped": []})
        assert "replaying 2 deliveries" in err
        assert "[##############################] 2/2" in err
        harness.pump()
        # Then they were delivered, as replays
        assert [r.path for r in server.requests].count("/hook/bad") == 4
    assert {harness.delivery_of(e, "hook").state for e in envelopes} == {DeliveryState.SUCCEEDED}
    # A single replay of a succeeded delivery is allowed; of one on its way, refused
    code, single, _ = run(capsys, "delivery", "replay", tenant_id, failed_id)
    assert (code, single) == (0, {"replayed": 1, "deliveryId": failed_id, "round": 3})
    code, _, err = run(capsys, "delivery", "replay", tenant_id, failed_id)
    assert code == 4
    assert "cannot be replayed: it is PENDING" in err
    code, _, err = run(capsys, "delivery", "replay", tenant_id, failed_id, "--state", "FAILED")
    assert (code, err.strip()) == (2, "error: give a delivery id or filters, not both")
    code, _, err = run(capsys, "delivery", "list", tenant_id, "--since", "yesterday")
    assert code == 2
    assert "cannot read the time 'yesterday'" in err


def test_delivery_show_prints_the_attempt_count_where_the_count_belongs(
    harness: Harness, tenant_id: str, tmp_path: Path
) -> None:
    # Given a delivery that failed at its first attempt (a 400 is permanent) out of 2 allowed
    assert main(["tenant", "create", tenant_id]) == 0
    with RecordingServer(lambda request: Reply(status=400, body=b"bad request")) as server:
        harness.connector(tenant_id, server.url())
        harness.action(tenant_id, name="hook", url="/hook", maxRetries=1)
        harness.rule(tenant_id, name="hook", action="hook")
        envelope = harness.envelope(tenant_id, {"kind": "x"})
        harness.handle(envelope)
    delivery_id = harness.delivery_of(envelope, "hook").delivery_id

    def show(*options: str) -> subprocess.CompletedProcess[str]:
        # The CLI as a user runs it: a fresh process, targeting this session's AWS (its environment)
        return subprocess.run(
            [str(EVENTRELAY), "delivery", "show", tenant_id, delivery_id, *options],
            cwd=tmp_path,
            env=dict(os.environ),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    # When an admin shows it, Then the count stands where the count belongs, the attempts below it
    human = show()
    assert human.returncode == 0, human.stderr
    assert human.stdout.splitlines()[0] == f"delivery {delivery_id}: FAILED, 1 of 2 attempts made"
    assert "[{" not in human.stdout
    assert "  #1 " in human.stdout
    # And --json keeps the count next to the list of attempts
    shown = show("--json")
    assert shown.returncode == 0, shown.stderr
    view = json.loads(shown.stdout)
    assert (view["attemptCount"], view["attemptLimit"], view["state"]) == (1, 2, "FAILED")
    assert [(a["attempt"], a["statusCode"]) for a in view["attempts"]] == [(1, 400)]
