"""A write whose answer is lost never strands a delivery (issue 8 item 9).

The fault is real on the wire: the runner's deliveries table is reached through a TCP proxy in
front of DynamoDB Local. When the chosen write is sent for the first time the proxy starts losing
answers, so the write takes effect but its answer never arrives; botocore's standard retry mode
sends it again, and by then the proxy forwards again. (A botocore `before-send` hook only picks
the moment: the request, the loss and the retry are real.) The retry is refused by the write's own
condition, as it happened after a 12 s DynamoDB stall in production.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import boto3
import pytest

from eventrelay.aws import dynamodb_client
from eventrelay.delivery.models import AttemptOutcome, AttemptResult, DeliveryState
from eventrelay.delivery.replay import NotReplayable
from eventrelay.delivery.runner import ActionRunner, Step
from eventrelay.delivery.store import DeliveryStore
from eventrelay.settings import Settings
from eventrelay_cli.local.environment import LocalAws
from tests.support.delivery import Harness
from tests.support.http_servers import RecordedRequest, RecordingServer, Reply
from tests.support.tcp_proxy import TcpProxy

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

RequestMatch = Callable[[dict[str, Any]], bool]


class LoseFirstAnswer:
    """Loses the answer to the first try of the first `operation` request that `match`es."""

    def __init__(self, proxy: TcpProxy, client: DynamoDBClient, operation: str, match: RequestMatch) -> None:
        self.proxy = proxy
        self.match = match
        self.tries = 0
        client.meta.events.register(f"before-send.dynamodb.{operation}", self._before_send)

    def _before_send(self, request: Any, **_: Any) -> None:
        body = request.body.decode("utf-8") if isinstance(request.body, bytes) else request.body
        if self.tries >= 2 or not self.match(json.loads(body or "{}")):
            return
        self.tries += 1
        if self.tries == 1:
            self.proxy.lose_responses()
        else:
            self.proxy.resume()  # the SDK's retry of the same write

    @property
    def lost_and_resent(self) -> bool:
        return self.tries == 2


def key_sk(request: dict[str, Any]) -> str | None:
    sk = request.get("Key", {}).get("sk", {})
    return sk.get("S") if isinstance(sk, dict) else None


def item_sk(request: dict[str, Any]) -> str | None:
    sk = request.get("Item", {}).get("sk", {})
    return sk.get("S") if isinstance(sk, dict) else None


@pytest.fixture
def proxy(local_aws: LocalAws) -> Iterator[TcpProxy]:
    upstream = urlparse(local_aws.dynamodb_url)
    assert upstream.hostname is not None
    assert upstream.port is not None
    with TcpProxy(upstream.hostname, upstream.port) as running:
        yield running


@pytest.fixture
def proxied_client(settings: Settings, proxy: TcpProxy) -> DynamoDBClient:
    """A DynamoDB client through the proxy, configured as the runtime's (standard retries)."""
    runtime_config = dynamodb_client(settings.region).meta.config
    client: DynamoDBClient = boto3.session.Session().client(
        "dynamodb", region_name=settings.region, endpoint_url=proxy.url, config=runtime_config
    )
    return client


@pytest.fixture
def runner(harness: Harness, settings: Settings, proxied_client: DynamoDBClient) -> Iterator[ActionRunner]:
    """A runner whose deliveries table is behind the proxy (configuration reads are not)."""
    built = ActionRunner(
        rules=harness.rules,
        actions=harness.actions,
        connectors=harness.connector_services.store,
        caller=harness.connector_services.caller,
        deliveries=DeliveryStore(settings.deliveries_table, proxied_client, harness.clock),
        queue=harness.queue,
        policy=harness.policy,
        clock=harness.clock,
    )
    yield built
    built.close()


def setup_hook(harness: Harness, tenant_id: str, target: RecordingServer) -> None:
    harness.connector(tenant_id, target.url())
    harness.action(tenant_id, name="hook", url="/hook", payload='{"n": {{n}}}', maxRetries=3)
    harness.rule(tenant_id, name="hook", action="hook", mapping={"n": "$.n"})


def answers(*statuses: int) -> Callable[[RecordedRequest], Reply]:
    """The target's answers in turn (the last one from then on)."""
    remaining = list(statuses)

    def reply(_request: RecordedRequest) -> Reply:
        return Reply(status=remaining.pop(0) if len(remaining) > 1 else remaining[0], body=b"{}")

    return reply


def test_a_lost_answer_to_the_outcome_write_leaves_the_delivery_succeeded(
    harness: Harness, runner: ActionRunner, proxied_client: DynamoDBClient, proxy: TcpProxy, tenant_id: str
) -> None:
    with RecordingServer() as target:
        setup_hook(harness, tenant_id, target)
        envelope = harness.envelope(tenant_id, {"n": 1})
        # Given the answer to the write recording attempt 1's outcome is lost (the write went through);
        # the outcome is recorded by the write that settles the delivery
        lost = LoseFirstAnswer(proxy, proxied_client, "UpdateItem", lambda r: key_sk(r) == "DELIVERY")
        # When the runner handles the event
        report = runner.handle_message(envelope.to_message_body())
        # Then its retried write is recognised as its own: the delivery is settled, not "taken over"
        assert lost.lost_and_resent
        assert report.step_of("hook") is Step.SUCCEEDED
        delivery = harness.delivery_of(envelope, "hook")
        assert (delivery.state, delivery.in_flight, delivery.attempts) == (DeliveryState.SUCCEEDED, False, 1)
        assert [a.outcome for a in harness.attempts_of(envelope, "hook")] == [AttemptOutcome.SUCCESS]
        assert len(target.requests) == 1


def test_a_failed_attempt_whose_outcome_answer_was_lost_is_retried(
    harness: Harness, runner: ActionRunner, proxied_client: DynamoDBClient, proxy: TcpProxy, tenant_id: str
) -> None:
    with RecordingServer(answers(503, 200)) as target:
        setup_hook(harness, tenant_id, target)
        envelope = harness.envelope(tenant_id, {"n": 1})
        # Given the answer to the write recording attempt 1's failure (and settling the delivery) is lost
        lost = LoseFirstAnswer(proxy, proxied_client, "UpdateItem", lambda r: key_sk(r) == "DELIVERY")
        report = runner.handle_message(envelope.to_message_body())
        assert lost.lost_and_resent
        # Then the failure schedules its retry, which delivers the event
        assert report.step_of("hook") is Step.RETRY_SCHEDULED
        harness.pump()
        delivery = harness.delivery_of(envelope, "hook")
        assert (delivery.state, delivery.in_flight, delivery.attempts) == (DeliveryState.SUCCEEDED, False, 2)
        assert [a.outcome for a in harness.attempts_of(envelope, "hook")] == [
            AttemptOutcome.RETRYABLE,
            AttemptOutcome.SUCCESS,
        ]
        assert len(target.requests) == 2


def test_a_lost_answer_to_the_settling_write_still_schedules_the_retry(
    harness: Harness, runner: ActionRunner, proxied_client: DynamoDBClient, proxy: TcpProxy, tenant_id: str
) -> None:
    with RecordingServer(answers(503, 200)) as target:
        setup_hook(harness, tenant_id, target)
        envelope = harness.envelope(tenant_id, {"n": 1})
        # Given the answer to the write settling the delivery as RETRYING is lost
        lost = LoseFirstAnswer(proxy, proxied_client, "UpdateItem", lambda r: key_sk(r) == "DELIVERY")
        report = runner.handle_message(envelope.to_message_body())
        assert lost.lost_and_resent
        # Then the retry is still put on the queue, and it delivers the event
        assert report.step_of("hook") is Step.RETRY_SCHEDULED
        delivery_id = harness.delivery_of(envelope, "hook").delivery_id
        assert [(m.body["attempt"], m.body["reason"]) for m in harness.queue.sent_for(delivery_id)] == [
            (2, "retry")
        ]
        harness.pump()
        delivery = harness.delivery_of(envelope, "hook")
        assert (delivery.state, delivery.attempts) == (DeliveryState.SUCCEEDED, 2)
        assert len(target.requests) == 2


def test_a_lost_answer_to_the_claim_calls_the_target_once(
    harness: Harness, runner: ActionRunner, proxied_client: DynamoDBClient, proxy: TcpProxy, tenant_id: str
) -> None:
    with RecordingServer() as target:
        setup_hook(harness, tenant_id, target)
        envelope = harness.envelope(tenant_id, {"n": 1})
        # Given the answer to the write creating the delivery with its first attempt claimed is lost
        lost = LoseFirstAnswer(proxy, proxied_client, "PutItem", lambda r: item_sk(r) == "DELIVERY")
        report = runner.handle_message(envelope.to_message_body())
        assert lost.lost_and_resent
        # Then the runner goes on with its claim: one call, one attempt, succeeded
        assert report.step_of("hook") is Step.SUCCEEDED
        assert len(target.requests) == 1
        assert [a.outcome for a in harness.attempts_of(envelope, "hook")] == [AttemptOutcome.SUCCESS]


def test_replaying_a_delivery_whose_runner_stopped_picks_it_up_again(
    harness: Harness, tenant_id: str
) -> None:
    with RecordingServer() as target:
        setup_hook(harness, tenant_id, target)
        envelope = harness.envelope(tenant_id, {"n": 1})
        harness.handle(envelope)
        # Given a delivery left in flight by a runner that stopped, with no message left to drive it
        delivery = harness.delivery_of(envelope, "hook")
        reopened = harness.deliveries.reopen(delivery, delivery.attempts + 2)
        assert reopened is not None
        assert harness.deliveries.claim(reopened, "stopped-runner", harness.lease_seconds) is not None
        # While its lease runs, a replay is refused: an attempt may still be running
        with pytest.raises(NotReplayable, match="an attempt is running"):
            harness.replay.replay(tenant_id, delivery.delivery_id)
        # When its lease has expired, a replay picks it up again
        harness.clock.advance(harness.lease_seconds + 1)
        harness.replay.replay(tenant_id, delivery.delivery_id)
        harness.pump()
        # Then the interrupted attempt is recorded ABANDONED and the delivery is delivered
        recovered = harness.delivery_of(envelope, "hook")
        assert (recovered.state, recovered.in_flight, recovered.attempts) == (
            DeliveryState.SUCCEEDED,
            False,
            3,
        )
        assert [a.outcome for a in harness.attempts_of(envelope, "hook")] == [
            AttemptOutcome.SUCCESS,
            AttemptOutcome.ABANDONED,
            AttemptOutcome.SUCCESS,
        ]
        assert len(target.requests) == 2


def test_an_outcome_write_refused_for_another_writer_is_not_taken_as_its_own(
    harness: Harness, tenant_id: str
) -> None:
    with RecordingServer() as target:
        setup_hook(harness, tenant_id, target)
        envelope = harness.envelope(tenant_id, {"n": 1})
        harness.handle(envelope)
        delivery = harness.delivery_of(envelope, "hook")
        reopened = harness.deliveries.reopen(delivery, delivery.attempts + 1)
        assert reopened is not None
        claimed = harness.deliveries.claim(reopened, "runner-a", harness.lease_seconds)
        assert claimed is not None
        # Given a recovering runner settled the attempt ABANDONED under the same lease token
        abandoned = AttemptResult(AttemptOutcome.ABANDONED, harness.clock())
        recovered = harness.deliveries.settle(
            claimed, "runner-a", DeliveryState.RETRYING, abandoned, harness.clock()
        )
        assert recovered is not None
        # Then the first runner's late outcome is refused: that write was not its own
        late = AttemptResult(AttemptOutcome.SUCCESS, harness.clock(), 200)
        assert harness.deliveries.settle(claimed, "runner-a", DeliveryState.SUCCEEDED, late) is None
        assert harness.deliveries.attempt(claimed.delivery_id, 2).outcome is AttemptOutcome.ABANDONED  # type: ignore[union-attr]
        assert harness.deliveries.get(claimed.delivery_id).state is DeliveryState.RETRYING  # type: ignore[union-attr]
