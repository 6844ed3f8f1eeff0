"""Dataset runs end to end on the embedded AWS: a file in the datasets bucket, the expander a page
at a time, the runner calling a recording HTTP server once per row, and the run's job record."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from eventrelay.admin import DeliveryQuery
from eventrelay.datasets.models import RunState, dataset_delivery_id
from eventrelay.delivery.models import DeliveryState
from eventrelay.roots import AwsClients
from eventrelay.roots.admin import build_admin_service
from tests.support.datasets import DatasetRig, body_of, rows_csv, thousand_row_line, thousand_rows
from tests.support.delivery import Harness
from tests.support.http_servers import RecordingServer, Reply

TICKET = '{"id": "{{id}}", "title": "{{title}}", "amount": {{amount}}}'


@pytest.fixture
def rig(harness: Harness) -> Iterator[DatasetRig]:
    built = DatasetRig(harness, page_rows=100)
    yield built
    built.close()


def configure(harness: Harness, tenant_id: str, target: RecordingServer, **rule: object) -> None:
    harness.connector(tenant_id, target.url("/"))
    harness.action(
        tenant_id,
        name="create-ticket",
        url="tickets",
        payload=TICKET,
        fields=[{"name": "amount", "type": "Number"}],
    )
    harness.rules.create(
        tenant_id,
        {
            "name": "escalations",
            "source": {"type": "dataset"},
            "action": "create-ticket",
            "mapping": {"id": "$.id", "title": "$.title", "amount": "$.amount"},
            "condition": {"path": "$.status", "op": "ne", "value": "closed"},
            **rule,
        },
    )


def test_a_thousand_row_csv_calls_the_target_once_per_delivered_row_and_reports_its_counts(
    harness: Harness, rig: DatasetRig, tenant_id: str, target: RecordingServer
) -> None:
    # Given a dataset rule and a 1,000-row CSV with a BOM, quoted commas and newlines
    configure(harness, tenant_id, target)
    body, invalid, closed = thousand_rows()
    notification = rig.upload(f"tenants/{tenant_id}/rules/escalations/load-1.csv", body)

    # When S3 notifies the expander (twice, as S3 may) and both functions drain their queues
    rig.expander.handle_message(json.dumps(notification))
    rig.expander.handle_message(json.dumps(notification))
    rig.drain()

    # Then every row that is valid and open was called exactly once, with its own values
    calls = Counter(body_of(request)["id"] for request in target.requests)
    expected = {f"E-{n}" for n in range(1, 1001) if n not in invalid and n not in closed}
    assert len(target.requests) == 987
    assert set(calls) == expected
    assert max(calls.values()) == 1
    by_id = {body_of(request)["id"]: body_of(request) for request in target.requests}
    assert by_id["E-1"] == {"id": "E-1", "title": "Escalation 1, urgent", "amount": 1}
    assert by_id["E-2"] == {"id": "E-2", "title": "Line one of 2\nline two", "amount": 2}
    # And the run reports its counts and the line of each invalid row (the header is line 1;
    # even rows take two lines)
    run = rig.only_run(tenant_id)
    assert run.state is RunState.PARTIAL_SUCCESS
    assert (run.rows, run.skipped, run.invalid, run.delivered, run.failed) == (1000, 10, 3, 987, 0)
    assert run.pending == 0
    assert [(error.row, error.line) for error in run.errors] == sorted(
        (n, thousand_row_line(n)) for n in invalid
    )
    assert all("amount" in error.reason for error in run.errors)


def test_a_json_lines_file_with_only_good_rows_succeeds(
    harness: Harness, rig: DatasetRig, tenant_id: str, target: RecordingServer
) -> None:
    configure(harness, tenant_id, target)
    lines = [
        json.dumps({"id": f"J-{n}", "title": f"t{n}", "amount": n, "status": "open"}) for n in range(1, 6)
    ]
    notification = rig.upload(f"tenants/{tenant_id}/rules/escalations/load.jsonl", "\n".join(lines).encode())

    rig.expander.handle_message(json.dumps(notification))
    rig.drain()

    assert sorted(body_of(request)["id"] for request in target.requests) == [f"J-{n}" for n in range(1, 6)]
    run = rig.only_run(tenant_id)
    assert run.state is RunState.SUCCEEDED
    assert (run.rows, run.delivered, run.invalid) == (5, 5, 0)


class StateAtSend:
    """The expander's real rows queue, noting the run's recorded state each time rows are sent."""

    def __init__(self, rig: DatasetRig, tenant_id: str) -> None:
        self.queue = rig.expander.rows_queue
        self.runs = rig.expander.runs
        self.tenant_id = tenant_id
        self.states: list[RunState] = []

    def send_bodies(self, bodies: list[str], attributes: dict[str, Any] | None = None) -> None:
        [run] = self.runs.list(self.tenant_id)
        self.states.append(run.state)
        self.queue.send_bodies(bodies, attributes)


def test_a_run_is_running_from_the_moment_its_first_rows_are_queued(
    harness: Harness, rig: DatasetRig, tenant_id: str, target: RecordingServer
) -> None:
    # Given a two-page file, and the expander's rows queue noting the run's state at each send
    configure(harness, tenant_id, target)
    rows = [[f"R-{n}", f"t{n}", str(n), "open"] for n in range(1, 151)]
    notification = rig.upload(
        f"tenants/{tenant_id}/rules/escalations/load.csv",
        rows_csv(["id", "title", "amount", "status"], rows),
    )
    observed = StateAtSend(rig, tenant_id)
    rig.expander.rows_queue = observed
    # When the expander reads its first page (its rows' calls may start before the page is recorded)
    rig.expander.handle_message(json.dumps(notification))
    # Then the run already said RUNNING when those rows were queued, not ACCEPTED
    assert observed.states == [RunState.RUNNING]
    # And it runs to the end as usual
    rig.drain()
    assert observed.states == [RunState.RUNNING, RunState.RUNNING]
    run = rig.only_run(tenant_id)
    assert (run.state, run.rows, run.delivered) == (RunState.SUCCEEDED, 150, 150)


def test_an_expander_killed_between_pages_and_restarted_calls_every_row_once(
    harness: Harness, rig: DatasetRig, tenant_id: str, target: RecordingServer
) -> None:
    # Given a 250-row file read in pages of 100
    configure(harness, tenant_id, target)
    rows = [[f"K-{n}", "t", str(n), "open"] for n in range(1, 251)]
    notification = rig.upload(
        f"tenants/{tenant_id}/rules/escalations/k.csv", rows_csv(["id", "title", "amount", "status"], rows)
    )
    rig.expander.handle_message(json.dumps(notification))  # page 1 recorded, continuation queued
    [continuation] = rig.receive("pages", 1)

    # When the expander handles page 2, dies before its message is deleted (the message returns),
    # and a redelivered S3 notification arrives too
    rig.expander.handle_message(continuation["Body"])  # page 2 done; continuation for page 3 queued
    rig.expander.handle_message(continuation["Body"])  # the same message again after the "crash"
    rig.expander.handle_message(json.dumps(notification))
    rig.delete("pages", [continuation])
    rig.drain()

    # Then each row was called exactly once and the run counts each once
    calls = Counter(body_of(request)["id"] for request in target.requests)
    assert len(calls) == 250
    assert set(calls.values()) == {1}
    run = rig.only_run(tenant_id)
    assert (run.rows, run.delivered, run.state) == (250, 250, RunState.SUCCEEDED)


def test_a_row_message_handled_twice_is_one_call_and_one_count(
    harness: Harness, rig: DatasetRig, tenant_id: str, target: RecordingServer
) -> None:
    configure(harness, tenant_id, target)
    rows = [["D-1", "t", "1", "open"], ["D-2", "t", "2", "open"]]
    notification = rig.upload(
        f"tenants/{tenant_id}/rules/escalations/d.csv", rows_csv(["id", "title", "amount", "status"], rows)
    )
    rig.expander.handle_message(json.dumps(notification))
    messages = rig.receive("rows")
    assert len(messages) == 2

    for message in messages + messages:  # SQS delivers each row message twice
        rig.runner.handle_message(message["Body"])

    assert len(target.requests) == 2
    run = rig.only_run(tenant_id)
    assert (run.delivered, run.pending, run.state) == (2, 0, RunState.SUCCEEDED)
    delivery = harness.deliveries.get(dataset_delivery_id(tenant_id, run.run_id, 1))
    assert delivery is not None
    assert delivery.state is DeliveryState.SUCCEEDED
    assert delivery.event_id == run.run_id  # `delivery list --event RUN` / `--run` find it


def test_dataset_rows_and_their_retries_go_to_the_dataset_queue_never_the_events_queue(
    harness: Harness, rig: DatasetRig, tenant_id: str
) -> None:
    # Given a target that fails with 503 (retryable)
    with RecordingServer(lambda _request: Reply(503)) as failing:
        configure(harness, tenant_id, failing)
        rows = [[f"F-{n}", "t", str(n), "open"] for n in range(1, 4)]
        notification = rig.upload(
            f"tenants/{tenant_id}/rules/escalations/f.csv",
            rows_csv(["id", "title", "amount", "status"], rows),
        )

        # When the file is expanded and its rows are attempted once
        rig.expander.handle_message(json.dumps(notification))
        assert rig.receive("events") == []
        rows_sent = rig.receive("rows")
        assert len(rows_sent) == 3
        for message in rows_sent:
            rig.runner.handle_message(message["Body"])
        rig.delete("rows", rows_sent)

    # Then the rows and their retries are on the dataset queue only: the events queue stays empty
    assert rig.receive("events") == []
    retries = rig.harness.sqs.get_queue_attributes(
        QueueUrl=rig.queues["rows"],
        AttributeNames=["ApproximateNumberOfMessagesDelayed", "ApproximateNumberOfMessages"],
    )["Attributes"]
    assert (
        int(retries["ApproximateNumberOfMessagesDelayed"]) + int(retries["ApproximateNumberOfMessages"]) == 3
    )


def test_a_system_asset_event_naming_an_uploaded_file_starts_the_subscribed_rules_run(
    harness: Harness, rig: DatasetRig, tenant_id: str, target: RecordingServer
) -> None:
    # Given a dataset rule subscribed to SystemAssetEvent/v01 and a loaded file in the stack's bucket
    configure(harness, tenant_id, target, eventName="SystemAssetEvent", eventVersion="v01")
    key = f"tenants/{tenant_id}/loads/escalations.csv"
    rig.s3.put_object(
        Bucket=rig.settings.datasets_bucket,
        Key=key,
        Body=rows_csv(
            ["id", "title", "amount", "status"], [["S-1", "t", "1", "open"], ["S-2", "t", "2", "open"]]
        ),
    )
    event = harness.envelope(
        tenant_id,
        {
            "tenantId": tenant_id,
            "assetType": "OBJECTS",
            "assetId": "a-1",
            "operation": "INSERT",
            "bucketName": rig.settings.datasets_bucket,
            "successFilePath": key,
        },
        event_name="SystemAssetEvent",
    )

    # When the runner handles the event (the start goes to the expander's queue) and both drain
    report = rig.runner.handle_message(event.to_message_body())
    assert report.steps == ()  # the dataset rule is not a delivery of the event
    rig.drain()

    # Then the file's rows were called and the run says which event started it
    assert sorted(body_of(request)["id"] for request in target.requests) == ["S-1", "S-2"]
    run = rig.only_run(tenant_id)
    assert (run.started_by, run.event_id, run.state) == ("event", event.eventId, RunState.SUCCEEDED)


def test_a_system_asset_event_naming_another_bucket_or_tenant_fails_its_run_without_reading(
    harness: Harness, rig: DatasetRig, tenant_id: str, target: RecordingServer
) -> None:
    configure(harness, tenant_id, target, eventName="SystemAssetEvent", eventVersion="v01")
    for bucket, key in (
        ("someone-elses-bucket", "x.csv"),
        (rig.settings.datasets_bucket, "tenants/other/x.csv"),
    ):
        event = harness.envelope(
            tenant_id,
            {
                "tenantId": tenant_id,
                "assetType": "OBJECTS",
                "assetId": "a",
                "operation": "INSERT",
                "bucketName": bucket,
                "successFilePath": key,
            },
            event_name="SystemAssetEvent",
        )
        rig.runner.handle_message(event.to_message_body())
    rig.drain()

    runs = rig.expander.runs.list(tenant_id)
    assert len(runs) == 2
    assert {run.state for run in runs} == {RunState.FAILED}
    reasons = sorted(str(run.reason) for run in runs)
    assert "AllowedDatasetBuckets" in reasons[0] or "AllowedDatasetBuckets" in reasons[1]
    assert any(f"under tenants/{tenant_id}/" in reason for reason in reasons)
    assert target.requests == []


def test_an_upload_for_a_missing_rule_is_a_failed_run_with_the_reason(
    rig: DatasetRig, tenant_id: str
) -> None:
    notification = rig.upload(f"tenants/{tenant_id}/rules/nope/x.csv", b"a,b\r\n1,2\r\n")
    rig.expander.handle_message(json.dumps(notification))
    run = rig.only_run(tenant_id)
    assert run.state is RunState.FAILED
    assert run.reason == f"rule 'nope' not found for tenant {tenant_id}"


def test_a_replayed_dataset_row_goes_back_on_the_dataset_queue(
    harness: Harness, rig: DatasetRig, tenant_id: str
) -> None:
    # Given a run whose two rows FAILED (the target refuses them: 400 is permanent)
    with RecordingServer(lambda _request: Reply(400)) as refusing:
        configure(harness, tenant_id, refusing)
        rows = [[f"R-{n}", "t", str(n), "open"] for n in (1, 2)]
        body = rows_csv(["id", "title", "amount", "status"], rows)
        notification = rig.upload(f"tenants/{tenant_id}/rules/escalations/r.csv", body)
        rig.expander.handle_message(json.dumps(notification))
        rows_sent = rig.receive("rows")
        for message in rows_sent:
            rig.runner.handle_message(message["Body"])
        rig.delete("rows", rows_sent)
    run = rig.only_run(tenant_id)
    assert rig.run(run.run_id).failed == 2
    # When an admin replays the run's FAILED deliveries (`delivery replay --run`)
    admin = build_admin_service(rig.settings, AwsClients.for_settings(rig.settings), harness.clock)
    report = admin.deliveries.replay_matching(tenant_id, DeliveryQuery(event_id=run.run_id))
    # Then both go back on the dataset queue, none on the events queue
    assert report.matched == 2
    replayed = rig.receive("rows")
    assert sorted(json.loads(m["Body"])["deliveryId"] for m in replayed) == sorted(
        dataset_delivery_id(tenant_id, run.run_id, row) for row in (1, 2)
    )
    assert rig.receive("events") == []
