"""Issue 13, hangs: AWS accepts connections and never answers. Every function's AWS calls end by the
invocation's deadline (its remaining time minus `INVOCATION_MARGIN`), so publish answers 1009 and
the SQS workers give their message back, before Lambda's timeout.

The real Lambda handlers (`functions/*/app.py`) run in this process with their production client
settings (Lambda's `LAMBDA_TIMEOUTS`); their AWS endpoints are pausable TCP proxies on 127.0.0.1 in
front of DynamoDB Local and moto server, and the time each invocation has is injected through its
context. The proxies hold what they stalled and drop it when closed: nothing stalled lands late.
"""

from __future__ import annotations

import contextlib
import io
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from eventrelay.admin import TenantWithSecret
from eventrelay.aws import INVOCATION_MARGIN, LAMBDA_TIMEOUTS, create_client, reset_clients
from eventrelay.clock import iso_utc
from eventrelay.envelopes import EventEnvelope
from eventrelay.errors import DependencyFailure
from eventrelay.observability import metrics
from eventrelay.ratelimit import LimitKind
from eventrelay.roots import AwsClients
from eventrelay.roots.admin import build_admin_service
from eventrelay.roots.delivery import runner_root
from eventrelay.roots.events import _process_event_services
from eventrelay_cli.local.environment import LocalAws
from eventrelay_cli.local.lambda_runtime import Handler, load_handler
from tests.conftest import REPO_ROOT
from tests.support.api import PUBLISH_PATH, answer_of, http_event
from tests.support.tcp_proxy import TcpProxy

ORDER = {"orderId": "o-1", "total": 12.5}
# Longer than one attempt plus the margin, shorter than the attempts a call may make without a
# deadline (3 x LAMBDA_TIMEOUTS.read, plus backoff): the test fails if the deadline is not obeyed.
SHORT_FUNCTION_TIMEOUT = 6.0
PUBLISH_FUNCTION_TIMEOUT = 10.0  # template.yaml, Globals.Function.Timeout


@dataclass
class InjectedContext:
    """A Lambda context whose invocation ends `timeout` seconds after it is made."""

    timeout: float
    function_name: str = "Function"
    function_version: str = "$LATEST"
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:Function"
    memory_limit_in_mb: str = "512"
    log_group_name: str = "/aws/lambda/Function"
    log_stream_name: str = "stream"

    def __post_init__(self) -> None:
        self.aws_request_id = str(uuid.uuid4())
        self.ends_at = time.monotonic() + self.timeout

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.ends_at - time.monotonic()) * 1000))


@dataclass
class Proxies:
    dynamodb: TcpProxy
    sqs: TcpProxy
    secretsmanager: TcpProxy


def _forget_process_state() -> None:
    """What a fresh Lambda instance starts without: clients, and the roots built from them."""
    reset_clients()
    _process_event_services.cache_clear()
    runner_root.cache_clear()


@pytest.fixture
def proxies(local_aws: LocalAws, monkeypatch: pytest.MonkeyPatch) -> Iterator[Proxies]:
    """The process's AWS endpoints, each behind its own pausable proxy."""
    dynamodb, moto = urlsplit(local_aws.dynamodb_url), urlsplit(local_aws.moto.url)
    with (
        TcpProxy(dynamodb.hostname or "127.0.0.1", dynamodb.port or 80) as dynamodb_proxy,
        TcpProxy(moto.hostname or "127.0.0.1", moto.port or 80) as sqs_proxy,
        TcpProxy(moto.hostname or "127.0.0.1", moto.port or 80) as secrets_proxy,
    ):
        monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "Function")  # Lambda's client timeouts
        monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", dynamodb_proxy.url)
        monkeypatch.setenv("AWS_ENDPOINT_URL_SQS", sqs_proxy.url)
        monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", secrets_proxy.url)
        _forget_process_state()
        try:
            yield Proxies(dynamodb_proxy, sqs_proxy, secrets_proxy)
        finally:
            monkeypatch.undo()
            _forget_process_state()


def handler(function: str) -> Handler:
    return load_handler(REPO_ROOT / "functions" / function)


def fails_whole_batch(function: Handler, event: dict[str, Any], context: InjectedContext) -> float:
    """Invoke an SQS handler whose every record fails: Powertools then fails the invocation (so
    Lambda gives the whole batch back to the queue, none of it deleted). Returns when it ended."""
    with pytest.raises(BatchProcessingError) as failed:
        function(event, context)
    ended_at = time.monotonic()
    # The record failed because no AWS call was left time to finish, not on anything else
    causes = [error for _, error, _ in failed.value.child_exceptions]
    assert [type(error) for error in causes] == [DependencyFailure]
    assert "DeadlineReached" in str(causes[0])
    return ended_at


def invoke(function: Handler, event: dict[str, Any], context: InjectedContext) -> tuple[Any, float, str]:
    """The handler's result, when it returned (time.monotonic), and what it printed (EMF metrics)."""
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        result = function(event, context)
    return result, time.monotonic(), printed.getvalue()


def publish_event(tenant: TenantWithSecret) -> dict[str, Any]:
    headers: dict[str, str | None] = {
        "Content-Type": "application/json",
        "tenantId": tenant.tenant.tenant_id,
        "sharedSecret": tenant.shared_secret,
        "eventName": "OrderPlaced",
        "eventVersion": "v01",
    }
    return http_event("POST", PUBLISH_PATH, headers, json.dumps(ORDER))


def sqs_event(body: str) -> dict[str, Any]:
    message_id = str(uuid.uuid4())
    record = {
        "messageId": message_id,
        "receiptHandle": f"handle-{message_id}",
        "body": body,
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": str(int(time.time() * 1000))},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:queue",
        "awsRegion": "us-east-1",
    }
    return {"Records": [record]}


def sync_usage(local_aws: LocalAws, tenant_id: str) -> list[int]:
    """The tenant's sync windows, read past the proxies (which hold what they stalled until closed)."""
    region = local_aws.settings.region
    clients = AwsClients(
        dynamodb=create_client("dynamodb", region, endpoint_url=local_aws.dynamodb_url),
        sqs=create_client("sqs", region, endpoint_url=local_aws.moto.url),
        secretsmanager=create_client("secretsmanager", region, endpoint_url=local_aws.moto.url),
    )
    usage = build_admin_service(local_aws.settings, clients).tenants.window_usage(tenant_id)
    return [window.count for window in usage[LimitKind.SYNC.value]]


def metric_names(printed: str) -> list[tuple[str, dict[str, str]]]:
    """Each metric the handler wrote (EMF lines on stdout) with its dimensions other than service."""
    found: list[tuple[str, dict[str, str]]] = []
    for line in printed.splitlines():
        with contextlib.suppress(ValueError):
            document = json.loads(line)
            for directive in document.get("_aws", {}).get("CloudWatchMetrics", []):
                dimensions = {
                    name: document[name]
                    for names in directive["Dimensions"]
                    for name in names
                    if name != "service"
                }
                found.extend((metric["Name"], dimensions) for metric in directive["Metrics"])
    return found


def queued_events(local_aws: LocalAws, tenant_id: str) -> list[str]:
    """The tenant's events on the events queue, read past the proxies (and left there)."""
    sqs = create_client("sqs", local_aws.settings.region, endpoint_url=local_aws.moto.url)
    received = sqs.receive_message(
        QueueUrl=local_aws.settings.events_queue_url, MaxNumberOfMessages=10, VisibilityTimeout=0
    )
    return [
        message["Body"]
        for message in received.get("Messages", [])
        if json.loads(message["Body"])["tenantId"] == tenant_id
    ]


@pytest.mark.parametrize("hung", ["dynamodb", "secretsmanager", "sqs"])
def test_a_publish_to_a_hung_dependency_answers_1009_before_the_function_times_out(
    hung: str, proxies: Proxies, tenant: TenantWithSecret, local_aws: LocalAws
) -> None:
    publish = handler("publish")
    # Powertools' metric set is one per process: forget what earlier tests in this process added
    # without flushing (Lambda starts each instance empty), so the flushed line is this call's own.
    metrics.powertools.clear_metrics()
    # Given one dependency accepts connections and never answers
    getattr(proxies, hung).stall()
    # When a publish arrives at a fresh instance with SHORT_FUNCTION_TIMEOUT seconds to run
    context = InjectedContext(SHORT_FUNCTION_TIMEOUT)
    response, answered_at, printed = invoke(publish, publish_event(tenant), context)
    # Then it answers 1009, before its timeout and with at least most of the margin left
    answer = answer_of(response)
    assert (answer.status, answer.error_code) == (503, "1009")
    assert answered_at < context.ends_at - INVOCATION_MARGIN / 2
    # And nothing was enqueued or counted: no event on the queue, no metric but the error's, and the
    # rate-limit windows refunded (for an SQS hang too, although its message says "may have been
    # accepted": the stalled send is read back here past the proxy and was never delivered)
    assert queued_events(local_aws, tenant.tenant.tenant_id) == []
    assert metric_names(printed) == [("Errors", {"errorCode": "1009"})]
    assert sync_usage(local_aws, tenant.tenant.tenant_id) == [0, 0]


def test_with_the_template_timeout_a_dynamodb_hang_answers_1009_with_the_margin_left(
    proxies: Proxies, tenant: TenantWithSecret
) -> None:
    publish = handler("publish")
    proxies.dynamodb.stall()
    context = InjectedContext(PUBLISH_FUNCTION_TIMEOUT)
    response, answered_at, _ = invoke(publish, publish_event(tenant), context)
    assert answer_of(response).error_code == "1009"
    assert answered_at < context.ends_at - INVOCATION_MARGIN / 2
    # It used the time it had: more than one attempt was made before giving up
    assert (
        answered_at
        > context.ends_at - PUBLISH_FUNCTION_TIMEOUT + LAMBDA_TIMEOUTS.read + LAMBDA_TIMEOUTS.connect / 2
    )


def test_the_bulk_worker_gives_its_job_message_back_when_dynamodb_hangs(
    proxies: Proxies, tenant_id: str
) -> None:
    worker = handler("bulk_worker")
    job = {
        "jobId": str(uuid.uuid4()),
        "tenantId": tenant_id,
        "requestId": "req-1",
        "receivedAt": iso_utc(time.time()),
        "events": [{"eventName": "OrderPlaced", "eventVersion": "v01", "payload": ORDER}],
    }
    event = sqs_event(json.dumps(job))
    proxies.dynamodb.stall()
    context = InjectedContext(SHORT_FUNCTION_TIMEOUT)
    returned_at = fails_whole_batch(worker, event, context)
    assert returned_at < context.ends_at - INVOCATION_MARGIN / 2


def test_the_action_runner_gives_its_message_back_when_dynamodb_hangs(
    proxies: Proxies, tenant_id: str
) -> None:
    runner = handler("action_runner")
    envelope = EventEnvelope(
        eventId=str(uuid.uuid4()),
        tenantId=tenant_id,
        eventName="OrderPlaced",
        eventVersion="v01",
        receivedAt=iso_utc(time.time()),
        requestId="req-1",
        payload=ORDER,
    )
    event = sqs_event(envelope.to_message_body())
    proxies.dynamodb.stall()
    context = InjectedContext(SHORT_FUNCTION_TIMEOUT)
    returned_at = fails_whole_batch(runner, event, context)
    assert returned_at < context.ends_at - INVOCATION_MARGIN / 2
