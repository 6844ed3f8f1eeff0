"""The `GET /oauth/callback` route: where a provider sends the admin's browser after consent.

Answers are short plain-text pages (nothing from the query is reflected back), never cached and
never leaking the URL (which carries the code) through a Referer.
"""

from __future__ import annotations

from collections.abc import Callable

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response

from eventrelay.connectors.errors import AuthorizationError, ConnectorError
from eventrelay.errors import DependencyFailure
from eventrelay.observability import logger
from eventrelay.roots.connectors import ConnectorServices

CALLBACK_PATH = "/oauth/callback"
_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


def _page(status: int, text: str) -> Response[str]:
    return Response(
        status_code=status, content_type="text/plain; charset=utf-8", body=text + "\n", headers=dict(_HEADERS)
    )


def build_callback_app(services: Callable[[], ConnectorServices]) -> APIGatewayHttpResolver:
    app = APIGatewayHttpResolver()

    @app.get(CALLBACK_PATH)
    def oauth_callback() -> Response[str]:
        query = app.current_event.query_string_parameters or {}
        connector = services().authorizer.complete(
            state=query.get("state"), code=query.get("code"), error=query.get("error")
        )
        return _page(200, f"eventrelay: connector {connector.name} is authorized. You can close this window.")

    @app.exception_handler(AuthorizationError)
    def refused(error: AuthorizationError) -> Response[str]:
        logger.info("oauth callback refused", extra={"error_type": type(error).__name__})
        return _page(400, f"eventrelay: {error.message}.")

    @app.exception_handler(ConnectorError)
    def connector_problem(error: ConnectorError) -> Response[str]:
        logger.info("oauth callback refused", extra={"error_type": type(error).__name__})
        return _page(400, f"eventrelay: {error.message}.")

    @app.exception_handler(DependencyFailure)
    def unavailable(_error: DependencyFailure) -> Response[str]:
        logger.warning("oauth callback could not reach a dependency")
        return _page(503, "eventrelay: temporarily unavailable; open the authorization link again.")

    return app
