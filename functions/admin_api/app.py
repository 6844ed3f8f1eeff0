"""Lambda entry point of the admin API (`/v1/admin/…`) and of `GET /v1/openapi.json`."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from eventrelay.admin_api.http_event import handle_event
from eventrelay.aws import within_remaining_time
from eventrelay.console import ConsoleSettings
from eventrelay.observability import logger, tracer
from eventrelay.roots.admin_api import admin_api_root
from eventrelay.settings import get_settings


# The event carries the bearer token and may carry credentials: never log it or the response.
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
@within_remaining_time
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle_event(admin_api_root(), event, ConsoleSettings.from_settings(get_settings()))
