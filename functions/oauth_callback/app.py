"""GET /oauth/callback: completes an OAuth 2.0 authorization-code grant for a connector."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from eventrelay.aws import within_remaining_time
from eventrelay.connectors.http_api import build_callback_app
from eventrelay.observability import logger, tracer
from eventrelay.roots.connectors import oauth_callback_root

app = build_callback_app(oauth_callback_root)


# The query string carries the authorization code: never log the event or capture the response.
@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
@within_remaining_time
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
