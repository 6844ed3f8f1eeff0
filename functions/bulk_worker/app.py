"""Lambda entry point of the bulk worker: expands each accepted job message into events."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from eventrelay.aws import within_remaining_time
from eventrelay.observability import logger, metrics, tracer
from eventrelay.roots.events import bulk_worker_root

processor = BatchProcessor(event_type=EventType.SQS)


def expand_job(record: SQSRecord) -> None:
    job = bulk_worker_root().process(record.body)
    metrics.add_metric(name="BulkEventsEnqueued", unit="Count", value=job.successCount)
    metrics.add_metric(name="BulkEventsRefused", unit="Count", value=job.failureCount)
    logger.info("bulk job processed", extra={"job_id": job.jobId, "job_status": job.status.value})


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
@within_remaining_time
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    response = process_partial_response(
        event=event, record_handler=expand_job, processor=processor, context=context
    )
    return dict(response)
