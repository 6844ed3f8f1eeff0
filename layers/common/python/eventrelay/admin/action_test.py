"""Test action: render an action with sample values, perform it through its connector, report.

The call is the real one: the action is rendered exactly as the runner renders it, the connector
applies its authentication (refreshing an OAuth token once on a 401), and the one outbound client
performs it (SSRF guard, timeouts, size cap). The report shows what was sent and what came back,
with every credential of the connector redacted:
- headers that carry credentials by nature (Authorization, the connector's token headers,
  cookies) are shown as `[REDACTED]`;
- any credential value (password, token header value, client secret, access and refresh tokens)
  appearing anywhere in the URL, headers, body, response or error is replaced by `[REDACTED]`, in
  any spelling the redactor knows (`connectors.redaction`: percent-, JSON- and HTML-encoded
  characters in any mix, base64 of the secret alone, inside a Basic header);
- the `curl` line is built from the redacted request, so it carries placeholders, never secrets.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from eventrelay.actions import Action, ActionStore, render, resolve_value
from eventrelay.admin.curl import curl_command
from eventrelay.connectors.auth import merge_headers
from eventrelay.connectors.caller import ConnectorCaller
from eventrelay.connectors.models import Connector, Credentials
from eventrelay.connectors.redaction import Redactor
from eventrelay.connectors.store import ConnectorStore
from eventrelay.errors import DependencyFailure, InvalidResource
from eventrelay.outbound.client import USER_AGENT
from eventrelay.outbound.outcome import DEFAULT_BODY_PREVIEW_CHARS, Outcome
from eventrelay.outbound.request import OutboundRequest

ValueSource = Literal["given", "default"]


class ActionTestError(InvalidResource):
    """The test could not be performed as asked; `str()` names fields, never values."""


class MissingFieldValues(ActionTestError):
    """Fields without a sample value and without a default."""

    def __init__(self, action: str, fields: list[str]) -> None:
        self.action = action
        self.fields = fields
        super().__init__(
            f"action '{action}': no value and no default for "
            + ("field " if len(fields) == 1 else "fields ")
            + ", ".join(f"'{name}'" for name in fields)
        )


class UnknownFields(ActionTestError):
    """Sample values given for names that are not fields of the action (most likely a typo)."""

    def __init__(self, action: str, unknown: list[str], known: list[str]) -> None:
        self.action = action
        self.unknown = unknown
        super().__init__(
            f"action '{action}' has no field "
            + ", ".join(f"'{name}'" for name in unknown)
            + f" (its fields: {', '.join(known) or 'none'})"
        )


@dataclass(frozen=True)
class SampleValue:
    """The value a field was rendered with (its canonical text, redacted) and where it came from."""

    type: str
    text: str
    source: ValueSource


@dataclass(frozen=True)
class ActionTestReport:
    """What "test action" did: the redacted request, the (redacted) outcome and a curl line."""

    tenant_id: str
    action: str
    connector: str
    values: dict[str, SampleValue]
    request: OutboundRequest
    idempotency_key: str
    outcome: Outcome
    curl: str

    @property
    def ok(self) -> bool:
        return self.outcome.ok

    def to_dict(self, body_limit: int = DEFAULT_BODY_PREVIEW_CHARS) -> dict[str, Any]:
        body = self.request.body
        return {
            "tenantId": self.tenant_id,
            "action": self.action,
            "connector": self.connector,
            "ok": self.ok,
            "values": {
                name: {"type": value.type, "value": value.text, "source": value.source}
                for name, value in self.values.items()
            },
            "request": {
                "method": self.request.method,
                "url": self.request.url,
                "headers": dict(self.request.headers),
                "body": body.decode("utf-8", errors="replace") if body is not None else None,
            },
            "idempotencyKey": self.idempotency_key,
            "response": self.outcome.to_dict(body_limit),
            "curl": self.curl,
        }


def sample_values(action: Action, values: Mapping[str, object]) -> dict[str, ValueSource]:
    """Where each field's value comes from; UnknownFields / MissingFieldValues when it cannot."""
    names = [field.name for field in action.fields]
    unknown = sorted(set(values) - set(names))
    if unknown:
        raise UnknownFields(action.name, unknown, names)
    sources: dict[str, ValueSource] = {}
    missing: list[str] = []
    for field in action.fields:
        if values.get(field.name) is not None:
            sources[field.name] = "given"
        elif field.default is not None:
            sources[field.name] = "default"
        else:
            missing.append(field.name)
    if missing:
        raise MissingFieldValues(action.name, missing)
    return sources


def _new_idempotency_key() -> str:
    return f"eventrelay-test-{uuid.uuid4()}"


class ActionTester:
    """Performs "test action" for admins (`ActionAdmin.test`)."""

    def __init__(
        self,
        actions: ActionStore,
        connectors: ConnectorStore,
        caller: ConnectorCaller,
        *,
        idempotency_keys: Callable[[], str] = _new_idempotency_key,
        max_time_seconds: float | None = None,
    ) -> None:
        self._actions = actions
        self._connectors = connectors
        self._caller = caller
        self._keys = idempotency_keys
        self._max_time = max_time_seconds

    def run(self, tenant_id: str, action_name: str, values: Mapping[str, object]) -> ActionTestReport:
        """Render `action_name` with `values` (else the field defaults), perform it, report.

        Raises ActionNotFound, ConnectorNotFound, UnknownFields, MissingFieldValues, RenderError
        (a value that does not fit its field) or DependencyFailure before anything is sent; a
        call that was made always yields a report, whatever its outcome.
        """
        action = self._actions.get(tenant_id, action_name)
        connector = self._connectors.get(tenant_id, action.connector)
        sources = sample_values(action, values)
        rendered = render(action, values)  # a relative URL: the connector joins it to its real base URL
        before = self._connectors.load_credentials(connector)
        preview = self._caller.preview(connector, rendered)  # auth headers as placeholders
        key = self._keys()
        outcome = self._caller.call(connector, rendered, idempotency_key=key)
        # After the call: the caller knows the tokens it obtained or rotated; the credentials read
        # before it still name the ones it may have replaced.
        redactor = self._redactor_after_call(connector, before).with_secrets(before.secret_values())
        shown = redactor.request(
            OutboundRequest(
                method=preview.method,
                url=preview.url,
                headers=merge_headers({"User-Agent": USER_AGENT}, preview.headers, {"Idempotency-Key": key}),
                body=preview.body,
            )
        )
        typed = {field.name: resolve_value(field, values) for field in action.fields}
        return ActionTestReport(
            tenant_id=tenant_id,
            action=action.name,
            connector=connector.name,
            values={
                name: SampleValue(typed[name].type.value, redactor.text(typed[name].text), sources[name])
                for name in sources
            },
            request=shown,
            idempotency_key=key,
            outcome=redactor.outcome(outcome),
            curl=curl_command(shown, max_time_seconds=self._max_time),
        )

    def _redactor_after_call(self, connector: Connector, before: Credentials) -> Redactor:
        try:
            return self._caller.redactor_for(connector)
        except DependencyFailure:
            return Redactor.for_credentials(before)
