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

from pydantic import BaseModel, Field

from eventrelay.clock import Clock, iso_utc, system_clock
from eventrelay.dynamodb import Table
from eventrelay.envelopes import MAX_ENVELOPE_BYTES, EventEnvelope, MessageQueue, SendOutcomeUnknown
from eventrelay.errors import ApiError, BadBody, DependencyFailure, InvalidPayload, NotFound
from eventrelay.json_body import parse_json_object, unrepresentable_value
from eventrelay.publishing import (
    MAX_BULK_EVENTS,
    CallerIdentity,
    EventTooLarge,
    Gatekeeper,
    OutcomeUnknown,
    PublishService,
)
from eventrelay.ratelimit import LimitKind
from eventrelay.registrations import EVENT_NAME_PATTERN, EVENT_VERSION_PATTERN
from eventrelay.tenants import tenant_pk

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

JOB_TTL_SECONDS = 30 * 24 * 3600
BULK_EVENT_ID_NAMESPACE = uuid.UUID("6f1d7e2a-3c1b-4f5e-9a51-0d6a2b8c4e11")
BULK_OUTCOME_UNKNOWN = (
    "The jobs queue did not answer, so the bulk request may have been accepted: a retry may publish "
    "its events twice"
)


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
    # An item whose values cannot travel as JSON is replaced by None here and answered from
    # `rejected` (its index's error), so one bad item never fails the whole request.
    events: list[Any]
    rejected: list[ItemError] = []


class JobStore:
    def __init__(self, table_name: str, client: DynamoDBClient) -> None:
        self._table = Table(table_name, client)

    @staticmethod
    def _key(tenant_id: str, job_id: str) -> dict[str, str]:
        return {"pk": tenant_pk(tenant_id), "sk": f"JOB#{job_id}"}

    def put(self, job: Job, now: float) -> None:
        self._table.put(
            {
                **self._key(job.tenantId, job.jobId),
                "job": job.model_dump_json(),
                "status": job.status.value,
                "expiresAt": int(now) + JOB_TTL_SECONDS,
            }
        )

    def delete(self, tenant_id: str, job_id: str) -> None:
        self._table.delete(self._key(tenant_id, job_id))

    def get(self, tenant_id: str, job_id: str) -> Job | None:
        item = self._table.get(self._key(tenant_id, job_id))
        return Job.model_validate_json(item["job"]) if item else None


@dataclass(frozen=True)
class BulkAccepted:
    job: Job
    rate_limit_headers: dict[str, str]


def _bulk_events(body: bytes) -> list[Any]:
    document = parse_json_object(body, refuse_unrepresentable=False)
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
        rejected: list[ItemError] = []
        for index, item in enumerate(events):
            problem = unrepresentable_value(item)
            if problem is not None:
                rejected.append(_item_error(index, item, BadBody(f"Item is not valid JSON: {problem}")))
                events[index] = None
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
        message = JobMessage(
            jobId=job.jobId,
            tenantId=caller.tenant_id,
            requestId=caller.request_id,
            receivedAt=stamp,
            events=events,
            rejected=rejected,
        )
        message_body = message.model_dump_json()
        message_bytes = len(message_body.encode("utf-8"))
        if message_bytes > MAX_ENVELOPE_BYTES:
            raise EventTooLarge(
                f"the bulk request would take {message_bytes} bytes on the jobs queue (numbers count "
                f"as written out in full, e.g. 1E15 as 1000000000000000.0); at most {MAX_ENVELOPE_BYTES}"
            )
        self._jobs.put(job, now)
        try:
            self._jobs_queue.send(message_body)
        except DependencyFailure as failure:
            forgotten = self._forget(caller.tenant_id, job.jobId)
            if isinstance(failure, SendOutcomeUnknown) and not forgotten:
                # The job message may be on the queue and its record is still there: it may run.
                raise OutcomeUnknown(BULK_OUTCOME_UNKNOWN) from None
            raise DependencyFailure(str(failure)) from None
        return job

    def _forget(self, tenant_id: str, job_id: str) -> bool:
        """Delete the job record; a job message that arrives late then finds no job and makes no
        event. False when the record could not be deleted."""
        try:
            self._jobs.delete(tenant_id, job_id)
        except DependencyFailure:
            return False  # an orphan ACCEPTED record is harmless when its message never arrives
        return True

    def status(self, caller: CallerIdentity, job_id: str) -> tuple[Job, dict[str, str]]:
        hit = self._gatekeeper.admit(caller, LimitKind.SYNC)

        def find() -> Job:
            job = self._jobs.get(caller.tenant_id, job_id)
            if job is None:
                raise NotFound("Job")
            return job

        return self._gatekeeper.run_admitted(hit, find), hit.headers()


def _item_error(index: int, item: Any, error: ApiError) -> ItemError:
    def text_field(name: str) -> str | None:
        value = item.get(name) if isinstance(item, dict) else None
        return value if isinstance(value, str) and unrepresentable_value(value) is None else None

    name, version = text_field("eventName"), text_field("eventVersion")
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
        errors: list[ItemError] = list(message.rejected)
        rejected_indexes = {error.index for error in message.rejected}
        accepted: list[ItemAccepted] = []
        envelopes: list[EventEnvelope] = []
        for index, item in enumerate(message.events):
            if index in rejected_indexes:
                continue
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
                "errors": sorted(errors, key=lambda error: error.index),
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
        envelope = EventEnvelope(
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
        too_large = envelope.storage_problem()
        if too_large is not None:
            raise EventTooLarge(too_large)
        return envelope
