"""Each events/*.json file (as `sam local invoke -e` takes it) gives its documented answer."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest

from eventrelay.aws import dynamodb_client
from eventrelay.bulk import Job, JobStatus, JobStore
from eventrelay.registrations import RegistrationKind
from eventrelay.settings import Settings
from eventrelay.tenants import TenantExists
from eventrelay_cli.local.lambda_runtime import load_handler, make_context
from tests.support.api import answer_of
from tests.support.paths import EVENTS_DIR, REPO_ROOT
from tests.support.queues import drain
from tests.support.roots import admin_service

# The tenant the event files speak for (a deployed stack can create it with `tenant create --secret`).
FILES_TENANT = "acme"
FILES_SECRET = "acme-events-file-secret-0001"
FILES_JOB_ID = "0b9f8a52-4c1e-4d7a-9a0e-5b7f3c2d1e00"

EXPECTED = {
    "publish_success.json": (200, None),
    "publish_wrong_secret.json": (401, "1005"),
    "publish_unregistered.json": (400, "1001"),
    "publish_system_asset.json": (200, None),
    "bulk_publish.json": (202, None),
    "job_status.json": (200, None),
}


@pytest.fixture(scope="module")
def files_tenant(local_aws: Any) -> str:
    settings: Settings = local_aws.settings
    admin = admin_service(settings)
    with contextlib.suppress(TenantExists):
        admin.tenants.create(FILES_TENANT, "Acme (events/ samples)", shared_secret=FILES_SECRET)
    admin.events.register(FILES_TENANT, "OpportunityWon", "v01")
    admin.events.register(FILES_TENANT, "SystemAssetEvent", "v01", RegistrationKind.SYSTEM_ASSET)
    JobStore(settings.config_table, dynamodb_client(settings.region)).put(
        Job(
            jobId=FILES_JOB_ID,
            tenantId=FILES_TENANT,
            status=JobStatus.SUCCESS,
            totalCount=1,
            successCount=1,
            createdAt="2026-11-23T10:15:00.000Z",
            updatedAt="2026-11-23T10:15:01.000Z",
            requestId="req-0",
        ),
        now=1_795_436_100,
    )
    return FILES_TENANT


def test_every_event_file_is_covered() -> None:
    assert sorted(p.name for p in EVENTS_DIR.glob("*.json") if not p.name.startswith("sqs_")) == sorted(
        EXPECTED
    )


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_event_file_gives_its_documented_answer(files_tenant: str, settings: Settings, name: str) -> None:
    handler = load_handler(REPO_ROOT / "functions" / "publish")
    event = json.loads((EVENTS_DIR / name).read_text())
    answer = answer_of(handler(event, make_context("PublishFunction", 10)))
    status, code = EXPECTED[name]
    assert (answer.status, answer.error_code) == (status, code), answer.body
    assert answer.body["result"] is (code is None)
    if name.startswith("publish_") and status == 200:
        event_id = answer.body["data"]["eventId"]
        [envelope] = [m["body"] for m in drain(settings.events_queue_url) if m["body"]["eventId"] == event_id]
        assert envelope["tenantId"] == FILES_TENANT
        assert envelope["requestId"] == event["requestContext"]["requestId"]
    if name == "job_status.json":
        assert answer.body["data"]["jobId"] == FILES_JOB_ID
        assert answer.body["data"]["status"] == "SUCCESS"
    drain(settings.jobs_queue_url)


def test_sqs_event_files_are_lambda_sqs_events() -> None:
    for path in EVENTS_DIR.glob("sqs_*.json"):
        records = json.loads(path.read_text())["Records"]
        assert records, path.name
        assert all(r["eventSource"] == "aws:sqs" for r in records), path.name


def test_the_bulk_job_sqs_event_is_expanded_by_the_bulk_worker(files_tenant: str, settings: Settings) -> None:
    # Given the job record the API wrote when it accepted the bulk call
    event = json.loads((EVENTS_DIR / "sqs_bulk_job.json").read_text())
    job_id = json.loads(event["Records"][0]["body"])["jobId"]
    jobs = JobStore(settings.config_table, dynamodb_client(settings.region))
    stamp = "2026-11-23T10:15:00.000Z"
    jobs.put(
        Job(
            jobId=job_id,
            tenantId=files_tenant,
            status=JobStatus.ACCEPTED,
            totalCount=2,
            createdAt=stamp,
            updatedAt=stamp,
            requestId="req-bulk",
        ),
        now=1_795_436_100,
    )
    # When the bulk worker Lambda receives the SQS event
    handler = load_handler(REPO_ROOT / "functions" / "bulk_worker")
    response = handler(event, make_context("BulkWorkerFunction", 60))
    # Then the batch succeeded and the job reports one event enqueued and one refused
    assert response == {"batchItemFailures": []}
    job = jobs.get(files_tenant, job_id)
    assert job is not None
    assert (job.status, job.successCount, job.failureCount) == (JobStatus.PARTIAL_SUCCESS, 1, 1)
    [accepted] = job.accepted
    envelopes = [
        m["body"] for m in drain(settings.events_queue_url) if m["body"]["eventId"] == accepted.eventId
    ]
    assert [e["payload"] for e in envelopes] == [{"opportunityId": "OPP-1"}]
