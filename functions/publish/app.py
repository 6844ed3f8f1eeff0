"""Lambda entry point of the Events API (publish, bulk, job status)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from eventrelay.aws import within_remaining_time
from eventrelay.http_api import build_app
from eventrelay.observability import API_GATEWAY_HTTP_REQUEST_ID, logger, metrics, tracer
from eventrelay.roots.events import publish_root

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

app = build_app(publish_root)


# The event carries the sharedSecret header: never log it, whatever POWERTOOLS_LOGGER_LOG_EVENT says.
# Powertools is imported only when something is logged or counted: an accepted publish does neither.
@logger.inject_lambda_context(correlation_id_path=API_GATEWAY_HTTP_REQUEST_ID, log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
@within_remaining_time
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
