"""How CLI commands reach the admin API's routes: in this process, or over HTTPS (`--api URL`).

A command builds one request (method, `admin_path(...)`, JSON body, query) and prints the `data`
of the answer. In its own process the CLI is an operator (`cli:<os user>` in the audit log) and
the routes run on the admin service built from the target's settings; domain errors propagate to
the CLI's exit-code table. Over HTTPS the token comes from `EVENTRELAY_TOKEN` (or `eventrelay
login`), and an error answer becomes the exit code of its `errorCode`, with the API's message.
Both ways the printed document is the same: the in-process answer goes through JSON as well.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from eventrelay_cli.exit_codes import EXIT_CONFLICT, EXIT_FAILURE, EXIT_NOT_FOUND, EXIT_USAGE, CliError

if TYPE_CHECKING:
    from eventrelay.admin import AdminService
    from eventrelay.admin_api.edge import AdminApi

# The API's error codes as the CLI's exit codes (see exit_codes.py).
EXIT_CODE_OF_ERROR = {
    "1002": EXIT_USAGE,
    "1003": EXIT_USAGE,
    "1004": EXIT_USAGE,
    "1007": EXIT_USAGE,
    "1008": EXIT_USAGE,
    "1011": EXIT_NOT_FOUND,
    "1012": EXIT_CONFLICT,
}
DEFAULT_TIMEOUT_SECONDS = 60.0


class AdminTransport(Protocol):
    def call(
        self,
        method: str,
        path: str,
        *,
        body: Mapping[str, Any] | None = None,
        query: Mapping[str, str] | None = None,
    ) -> Any: ...


@dataclass
class InProcessAdmin:
    """The routes run here, on the admin service `service_factory` builds (once, when first needed)."""

    service_factory: Any  # Callable[[], AdminService]
    subject: str
    _api: AdminApi | None = field(default=None, init=False, repr=False)

    def _admin_api(self) -> AdminApi:
        if self._api is None:
            from eventrelay.admin_api.edge import AdminApi
            from eventrelay.admin_api.routes import all_routes

            service: AdminService = self.service_factory()
            self._api = AdminApi(service, _no_tokens_here, all_routes())
        return self._api

    def call(
        self,
        method: str,
        path: str,
        *,
        body: Mapping[str, Any] | None = None,
        query: Mapping[str, str] | None = None,
    ) -> Any:
        from eventrelay.admin_api.routing import AdminRequest
        from eventrelay.admin_auth import Principal

        request = AdminRequest(
            method=method,
            path=path,
            request_id=f"cli-{uuid.uuid4()}",
            headers={"content-type": "application/json"},
            query=dict(query or {}),
            body=json.dumps(body).encode("utf-8") if body is not None else b"",
        )
        reply = self._admin_api().call(request, Principal(self.subject, is_operator=True))
        return json.loads(json.dumps(reply.data, default=str))


def _no_tokens_here(_: str | None) -> Any:
    raise AssertionError("the in-process admin API is called with a principal, never a token")


@dataclass(frozen=True)
class HttpAdmin:
    """The routes of a running admin API at `base_url`, called with a bearer `token`."""

    base_url: str
    token: str
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS

    def call(
        self,
        method: str,
        path: str,
        *,
        body: Mapping[str, Any] | None = None,
        query: Mapping[str, str] | None = None,
    ) -> Any:
        import requests

        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
        try:
            answer = requests.request(
                method,
                self.base_url.rstrip("/") + path,
                headers=headers,
                params=dict(query or {}),
                json=body,
                timeout=self.timeout_seconds,
            )
        except requests.RequestException as exc:
            raise CliError(f"the admin API is unreachable ({exc.__class__.__name__})") from None
        try:
            document = answer.json()
        except ValueError:
            raise CliError(f"the admin API answered HTTP {answer.status_code} without JSON") from None
        if not isinstance(document, dict) or "result" not in document:
            raise CliError(f"the admin API answered HTTP {answer.status_code} in an unknown shape")
        if document["result"] is not True:
            code = str(document.get("errorCode", ""))
            message = str(document.get("message") or f"HTTP {answer.status_code}")
            raise CliError(message, EXIT_CODE_OF_ERROR.get(code, EXIT_FAILURE))
        return document.get("data")
