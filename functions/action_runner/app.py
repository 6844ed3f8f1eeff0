"""Lambda entry point of the action runner: each SQS record is an event envelope or a delivery message."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from eventrelay.aws import within_remaining_time
from eventrelay.delivery.batch import ConcurrentBatchProcessor
from eventrelay.observability import logger, metrics, tracer
from eventrelay.roots.delivery import runner_root

processor = ConcurrentBatchProcessor(max_concurrency=10)


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
@within_remaining_time
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    runner = runner_root().runner
    # The invocation's records share one read of the configuration and the time left.
    batch = runner.batch(lambda: context.get_remaining_time_in_millis() / 1000)

    def handle_record(record: SQSRecord) -> None:
        runner.handle_message(record.body, batch)

    response = process_partial_response(
        event=event, record_handler=handle_record, processor=processor, context=context
    )
    return dict(response)
