"""Canary secrets, one per credential kind, never appear in logs, errors, outcomes or DynamoDB.

Each flow here is run with its failures (401s, refused grants, unavailable and careless token
endpoints that echo what they were sent, servers echoing the request), then everything the
service produced is searched for every canary: captured logs (eventrelay at DEBUG), stdout and
stderr, outcomes (repr and summaries), test-connection output, error messages, and every item the
tenant has in the config table.
"""

from __future__ import annotations

import base64
import html
import json
import logging
import re
import secrets
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest

from eventrelay.aws import sqs_client
from eventrelay.connectors.errors import ConnectorError, InvalidConnectorCredentials
from eventrelay.connectors.models import AuthType, ClientAuthMethod, ConnectorSpec, Credentials
from eventrelay.delivery.schedule import RetryPolicy
from eventrelay.outbound.client import OutboundClient
from eventrelay.outbound.request import OutboundRequest
from eventrelay.outbound.ssrf import SsrfGuard
from eventrelay.roots.connectors import ConnectorServices
from eventrelay.settings import Settings
from tests.support.api import ControlledClock
from tests.support.delivery import Harness
from tests.support.http_servers import RecordedRequest, RecordingServer, Reply
from tests.support.items import assert_absent, delivery_items, tenant_items
from tests.support.oauth import (
    CLIENT_ID,
    authorization_code_connector,
    authorize,
    client_credentials_connector,
)
from tests.support.oauth_server import AuthorizationServer
from tests.support.roots import admin_service

BASIC_PASSWORD = "CANARY-BASIC-PASSWORD-" + secrets.token_hex(6)
TOKEN_VALUE = "CANARY-TOKEN-HEADER-" + secrets.token_hex(6)
BASIC_AUTHORIZATION = base64.b64encode(f"svc:{BASIC_PASSWORD}".encode()).decode()


def _echo_with(status: int) -> Any:
    def echo(request: RecordedRequest) -> Reply:
        return Reply(status=status, body=json.dumps({"received": request.headers}).encode())

    return echo


@pytest.fixture
def produced() -> list[str]:
    """Everything the service handed back, as text."""
    return []


def _keep(produced: list[str], *things: object) -> None:
    for thing in things:
        to_dict = getattr(thing, "to_dict", None)
        produced.append(repr(thing))
        if callable(to_dict):
            produced.append(json.dumps(to_dict()))


@pytest.fixture(autouse=True)
def _capture_debug_logs(caplog: pytest.LogCaptureFixture) -> None:
    # Our own logs at their most verbose, and the HTTP stack's. (botocore's DEBUG logs print AWS
    # API payloads, secret values included, by design: they must stay off in production.)
    caplog.set_level(logging.DEBUG, logger="eventrelay")
    caplog.set_level(logging.DEBUG, logger="urllib3")


def assert_no_canary(
    canaries: list[str],
    produced: list[str],
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    settings: Settings,
    tenant_id: str,
) -> None:
    captured = capsys.readouterr()
    places = {
        "logs": caplog.text,
        "stdout": captured.out,
        "stderr": captured.err,
        "outputs": "\n".join(produced),
        "dynamodb": json.dumps(tenant_items(settings, tenant_id)),
    }
    assert all(canaries), "a canary is empty"
    assert caplog.records, "nothing was logged: the test would prove nothing"
    for place, text in places.items():
        for canary in canaries:
            assert canary not in text, f"a canary secret leaked into {place}"


def test_basic_and_token_secrets_never_leak(
    connectors: ConnectorServices,
    settings: Settings,
    tenant_id: str,
    produced: list[str],
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with RecordingServer(_echo_with(200)) as ok, RecordingServer(_echo_with(401)) as refusing:
        basic = connectors.store.create(
            tenant_id,
            ConnectorSpec(name="basic", base_url=ok.url("/"), auth_type=AuthType.BASIC),
            Credentials(username="svc", password=BASIC_PASSWORD),
        )
        token = connectors.store.create(
            tenant_id,
            ConnectorSpec(
                name="token", base_url=refusing.url("/"), auth_type=AuthType.TOKEN, test_url="/ping"
            ),
            Credentials(token_headers={"Authorization": f"Token {TOKEN_VALUE}", "X-Key": TOKEN_VALUE}),
        )
        _keep(produced, basic, token, connectors.store.get(tenant_id, "basic"))
        _keep(produced, connectors.store.load_credentials(basic), connectors.store.load_credentials(token))
        _keep(produced, connectors.caller.call(basic, OutboundRequest("GET", "/echo?x=1")))
        _keep(produced, connectors.caller.test_connection(basic))
        for _ in range(4):  # into DEAUTHORIZED and beyond
            _keep(
                produced,
                connectors.caller.call(connectors.store.get(tenant_id, "token"), OutboundRequest("GET", "/")),
            )
        _keep(produced, connectors.caller.test_connection(connectors.store.get(tenant_id, "token")))
        assert BASIC_AUTHORIZATION in ok.requests[0].everything()  # the servers did receive them
        assert TOKEN_VALUE in refusing.requests[0].everything()
    # Unreachable server, and refused creations whose errors name fields only
    _keep(produced, connectors.caller.call(basic, OutboundRequest("GET", "/after-close")))
    with pytest.raises(InvalidConnectorCredentials) as refused:
        connectors.store.create(
            tenant_id,
            ConnectorSpec(name="bad", base_url="https://x.example", auth_type=AuthType.BASIC),
            Credentials(username=f"user:{BASIC_PASSWORD}", password=BASIC_PASSWORD),
        )
    produced.append(str(refused.value))
    with pytest.raises(ValueError, match="control characters") as invalid:
        Credentials(token_headers={"X-Key": f"{TOKEN_VALUE}\r\nX-Injected: 1"})
    produced.append(str(invalid.value))
    assert_no_canary(
        [BASIC_PASSWORD, BASIC_AUTHORIZATION, TOKEN_VALUE], produced, caplog, capsys, settings, tenant_id
    )


def test_oauth_client_secret_access_and_refresh_tokens_never_leak(
    connectors: ConnectorServices,
    settings: Settings,
    tenant_id: str,
    oauth_server: AuthorizationServer,
    client_secret: str,
    connector_clock: ControlledClock,
    produced: list[str],
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    oauth_server.rotate_refresh_tokens = True
    # Client credentials: success, 401 then renewal, careless endpoint errors, a wrong secret
    erp = client_credentials_connector(connectors, tenant_id, oauth_server, client_secret)
    _keep(produced, erp, connectors.caller.call(erp, OutboundRequest("GET", "/orders")))
    oauth_server.revoke_access_tokens()
    _keep(produced, connectors.caller.call(erp, OutboundRequest("GET", "/orders")))
    oauth_server.echo_request_in_errors = True
    oauth_server.token_endpoint_status = 500
    connector_clock.advance(7200)
    _keep(produced, connectors.caller.call(erp, OutboundRequest("GET", "/orders")))
    oauth_server.token_endpoint_status = 400
    _keep(produced, connectors.caller.call(erp, OutboundRequest("GET", "/orders")))
    oauth_server.token_endpoint_status = None
    # A resource that refuses every token and echoes it: the final 401 carries a live token
    oauth_server.reject_all_tokens = True
    _keep(produced, connectors.caller.call(erp, OutboundRequest("GET", "/orders")))
    oauth_server.reject_all_tokens = False
    posting = connectors.store.create(
        tenant_id,
        erp.model_copy(update={"name": "erp-post"}),
        Credentials(client_id=CLIENT_ID, client_secret=client_secret + "-wrong"),
    )
    posting = connectors.store.update(
        tenant_id,
        posting.model_copy(
            update={
                "oauth2": posting.oauth2.model_copy(
                    update={"client_auth": ClientAuthMethod.CLIENT_SECRET_POST}
                )
            }  # type: ignore[union-attr]
        ),
    )
    _keep(produced, connectors.caller.call(posting, OutboundRequest("GET", "/orders")))
    _keep(produced, connectors.caller.test_connection(connectors.store.get(tenant_id, "erp-post")))
    # Authorization code: authorize, refresh with rotation, test connection, then invalid_grant
    helpdesk = authorization_code_connector(connectors, tenant_id, oauth_server, client_secret)
    helpdesk = authorize(connectors, tenant_id)
    _keep(produced, helpdesk, connectors.store.load_credentials(helpdesk))
    connector_clock.advance(7200)
    _keep(produced, connectors.caller.call(helpdesk, OutboundRequest("GET", "/me")))
    _keep(produced, connectors.caller.test_connection(helpdesk))
    oauth_server.revoke_refresh_tokens()
    oauth_server.revoke_access_tokens()
    _keep(produced, connectors.caller.call(helpdesk, OutboundRequest("GET", "/me")))
    _keep(produced, connectors.caller.test_connection(connectors.store.get(tenant_id, "helpdesk")))
    try:
        connectors.authorizer.complete(state="forged", code="stolen-code")
    except ConnectorError as refused:
        produced.append(str(refused))
    # The provider issued (and the service used) these tokens
    issued = oauth_server.issued_tokens()
    assert any(token.startswith("CANARY-ACCESS-") for token in issued)
    assert any(token.startswith("CANARY-REFRESH-") for token in issued)
    assert_no_canary([client_secret, *issued], produced, caplog, capsys, settings, tenant_id)


# --- Issue 8 item 2: a target echoing a credential in the encodings redaction used to miss ------

ECHO_SECRET = f"CANARY-ECHO-{secrets.token_hex(6)}/+=&<'é"


def echoed_forms(secret: str) -> dict[str, str]:
    """The spellings a careless target was seen to echo a credential in (plus the plain one)."""
    raw = secret.encode()
    return {
        "plain": secret,
        "base64 of the secret alone": base64.b64encode(raw).decode(),
        "URL-safe base64, no padding": base64.urlsafe_b64encode(raw).decode().rstrip("="),
        "JSON with \\/ escapes": json.dumps(secret).replace("/", "\\/")[1:-1],
        "JSON, ASCII only": json.dumps(secret)[1:-1],
        "HTML entities": html.escape(secret),
        # Every character but letters, digits and `-._~` (which encoders leave as they are)
        "HTML numeric references": "".join(
            c if c.isalnum() or c in "-._~" else f"&#x{ord(c):x};" for c in secret
        ),
        "lowercase percent-encoding": re.sub(
            r"%[0-9A-F]{2}", lambda m: m.group().lower(), quote(secret, safe="")
        ),
        "percent-encoding": quote(secret, safe=""),
    }


def _echo_every_encoding(request: RecordedRequest) -> Reply:
    received = request.header("X-Api-Key") or ""
    lines = [f"{form}: {spelled}" for form, spelled in echoed_forms(received).items()]
    return Reply(status=200, headers={"Content-Type": "text/html"}, body="\n".join(lines).encode())


@pytest.fixture
def runner_queue(settings: Settings) -> Iterator[str]:
    sqs = sqs_client(settings.region)
    url = sqs.create_queue(QueueName=f"canary-{uuid.uuid4().hex[:12]}")["QueueUrl"]
    yield url
    sqs.delete_queue(QueueUrl=url)


def test_a_credential_echoed_in_any_encoding_never_reaches_output_or_stored_attempts(
    settings: Settings,
    tenant_id: str,
    connector_clock: ControlledClock,
    runner_queue: str,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    client = OutboundClient(SsrfGuard("127.0.0.0/8"), deadline=3, clock=connector_clock)
    harness = Harness(settings, connector_clock, runner_queue, RetryPolicy(), client)
    admin = admin_service(settings, connectors=harness.connector_services)
    produced: list[str] = []
    try:
        with RecordingServer(_echo_every_encoding) as target:
            harness.connector(
                tenant_id,
                target.url("/api"),
                auth_type=AuthType.TOKEN,
                test_url="/ping",
                credentials=Credentials(token_headers={"X-Api-Key": ECHO_SECRET}),  # type: ignore[dict-item]
            )
            harness.action(tenant_id, name="notify", url="notify", payload='{"n": "{{n}}"}')
            harness.rule(tenant_id, name="notify-all", action="notify", mapping={"n": "$.n"})
            # `connector test` and `action test`, through the admin service
            _keep(produced, admin.connectors.test_connection(tenant_id, "target"))
            _keep(produced, admin.actions.test(tenant_id, "notify", {"n": "1"}))
            # A delivery by the runner: its attempt (and the response body it keeps 30 days) is stored
            envelope = harness.envelope(tenant_id, {"n": "2"})
            harness.handle(envelope)
            [attempt] = harness.attempts_of(envelope, "notify-all")
            assert attempt.response_body is not None
            assert attempt.response_body.count("[REDACTED]") == len(echoed_forms(ECHO_SECRET))
            # The target did echo every form (the test would prove nothing otherwise)
            assert len(target.requests) == 3
            assert all(request.header("X-Api-Key") == ECHO_SECRET for request in target.requests)
    finally:
        harness.runner.close()
        client.close()
    captured = capsys.readouterr()
    places = {
        "logs": caplog.text,
        "stdout": captured.out,
        "stderr": captured.err,
        "outputs": "\n".join(produced),
        "config table": json.dumps(tenant_items(settings, tenant_id), ensure_ascii=False),
        "deliveries table": json.dumps(delivery_items(settings, tenant_id), ensure_ascii=False),
    }
    assert "[REDACTED]" in places["outputs"]
    forms = echoed_forms(ECHO_SECRET)
    assert_absent({f"secret ({form})": spelled for form, spelled in forms.items()}, places)
