"""The action runner wired to the embedded AWS, with SQS time compressed by a controlled clock.

Everything is real: rules, actions and connectors in DynamoDB Local, deliveries in the deliveries
table, the outbound client calling HTTP servers on 127.0.0.1, and a queue of its own on moto's SQS
(so tests never see each other's messages). One thing is compressed: the runner's messages are
sent with `DelaySeconds` 0 while the delay it asked for is recorded; `pump()` advances the
controlled clock by that delay before handing the message to the runner, exactly as if the
message had become visible later. Spacing is asserted on the recorded delays and on the
attempts' times, never on wall time.
"""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.batch import process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from eventrelay.actions import Action, ActionStore
from eventrelay.clock import iso_utc
from eventrelay.connectors.models import AuthType, Connector, ConnectorSpec, Credentials
from eventrelay.delivery.batch import ConcurrentBatchProcessor
from eventrelay.delivery.models import Attempt, Delivery
from eventrelay.delivery.pacing import ConnectorPacer
from eventrelay.delivery.replay import ReplayService
from eventrelay.delivery.runner import ActionRunner, ConnectorCalls, MessageReport, Queue
from eventrelay.delivery.schedule import RetryPolicy
from eventrelay.delivery.store import DeliveryStore
from eventrelay.envelopes import EventEnvelope, MessageQueue
from eventrelay.outbound.client import OutboundClient
from eventrelay.ratelimit import FixedWindowRateLimiter
from eventrelay.roots import AwsClients
from eventrelay.roots.connectors import ConnectorServices, build_connector_services
from eventrelay.roots.delivery import build_delivery_services
from eventrelay.rules import Rule, RuleStore
from eventrelay.settings import Settings
from eventrelay_cli.local.sqs_event_source import build_sqs_event
from tests.support.api import ControlledClock

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageTypeDef


@dataclass
class SentMessage:
    body: dict[str, Any]
    delay_seconds: int


class TimeCompressedQueue:
    """The runner's queue: real SQS, but `DelaySeconds` recorded instead of waited for."""

    def __init__(self, queue_url: str, sqs: SQSClient) -> None:
        self._queue = MessageQueue(queue_url, sqs)
        self.sent: list[SentMessage] = []
        self._pending: dict[str, list[int]] = defaultdict(list)

    def send(self, body: str, attributes: dict[str, Any] | None = None, delay_seconds: int = 0) -> None:
        self.sent.append(SentMessage(json.loads(body), delay_seconds))
        self._pending[body].append(delay_seconds)
        self._queue.send(body, attributes, 0)

    def delay_of(self, body: str) -> int:
        delays = self._pending.get(body)
        return delays.pop(0) if delays else 0

    def sent_for(self, delivery_id: str) -> list[SentMessage]:
        return [m for m in self.sent if m.body.get("deliveryId") == delivery_id]


@dataclass
class Harness:
    settings: Settings
    clock: ControlledClock
    queue_url: str
    policy: RetryPolicy
    client: OutboundClient
    lease_seconds: float = 90.0
    caller: ConnectorCalls | None = None
    sqs: SQSClient = field(init=False)
    dynamodb: DynamoDBClient = field(init=False)
    queue: TimeCompressedQueue = field(init=False)
    actions: ActionStore = field(init=False)
    rules: RuleStore = field(init=False)
    deliveries: DeliveryStore = field(init=False)
    connector_services: ConnectorServices = field(init=False)
    runner: ActionRunner = field(init=False)
    replay: ReplayService = field(init=False)

    def __post_init__(self) -> None:
        clients = AwsClients.for_settings(self.settings)
        self.sqs = clients.sqs
        self.dynamodb = clients.dynamodb
        self.queue = TimeCompressedQueue(self.queue_url, self.sqs)
        self.connector_services = build_connector_services(
            self.settings, clients, self.clock, client=self.client
        )
        services = build_delivery_services(
            self.settings,
            clients,
            self.clock,
            policy=self.policy,
            connectors=self.connector_services,
            queue=self.queue,
            lease_seconds=self.lease_seconds,
        )
        self.actions = services.actions
        self.rules = services.rules
        self.deliveries = services.deliveries
        self.runner = self.new_runner(self.caller) if self.caller is not None else services.runner
        self.replay = services.replay

    def new_runner(self, caller: ConnectorCalls | None = None, queue: Queue | None = None) -> ActionRunner:
        """Another runner instance (another Lambda instance) on the same stores and queue (or `queue`),
        with a rate limiter of its own (its own memory of full windows) on the same limits table."""
        limiter = FixedWindowRateLimiter(self.settings.limits_table, self.dynamodb, self.clock)
        return ActionRunner(
            rules=self.rules,
            actions=self.actions,
            connectors=self.connector_services.store,
            caller=caller or self.connector_services.caller,
            deliveries=self.deliveries,
            queue=queue or self.queue,
            policy=self.policy,
            clock=self.clock,
            lease_seconds=self.lease_seconds,
            pacer=ConnectorPacer(limiter),
        )

    # ---- configuration

    def connector(self, tenant_id: str, base_url: str, name: str = "target", **spec: Any) -> Connector:
        credentials = spec.pop("credentials", None)
        return self.connector_services.store.create(
            tenant_id, ConnectorSpec(name=name, base_url=base_url, **spec), credentials
        )

    def oauth_connector(
        self, tenant_id: str, base_url: str, token_url: str, name: str = "target"
    ) -> Connector:
        return self.connector(
            tenant_id,
            base_url,
            name,
            auth_type=AuthType.OAUTH2,
            oauth2={"grant": "client_credentials", "token_url": token_url},
            credentials=Credentials(client_id="runner-client", client_secret="runner-client-secret"),  # type: ignore[arg-type]
        )

    def action(self, tenant_id: str, **definition: Any) -> Action:
        return self.actions.create(tenant_id, {"connector": "target", "method": "POST", **definition})

    def rule(self, tenant_id: str, **definition: Any) -> Rule:
        return self.rules.create(tenant_id, {"eventName": "OrderPlaced", "eventVersion": "v01", **definition})

    def envelope(
        self, tenant_id: str, payload: dict[str, Any], event_name: str = "OrderPlaced"
    ) -> EventEnvelope:
        return EventEnvelope(
            eventId=str(uuid.uuid4()),
            tenantId=tenant_id,
            eventName=event_name,
            eventVersion="v01",
            receivedAt=iso_utc(self.clock()),
            requestId=f"req-{uuid.uuid4().hex[:8]}",
            payload=payload,
        )

    # ---- running

    def handle(self, envelope: EventEnvelope) -> MessageReport:
        return self.runner.handle_message(envelope.to_message_body())

    def handler(self, event: dict[str, Any], runner: ActionRunner | None = None) -> dict[str, Any]:
        """What functions/action_runner/app.py does, with this harness's runner."""
        chosen = runner or self.runner
        batch = chosen.batch()

        def record_handler(record: SQSRecord) -> None:
            chosen.handle_message(record.body, batch)

        response = process_partial_response(
            event=event, record_handler=record_handler, processor=ConcurrentBatchProcessor(10)
        )
        return dict(response)

    def publish(self, *envelopes: EventEnvelope) -> None:
        """Put envelopes on the queue, as the publish path does."""
        for envelope in envelopes:
            self.sqs.send_message(QueueUrl=self.queue_url, MessageBody=envelope.to_message_body())

    def receive(self, max_messages: int = 10) -> list[MessageTypeDef]:
        response = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=max_messages,
            WaitTimeSeconds=0,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        return list(response.get("Messages", []))

    def pump(self, max_batches: int = 100) -> int:
        """Deliver the queue's messages to the runner in Lambda batches until it is empty.

        Before each batch the clock moves on by the longest delay the runner asked for among its
        messages. Returns the number of batches; fails if the queue never empties.
        """
        arn = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        for batch_number in range(max_batches):
            messages = self.receive()
            if not messages:
                return batch_number
            self.clock.advance(max(self.queue.delay_of(m["Body"]) for m in messages))
            response = self.handler(build_sqs_event(messages, arn))
            failed = {f["itemIdentifier"] for f in response.get("batchItemFailures", [])}
            assert not failed, f"the runner failed records: {failed}"
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
            )
        raise AssertionError("the queue never emptied")

    # ---- reading

    def delivery_of(self, envelope: EventEnvelope, rule_name: str) -> Delivery:
        from eventrelay.delivery.models import delivery_id_for

        delivery = self.deliveries.get(delivery_id_for(envelope.tenantId, envelope.eventId, rule_name))
        assert delivery is not None, f"no delivery for rule {rule_name}"
        return delivery

    def attempts_of(self, envelope: EventEnvelope, rule_name: str) -> list[Attempt]:
        return self.deliveries.attempts(self.delivery_of(envelope, rule_name).delivery_id)
