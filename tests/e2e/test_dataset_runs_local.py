"""Dataset runs on the local stack, as a user starts them: any S3 client's upload to the datasets
bucket (moto sends no notification; the local stack's poller does), and `eventrelay dataset run`.

A real HTTP server on 127.0.0.1 plays the ticket API; every row must reach it exactly once.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import boto3

from tests.support.datasets import rows_csv
from tests.support.http_servers import RecordingServer
from tests.support.local_stack import RunningStack
from tests.support.waiting import wait_until

CONFIG = """
tenant: demo
connectors:
  - name: tickets-api-NAME
    baseUrl: BASE_URL
    auth: {type: token, headers: {X-Api-Key: {env: TICKETS_TOKEN}}}
actions:
  - name: open-ticket-NAME
    connector: tickets-api-NAME
    method: POST
    url: tickets
    payload: '{"id": "{{id}}", "title": "{{title}}", "amount": {{amount}}}'
    fields:
      - {name: amount, type: Number}
rules:
  - name: NAME
    source: {type: dataset}
    action: open-ticket-NAME
    mapping: {id: $.id, title: $.title, amount: $.amount}
"""


def apply_dataset_rule(local_stack: RunningStack, name: str, base_url: str) -> None:
    config = local_stack.state_dir / f"{name}.yaml"
    config.write_text(CONFIG.replace("NAME", name).replace("BASE_URL", base_url))
    applied = local_stack.cli("apply", "-f", config.name, env={"TICKETS_TOKEN": "tickets-token-e2e"})
    assert applied.returncode == 0, applied.stderr


def ticket_ids(target: RecordingServer) -> Counter[str]:
    return Counter(json.loads(request.body)["id"] for request in target.requests)


def runs(local_stack: RunningStack) -> list[dict[str, Any]]:
    listed = local_stack.cli("--json", "dataset", "list", "demo")
    assert listed.returncode == 0, listed.stderr
    return list(json.loads(listed.stdout)["runs"])


def test_an_object_put_with_a_plain_s3_client_starts_a_run(local_stack: RunningStack) -> None:
    with RecordingServer() as target:
        # Given a dataset rule
        apply_dataset_rule(local_stack, "plain-upload", target.url("/api"))
        # When any S3 client puts a file under the rule's key (no notification from moto's S3)
        s3 = boto3.client(
            "s3",
            region_name=local_stack.environ["AWS_REGION"],
            endpoint_url=local_stack.environ["AWS_ENDPOINT_URL"],
            aws_access_key_id=local_stack.environ["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=local_stack.environ["AWS_SECRET_ACCESS_KEY"],
        )
        key = "tenants/demo/rules/plain-upload/escalations.csv"
        body = rows_csv(["id", "title", "amount"], [[f"P-{n}", f"Plain {n}", str(n)] for n in (1, 2, 3)])
        s3.put_object(Bucket=local_stack.environ["EVENTRELAY_DATASETS_BUCKET"], Key=key, Body=body)

        # Then a run of that rule starts on it and ends SUCCEEDED, every row called once
        def finished_run() -> dict[str, Any] | None:
            mine = [run for run in runs(local_stack) if run["file"]["key"] == key]
            return mine[0] if mine and mine[0]["state"] == "SUCCEEDED" else None

        wait_until(lambda: finished_run() is not None, timeout=60, what="the upload's run SUCCEEDED")
        run = finished_run()
        assert run is not None
        assert (run["rule"], run["startedBy"], run["rows"], run["delivered"]) == (
            "plain-upload",
            "upload",
            3,
            3,
        )
        assert ticket_ids(target) == Counter({"P-1": 1, "P-2": 1, "P-3": 1})


def test_dataset_run_uploads_follows_and_reports_the_bad_rows(local_stack: RunningStack) -> None:
    with RecordingServer() as target:
        # Given a dataset rule and a 50-row CSV whose rows 12 and 40 have an amount that is no number
        apply_dataset_rule(local_stack, "cli-run", target.url("/api"))
        bad = {12, 40}
        rows = [[f"C-{n}", f"Row {n}", "many" if n in bad else str(n)] for n in range(1, 51)]
        (local_stack.state_dir / "rows.csv").write_bytes(rows_csv(["id", "title", "amount"], rows))
        # When `eventrelay dataset run` uploads it and follows the run
        ran = local_stack.cli(
            "--json", "dataset", "run", "demo", "cli-run", "--file", "rows.csv", "--timeout", "50"
        )
        # Then it ends PARTIAL_SUCCESS (exit code 1) after drawing its progress on stderr
        assert ran.returncode == 1, ran.stderr
        assert "PARTIAL_SUCCESS" in ran.stderr
        followed = json.loads(ran.stdout)
        assert followed["state"] == "PARTIAL_SUCCESS"
        # and the target got the 48 good rows, each exactly once
        assert ticket_ids(target) == Counter({f"C-{n}": 1 for n in range(1, 51) if n not in bad})
    # And `dataset show` reports the counts and the two bad rows' line numbers (the header is line 1)
    shown = local_stack.cli("--json", "dataset", "show", "demo", followed["runId"])
    assert shown.returncode == 0, shown.stderr
    run = json.loads(shown.stdout)
    assert (run["rows"], run["skipped"], run["invalid"], run["delivered"], run["failed"], run["pending"]) == (
        50,
        0,
        2,
        48,
        0,
        0,
    )
    assert [error["line"] for error in run["errors"]] == [13, 41]
    assert run["file"]["key"].startswith("tenants/demo/rules/cli-run/")
    assert run["file"]["key"].endswith("-rows.csv")
    # And the run's deliveries are found by `delivery list --run`: one per good row, all SUCCEEDED
    listed = local_stack.cli(
        "--json", "delivery", "list", "demo", "--run", followed["runId"], "--limit", "100"
    )
    assert listed.returncode == 0, listed.stderr
    deliveries = json.loads(listed.stdout)["deliveries"]
    assert len(deliveries) == 48
    assert {(d["state"], d["eventId"], d["rule"]) for d in deliveries} == {
        ("SUCCEEDED", followed["runId"], "cli-run")
    }
