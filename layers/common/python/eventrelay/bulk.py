"""Bulk (asynchronous) publishing: a job is accepted durably, then expanded into events in the background.

POST answers 202 once the job record exists and the job message is on the jobs queue. The bulk
worker validates each item as a single publish would (registration, payload) and enqueues the
valid ones with eventIds derived from (jobId, index), so a redelivered job message enqueues the
same eventIds again rather than new events (the action runner's deliveries are keyed by eventId).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, Field

from eventrelay.clock import Clock, iso_utc, system_clock
from eventrelay.envelopes import EventEnvelope, MessageQueue
from eventrelay.errors import ApiError, DependencyFailure, InvalidPayload, NotFound
from eventrelay.publishing import (
    MAX_BULK_EVENTS,
    CallerIdentity,
    Gatekeeper,
    PublishService,
    parse_json_object,
)
from eventrelay.ratelimit import LimitKind
from eventrelay.registrations import EVENT_NAME_PATTERN, EVENT_VERSION_PATTERN
from eventrelay.tenants import tenant_pk

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

JOB_TTL_SECONDS = 30 * 24 * 3600
BULK_EVENT_ID_NAMESPACE = uuid.UUID("6f1d7e2a-3c1b-4f5e-9a51-0d6a2b8c4e11")


class JobStatus(StrEnum):
    ACCEPTED = "ACCEPTED"
    PROCESSING = "PROCESSING"
    SUCCESS = "SUCCESS"
    PARTIAL_SUCCESS = "PARTIAL_SUCCESS"
    FAILED = "FAILED"


FINAL_STATUSES = frozenset({JobStatus.SUCCESS, JobStatus.PARTIAL_SUCCESS, JobStatus.FAILED})


class ItemError(BaseModel):
    index: int
    eventName: str | None = None
    eventVersion: str | None = None
    errorCode: str
    message: str


class ItemAccepted(BaseModel):
    index: int
    eventId: str


class Job(BaseModel):
    jobId: str
    tenantId: str
    status: JobStatus
    totalCount: int
    successCount: int = 0
    failureCount: int = 0
    errors: list[ItemError] = Field(default_factory=list)
    accepted: list[ItemAccepted] = Field(default_factory=list)
    createdAt: str
    updatedAt: str
    requestId: str

    def public_view(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude={"tenantId", "requestId"})


class JobMessage(BaseModel):
    jobId: str
    tenantId: str
    requestId: str
    receivedAt: str
    events: list[Any]


class JobStore:
    def __init__(self, table_name: str, client: DynamoDBClient) -> None:
        self._table = table_name
        self._client = client

    @staticmethod
    def _key(tenant_id: str, job_id: str) -> dict[str, dict[str, str]]:
        return {"pk": {"S": tenant_pk(tenant_id)}, "sk": {"S": f"JOB#{job_id}"}}

    def put(self, job: Job, now: float) -> None:
        try:
            self._client.put_item(
                TableName=self._table,
                Item={
                    **self._key(job.tenantId, job.jobId),
                    "job": {"S": job.model_dump_json()},
                    "status": {"S": job.status.value},
                    "expiresAt": {"N": str(int(now) + JOB_TTL_SECONDS)},
                },
            )
        except (BotoCoreError, ClientError):
            raise DependencyFailure("dynamodb") from None

    def delete(self, tenant_id: str, job_id: str) -> None:
        try:
            self._client.delete_item(TableName=self._table, Key=self._key(tenant_id, job_id))
        except (BotoCoreError, ClientError):
            return  # an orphan ACCEPTED record is harmless: the publisher was told 1009

    def get(self, tenant_id: str, job_id: str) -> Job | None:
        try:
            item = self._client.get_item(TableName=self._table, Key=self._key(tenant_id, job_id)).get("Item")
        except (BotoCoreError, ClientError):
            raise DependencyFailure("dynamodb") from None
        return Job.model_validate_json(item["job"]["S"]) if item else None


@dataclass(frozen=True)
class BulkAccepted:
    job: Job
    rate_limit_headers: dict[str, str]


def _bulk_events(body: bytes) -> list[Any]:
    document = parse_json_object(body)
    events = document.get("events")
    if not isinstance(events, list):
        raise InvalidPayload(["events: must be a list of {eventName, eventVersion, payload}"])
    if not events:
        raise InvalidPayload(["events: must hold at least one event"])
    if len(events) > MAX_BULK_EVENTS:
        raise InvalidPayload(
            [f"events: at most {MAX_BULK_EVENTS} events per bulk request, got {len(events)}"]
        )
    return events


class BulkService:
    def __init__(
        self, gatekeeper: Gatekeeper, jobs: JobStore, jobs_queue: MessageQueue, clock: Clock = system_clock
    ) -> None:
        self._gatekeeper = gatekeeper
        self._jobs = jobs
        self._jobs_queue = jobs_queue
        self._clock = clock

    def submit(self, caller: CallerIdentity, body: bytes) -> BulkAccepted:
        hit = self._gatekeeper.admit(caller, LimitKind.ASYNC)
        job = self._gatekeeper.run_admitted(hit, lambda: self._accept(caller, body))
        return BulkAccepted(job, hit.headers())

    def _accept(self, caller: CallerIdentity, body: bytes) -> Job:
        events = _bulk_events(body)
        now = self._clock()
        stamp = iso_utc(now)
        job = Job(
            jobId=str(uuid.uuid4()),
            tenantId=caller.tenant_id,
            status=JobStatus.ACCEPTED,
            totalCount=len(events),
            createdAt=stamp,
            updatedAt=stamp,
            requestId=caller.request_id,
        )
        self._jobs.put(job, now)
        message = JobMessage(
            jobId=job.jobId,
            tenantId=caller.tenant_id,
            requestId=caller.request_id,
            receivedAt=stamp,
            events=events,
        )
        try:
            self._jobs_queue.send(message.model_dump_json())
        except DependencyFailure:
            self._jobs.delete(caller.tenant_id, job.jobId)
            raise
        return job

    def status(self, caller: CallerIdentity, job_id: str) -> tuple[Job, dict[str, str]]:
        hit = self._gatekeeper.admit(caller, LimitKind.SYNC)

        def find() -> Job:
            job = self._jobs.get(caller.tenant_id, job_id)
            if job is None:
                raise NotFound("Job")
            return job

        return self._gatekeeper.run_admitted(hit, find), hit.headers()


def _item_error(index: int, item: Any, error: ApiError) -> ItemError:
    name = (
        item.get("eventName") if isinstance(item, dict) and isinstance(item.get("eventName"), str) else None
    )
    version = (
        item.get("eventVersion")
        if isinstance(item, dict) and isinstance(item.get("eventVersion"), str)
        else None
    )
    return ItemError(
        index=index, eventName=name, eventVersion=version, errorCode=error.code.value, message=error.message
    )


def _item_shape_problems(item: Any) -> list[str]:
    if not isinstance(item, dict):
        return ["item: must be an object {eventName, eventVersion, payload}"]
    problems = []
    name, version = item.get("eventName"), item.get("eventVersion")
    if not isinstance(name, str) or not EVENT_NAME_PATTERN.match(name):
        problems.append("eventName: required, letters, digits and _ . : - (at most 128)")
    if not isinstance(version, str) or not EVENT_VERSION_PATTERN.match(version):
        problems.append("eventVersion: required, like v01")
    if not isinstance(item.get("payload"), dict):
        problems.append("payload: required, a JSON object")
    return problems


class BulkWorker:
    """Expands one job message into events; safe to run again on the same message."""

    def __init__(
        self,
        jobs: JobStore,
        publisher: PublishService,
        events_queue: MessageQueue,
        clock: Clock = system_clock,
    ) -> None:
        self._jobs = jobs
        self._publisher = publisher
        self._events_queue = events_queue
        self._clock = clock

    def process(self, message_body: str) -> Job:
        message = JobMessage.model_validate_json(message_body)
        job = self._jobs.get(message.tenantId, message.jobId)
        if job is None:
            raise DependencyFailure(f"job {message.jobId} has no record")
        if job.status in FINAL_STATUSES:
            return job
        self._jobs.put(
            job.model_copy(update={"status": JobStatus.PROCESSING, "updatedAt": iso_utc(self._clock())}),
            self._clock(),
        )
        errors: list[ItemError] = []
        accepted: list[ItemAccepted] = []
        envelopes: list[EventEnvelope] = []
        for index, item in enumerate(message.events):
            try:
                envelope = self._envelope(message, index, item)
            except ApiError as error:
                errors.append(_item_error(index, item, error))
                continue
            envelopes.append(envelope)
            accepted.append(ItemAccepted(index=index, eventId=envelope.eventId))
        self._events_queue.send_envelopes(envelopes)
        total = len(message.events)
        status = (
            JobStatus.SUCCESS
            if not errors
            else JobStatus.FAILED
            if len(errors) == total
            else JobStatus.PARTIAL_SUCCESS
        )
        finished = job.model_copy(
            update={
                "status": status,
                "successCount": len(envelopes),
                "failureCount": len(errors),
                "errors": errors,
                "accepted": accepted,
                "updatedAt": iso_utc(self._clock()),
            }
        )
        self._jobs.put(finished, self._clock())
        return finished

    def _envelope(self, message: JobMessage, index: int, item: Any) -> EventEnvelope:
        problems = _item_shape_problems(item)
        if problems:
            raise InvalidPayload(problems)
        registration = self._publisher.registration_for(
            message.tenantId, item["eventName"], item["eventVersion"]
        )
        payload_problems = registration.payload_problems(item["payload"], message.tenantId)
        if payload_problems:
            raise InvalidPayload(payload_problems)
        event_id = str(uuid.uuid5(BULK_EVENT_ID_NAMESPACE, f"{message.jobId}:{index}"))
        return EventEnvelope(
            eventId=event_id,
            tenantId=message.tenantId,
            eventName=item["eventName"],
            eventVersion=item["eventVersion"],
            receivedAt=message.receivedAt,
            requestId=message.requestId,
            payload=item["payload"],
            source="bulk",
            jobId=message.jobId,
        )
