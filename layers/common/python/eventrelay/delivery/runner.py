"""The action runner: turns each event on the queue into deliveries, and drives each delivery.

Two kinds of message arrive on the events queue: an event envelope (from the publish path) and a
delivery message (`DeliveryMessage`, put back by the runner itself: retries, delays, pacing,
replays).

For an envelope: the tenant's enabled rules for the event are evaluated; each matching rule gets
one delivery (deterministic id, created once) and its first attempt. For a delivery message: the
delivery it names is driven to its next attempt. Deliveries run concurrently on a bounded pool.
A delivery that cannot start because too little of the invocation is left (it waited for a call
slot behind slow targets) is postponed: a message for it goes back on the queue at once with a
`POSTPONE_DELAY_SECONDS` delay and its record succeeds, so it never waits out the queue's
visibility timeout. A delivery too large to store with its copy of the event ends FAILED with
the reason (stored without the copy) instead of failing its record again and again.

How a delivery stays exactly-once successful, and how nothing is lost (the writes are in
`delivery/store.py`; each is ONE conditional write on the delivery item, which DynamoDB applies
atomically, one write after another):
- A message carries the attempt number it means to start. Attempt k starts only through a claim:
  for k = 1 of a new delivery, a PutItem refused if the delivery exists; for k > 1, an UpdateItem
  conditional on the delivery being exactly as read (attempts k-1, not in flight, same round,
  state and attempt limit). The claim takes a lease (a token new to this claim) and marks attempt
  k IN_FLIGHT in the delivery. Of runners that read the same state, one claim succeeds; every
  other finds attempts or the in-flight mark changed and is refused. The runner calls the target
  only with the delivery its own successful claim returned, so a claim that lost never calls.
  (Before claiming attempt k > 1, the settled attempt k-1 is copied from the delivery to its own
  item: an unconditional PutItem of content that no longer changes once k-1 is settled, read from
  a delivery not in flight. A copy by a runner that then loses the claim, or a second copy, writes
  the same item; the copy decides nothing.)
- Pacing (a connector with a rate limit, `delivery/pacing.py`) is the last check before a claim:
  the runner takes a slot in the connector's windows, a conditional write on the limits table,
  never on the delivery. Refused, it writes nothing to the delivery and puts a message for the
  same attempt k back on the queue, delayed until a window has room (at most SQS's 900 s; a
  longer wait checks again). The delivery stays exactly as read, so the claim argument above is
  untouched: a paced delivery consumes no attempt, and the message being handled is deleted only
  after the new one is sent (else its record fails and it returns). Why before the claim and not
  after it: a refusal after a claim would have to undo the claim (one more delivery write for every
  paced turn, and a delivery seen in flight meanwhile); before it, a refusal costs no delivery
  write, and no limits write either once the limiter remembers the full window. The price: a slot
  taken by a runner whose claim then loses to another runner, or whose attempt ends before its
  call (the rule, action or connector unreadable, the request not renderable), is given back
  (the limiter's refund, one write). A runner that stops between its slot and its call leaves the
  slot counted: the connector loses one call in that window, never gains one.
- After the call, ONE UpdateItem records attempt k's outcome and settles the delivery (SUCCEEDED,
  FAILED, or RETRYING with its next time), conditional on the claim's lease token, attempts = k
  and the in-flight mark. The outcome and the delivery's state change together: no state has one
  without the other. For RETRYING a message for attempt k+1 is put on the queue with the delay
  (never a sleep).
- A write whose answer was lost is retried by the SDK; if its first try went through, the retry
  is refused by the write's own condition. Each write recognises itself in the refused item (the
  claim by its lease token with attempts = k in flight, the settlement by its own write id) and
  counts as done: only another runner's write means "taken over". So no runner gives up a
  delivery it still holds, and a delivery is left in flight only by a runner that stopped, whose
  message returns.
- A runner that dies between its call and its settlement (or fails that write after its retries)
  leaves the delivery in flight with a lease and attempt k IN_FLIGHT. The message it was
  processing returns after the queue's visibility timeout (longer than the lease); whoever sees
  an expired lease settles attempt k ABANDONED with the same conditional write (the lease's
  token, attempts = k, in flight) and continues. If the first runner was only slow, the two
  settlements race on one condition: the first applied wins, the other is refused and not taken
  as its own (its write id is not in the item), so attempt k is settled exactly once. (A delivery
  left in flight by the runner's earlier version, which wrote the outcome in the attempt's own
  item before settling, keeps that outcome.) A message arriving while the lease is held is sent
  again for when it ends. A replay of a delivery whose lease expired sends such a message.
- A message for attempt k-1 (the one that drove attempt k-1) arriving again acts as a watchdog:
  it starts attempt k only if that is overdue by `watch_grace_seconds` (its own message was lost).
Dataset rows (`eventrelay.datasets`) arrive as a third kind of message, on the dataset deliveries
queue: a row message names its run's rule, the delivery id derived from (run, row) and the row as
the envelope's payload; it becomes a delivery exactly like an event's, driven by the same claims
(its retries go back to the dataset queue: see `datasets.progress.DeliveryQueues`). When a row's
delivery finishes, the run is told (`RunProgress`), once per delivery. An event that a dataset
rule subscribes to (a System Asset Event naming a file) does not become a delivery of that rule:
it starts a run (a message to the dataset expander's queue).

Anything the runner cannot do (AWS unavailable, an unreadable message) raises: the record is
reported failed, SQS delivers it again, and after the queue's maxReceiveCount it goes to the DLQ.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from functools import partial
from typing import Any, Protocol

from eventrelay.actions import ActionError, ActionNotFound
from eventrelay.clock import Clock, system_clock
from eventrelay.connectors.errors import ConnectorError
from eventrelay.connectors.models import Connector
from eventrelay.datasets.models import DATASET_ROW_KIND, StartMessage, is_dataset_delivery
from eventrelay.delivery import metrics
from eventrelay.delivery.config import ActionLookup, ConfigSnapshot, ConnectorLookup, RuleLookup
from eventrelay.delivery.models import (
    DELIVERY_MESSAGE_KIND,
    AttemptOutcome,
    AttemptResult,
    Delivery,
    DeliveryMessage,
    DeliveryState,
    delivery_id_for,
)
from eventrelay.delivery.pacing import UNLIMITED, ConnectorPacer, Pace, Slot
from eventrelay.delivery.schedule import RetryPolicy, sqs_delay_seconds
from eventrelay.delivery.store import DeliveryStore, DeliveryTooLarge
from eventrelay.envelopes import EventEnvelope
from eventrelay.errors import DependencyFailure
from eventrelay.observability import logger
from eventrelay.outbound.outcome import Outcome, OutcomeKind
from eventrelay.outbound.request import OutboundRequest
from eventrelay.rules import MappingError, Rule, RuleError, RuleNotFound, evaluate, render_request

DEFAULT_LEASE_SECONDS = 90.0
DEFAULT_WATCH_GRACE_SECONDS = 60.0
DEFAULT_MAX_CONCURRENT_CALLS = 16
# SQS delays are whole seconds: a delivery due within this margin is started now.
DUE_TOLERANCE_SECONDS = 1.0
# A postponed delivery is visible again after this; short, so it waits on no one, and not 0, so an
# invocation still busy with slow targets does not get it straight back.
POSTPONE_DELAY_SECONDS = 1
_MAX_RACES = 4


class ConnectorCalls(Protocol):
    """Performs a rendered request through a connector (`connectors.caller.ConnectorCaller` fits)."""

    def call(
        self, connector: Connector, request: OutboundRequest, idempotency_key: str | None = None
    ) -> Outcome: ...


class Queue(Protocol):
    """Where delivery messages go (`envelopes.MessageQueue` on the events queue fits)."""

    def send(self, body: str, attributes: dict[str, Any] | None = None, delay_seconds: int = 0) -> None: ...


class RunCounter(Protocol):
    """Told when a dataset row's delivery finished (`datasets.progress.RunProgress` fits)."""

    def row_settled(self, delivery_id: str, run_id: str, state: DeliveryState) -> None: ...


class Step(StrEnum):
    """What handling a message did to one delivery."""

    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    RETRY_SCHEDULED = "RETRY_SCHEDULED"
    DEFERRED = "DEFERRED"  # not due, or running elsewhere: a message was sent for later
    POSTPONED = "POSTPONED"  # due, but too little time left to start: a message was sent for now
    PACED = "PACED"  # due, but its connector's rate limit is reached: a message was sent for later
    STALE = "STALE"  # nothing to do: finished, or another message drives it
    LOST_RACE = "LOST_RACE"  # another runner changed it under us; its message carries on


@dataclass(frozen=True)
class DeliveryStep:
    delivery_id: str
    rule_name: str
    step: Step


@dataclass(frozen=True)
class MessageReport:
    """What one queue message led to (for logs and tests)."""

    kind: str
    steps: tuple[DeliveryStep, ...] = ()

    def step_of(self, rule_name: str) -> Step:
        return next(s.step for s in self.steps if s.rule_name == rule_name)


@dataclass(frozen=True)
class Batch:
    """What the messages of one Lambda invocation share: a configuration snapshot and the time left."""

    config: ConfigSnapshot
    time_left: Callable[[], float] | None = None

    def enough_time(self, needed: float) -> bool:
        return self.time_left is None or self.time_left() >= needed


_PERMANENT_CONFIG_ERRORS = (ActionError, RuleError, ConnectorError)


@dataclass
class ActionRunner:
    rules: RuleLookup
    actions: ActionLookup
    connectors: ConnectorLookup
    caller: ConnectorCalls
    deliveries: DeliveryStore
    queue: Queue
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    clock: Clock = system_clock
    lease_seconds: float = DEFAULT_LEASE_SECONDS
    watch_grace_seconds: float = DEFAULT_WATCH_GRACE_SECONDS
    max_concurrent_calls: int = DEFAULT_MAX_CONCURRENT_CALLS
    # Seconds an attempt may need at most (the outbound deadline plus bookkeeping).
    attempt_time_seconds: float = 20.0
    # Dataset runs: finished rows are counted here; runs are started through this queue.
    runs: RunCounter | None = None
    dataset_starts: Queue | None = None
    # Enforces connectors' rate limits; None: no connector is paced (and none is read early).
    pacer: ConnectorPacer | None = None
    _pool: ThreadPoolExecutor = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.max_concurrent_calls < 1:
            raise ValueError("max_concurrent_calls must be at least 1")
        self._pool = ThreadPoolExecutor(self.max_concurrent_calls, thread_name_prefix="delivery")

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    # ---- messages

    def batch(self, time_left: Callable[[], float] | None = None) -> Batch:
        """A new batch (one Lambda invocation): its own configuration snapshot and time budget."""
        return Batch(ConfigSnapshot(self.rules, self.actions, self.connectors), time_left)

    def handle_message(self, body: str, batch: Batch | None = None) -> MessageReport:
        """Process one queue message; raises if it could not be processed (the record then fails).

        Messages of one invocation share `batch`; without one, the message is a batch of its own.
        """
        batch = batch or self.batch()
        data = json.loads(body)
        if not isinstance(data, dict):
            raise ValueError("a queue message must be a JSON object")
        if data.get("kind") == DELIVERY_MESSAGE_KIND:
            return self.handle_delivery_message(DeliveryMessage.from_dict(data), batch)
        if data.get("kind") == DATASET_ROW_KIND:
            return self.handle_dataset_row(data, batch)
        return self.handle_envelope(EventEnvelope.from_fields(data), batch)

    def handle_dataset_row(self, data: dict[str, Any], batch: Batch | None = None) -> MessageReport:
        """One row of a dataset run: its delivery (id from the message) is created once and driven."""
        batch = batch or self.batch()
        envelope = EventEnvelope.from_fields(data["envelope"])
        delivery_id, rule_name = str(data["deliveryId"]), str(data["rule"])
        if not is_dataset_delivery(delivery_id):
            raise ValueError("a dataset row message names a dataset delivery")
        try:
            rule = batch.config.rule(envelope.tenantId, rule_name)
        except RuleNotFound:
            # Deleted since the row was read: the delivery records it as a permanent failure.
            rule = Rule(
                name=rule_name,
                source={"type": "dataset"},
                action=str(data["action"]),
                tenant_id=envelope.tenantId,
            )
        step = self._deliver(envelope, rule, batch, delivery_id)
        self._count_row(delivery_id, envelope.eventId, step.step)
        return MessageReport("dataset_row", (step,))

    def _count_row(self, delivery_id: str, run_id: str, step: Step) -> None:
        """Tell the run a row finished (again, harmlessly, when a message about it comes back)."""
        if self.runs is None or not is_dataset_delivery(delivery_id):
            return
        if step is Step.SUCCEEDED:
            self.runs.row_settled(delivery_id, run_id, DeliveryState.SUCCEEDED)
        elif step is Step.FAILED:
            self.runs.row_settled(delivery_id, run_id, DeliveryState.FAILED)
        elif step is Step.STALE:
            current = self.deliveries.get(delivery_id)
            if current is not None and current.state.finished:
                self.runs.row_settled(delivery_id, run_id, current.state)

    def handle_envelope(self, envelope: EventEnvelope, batch: Batch | None = None) -> MessageReport:
        batch = batch or self.batch()
        rules = batch.config.rules_for_event(envelope.tenantId, envelope.eventName, envelope.eventVersion)
        for rule in rules:
            if rule.is_dataset:
                self._start_run(envelope, rule)
        matched = [
            rule for rule in rules if not rule.is_dataset and evaluate(rule.condition, envelope.payload)
        ]
        steps = self._run_all([partial(self._deliver, envelope, rule, batch) for rule in matched])
        if rules:
            logger.info(
                "event processed",
                extra={
                    "tenant_id": envelope.tenantId,
                    "event_id": envelope.eventId,
                    "rules": len(rules),
                    "matched": len(matched),
                },
            )
        return MessageReport("envelope", tuple(steps))

    def handle_delivery_message(self, message: DeliveryMessage, batch: Batch | None = None) -> MessageReport:
        batch = batch or self.batch()
        delivery = self.deliveries.get(message.delivery_id)
        if delivery is None or delivery.tenant_id != message.tenant_id:
            logger.warning(
                "delivery message for an unknown delivery", extra={"delivery_id": message.delivery_id}
            )
            return MessageReport("delivery")
        step = self._advance(delivery, message.attempt, batch)
        self._count_row(delivery.delivery_id, delivery.event_id, step)
        return MessageReport("delivery", (DeliveryStep(delivery.delivery_id, delivery.rule_name, step),))

    def _start_run(self, envelope: EventEnvelope, rule: Rule) -> None:
        """A dataset rule subscribes to this event: a run on the file it names."""
        bucket, key = envelope.payload.get("bucketName"), envelope.payload.get("successFilePath")
        extra = {"tenant_id": envelope.tenantId, "event_id": envelope.eventId, "rule": rule.name}
        if not isinstance(bucket, str) or not bucket or not isinstance(key, str) or not key:
            logger.info(
                "dataset rule not started: the event names no bucketName and successFilePath", extra=extra
            )
            return
        if self.dataset_starts is None:
            logger.warning("dataset rule not started: this runner has no dataset expander queue", extra=extra)
            return
        start = StartMessage(envelope.tenantId, rule.name, bucket, key.lstrip("/"), envelope.eventId)
        self.dataset_starts.send(start.to_body())
        logger.info("dataset run requested", extra={**extra, "key": start.key})

    def _run_all(self, tasks: Sequence[Callable[[], DeliveryStep]]) -> list[DeliveryStep]:
        """Run tasks on the pool; wait for all of them, then re-raise the first failure."""
        futures: list[Future[DeliveryStep]] = [self._pool.submit(task) for task in tasks]
        results: list[DeliveryStep] = []
        failure: BaseException | None = None
        for future in futures:
            try:
                results.append(future.result())
            except BaseException as exc:  # re-raised below, once the others have finished
                failure = failure or exc
        if failure is not None:
            raise failure
        return results

    # ---- one delivery

    def _deliver(
        self, envelope: EventEnvelope, rule: Rule, batch: Batch, delivery_id: str | None = None
    ) -> DeliveryStep:
        now = self.clock()
        try:
            action = batch.config.action(envelope.tenantId, rule.action)
        except ActionNotFound:
            attempt_limit = 1  # the attempt records the missing action as a permanent failure
        else:
            attempt_limit = 1 + action.max_retries
            if self.pacer is None:
                # The call needs the connector too: read it while the claim is written. Nothing waits
                # for this read; the call's own lookup waits for it or, if it has not started, reads.
                # (With a pacer the connector is read before the claim: its rate limit decides.)
                self._pool.submit(batch.config.connector, envelope.tenantId, action.connector)
        fresh = Delivery(
            delivery_id=delivery_id or delivery_id_for(envelope.tenantId, envelope.eventId, rule.name),
            tenant_id=envelope.tenantId,
            event_id=envelope.eventId,
            event_name=envelope.eventName,
            event_version=envelope.eventVersion,
            rule_name=rule.name,
            action=rule.action,
            state=DeliveryState.PENDING,
            created_at=now,
            updated_at=now,
            attempt_limit=attempt_limit,
            next_attempt_at=now,
            envelope=envelope,
        )
        slot: Slot | None = None  # an admitted slot not yet handed to a call is given back
        try:
            if batch.enough_time(self.attempt_time_seconds):
                slot = self._take_slot(fresh, batch)
                if slot.pace is Pace.REFUSED:
                    refused, slot = slot, None
                    if self.deliveries.create(fresh):
                        return DeliveryStep(fresh.delivery_id, rule.name, self._pace(fresh, refused))
                else:
                    # The common path: a new delivery, created with its first attempt claimed in one write.
                    token = uuid.uuid4().hex
                    claimed = self.deliveries.create_claimed(fresh, token, self.lease_seconds)
                    if claimed is not None:
                        handed, slot = slot, None
                        return DeliveryStep(
                            fresh.delivery_id, rule.name, self._perform(claimed, token, batch, handed)
                        )
            elif self.deliveries.create(fresh):
                return DeliveryStep(fresh.delivery_id, rule.name, self._postpone(fresh))
            # Seen before (SQS delivered the event again): carry on from the recorded state.
            existing = self.deliveries.get(fresh.delivery_id)
            held, slot = slot, None
            step = Step.STALE if existing is None else self._advance(existing, 1, batch, held)
            return DeliveryStep(fresh.delivery_id, rule.name, step)
        except DeliveryTooLarge as too_large:
            return DeliveryStep(fresh.delivery_id, rule.name, self._fail_unstorable(fresh, too_large))
        finally:
            self._give_back(slot)

    def _advance(
        self,
        delivery: Delivery,
        expected: int,
        batch: Batch,
        held: Slot | None = None,
    ) -> Step:
        """Start attempt `expected` (or take over) when due; otherwise say why not.

        `held`: a slot of the connector's rate limit already taken for this delivery (used for
        its claim, or given back)."""
        current: Delivery | None = delivery
        slot = held
        try:
            for _ in range(_MAX_RACES):
                if current is None:
                    return Step.STALE
                if current.in_flight:
                    step, current, expected = self._unblock(current, expected)
                    if step is not None:
                        return step
                    continue
                step = self._wait(current, expected) or self._postpone_if_late(current, batch)
                if step is not None:
                    return step
                if slot is None:
                    slot = self._take_slot(current, batch)
                if slot.pace is Pace.REFUSED:
                    refused, slot = slot, None
                    return self._pace(current, refused)
                token = uuid.uuid4().hex
                claimed = self.deliveries.claim(current, token, self.lease_seconds)
                if claimed is None:
                    current = self.deliveries.get(current.delivery_id)
                    continue
                handed, slot = slot, None
                return self._perform(claimed, token, batch, handed)
            return Step.LOST_RACE
        finally:
            self._give_back(slot)

    def _unblock(self, current: Delivery, expected: int) -> tuple[Step | None, Delivery | None, int]:
        """An attempt is in flight: wait for its lease, or recover it once the lease has expired."""
        if expected not in (current.attempts, current.attempts + 1):
            return Step.STALE, current, expected
        now = self.clock()
        lease_until = current.lease_until or 0.0
        if lease_until > now:
            self._send(current, expected, lease_until - now + DUE_TOLERANCE_SECONDS, "lease")
            return Step.DEFERRED, current, expected
        recovered = self._recover(current)
        if recovered is None:
            return None, self.deliveries.get(current.delivery_id), expected
        # This message now drives the next attempt (if the recovered delivery has one left).
        return None, recovered, recovered.attempts + 1

    def _wait(self, current: Delivery, expected: int) -> Step | None:
        """None when attempt attempts+1 should start now; else STALE or DEFERRED (a message was sent)."""
        attempts = current.attempts
        if current.state.finished:
            return Step.STALE
        if expected == attempts + 1:
            due, reason = current.next_attempt_at, "delay"
        elif expected == attempts and attempts > 0:
            due, reason = current.next_attempt_at + self.watch_grace_seconds, "watch"
        else:
            return Step.STALE
        if attempts + 1 > current.attempt_limit:
            logger.error("delivery has no attempt left but is not finished", extra=_ids(current))
            return Step.STALE
        now = self.clock()
        if due > now + DUE_TOLERANCE_SECONDS:
            self._send(current, expected, due - now, reason)
            return Step.DEFERRED
        return None

    def _perform(self, delivery: Delivery, token: str, batch: Batch, slot: Slot = UNLIMITED) -> Step:
        started = time.monotonic()
        outcome = self._call(delivery, batch.config, slot)
        finished_at = self.clock()
        duration_ms = outcome.duration_ms or int((time.monotonic() - started) * 1000)
        result = AttemptResult(
            outcome=AttemptOutcome(outcome.kind.value),
            finished_at=finished_at,
            status_code=outcome.status,
            duration_ms=duration_ms,
            response_body=outcome.body_text() if outcome.status is not None else None,
            response_truncated=outcome.body_truncated,
            error=outcome.error,
            retry_after_seconds=outcome.retry_after_seconds,
        )
        metrics.milliseconds(metrics.ATTEMPT_DURATION, duration_ms)
        return self._settle(delivery, token, result)

    def _call(self, delivery: Delivery, config: ConfigSnapshot, slot: Slot) -> Outcome:
        """Render and perform the delivery's request with the current rule, action and connector.

        An attempt that ends before the call gives its rate limit slot back."""
        prepared = self._prepare(delivery, config)
        if isinstance(prepared, Outcome):
            self._give_back(slot)
            return prepared
        connector, request = prepared
        return self.caller.call(connector, request, delivery.idempotency_key)

    def _prepare(
        self, delivery: Delivery, config: ConfigSnapshot
    ) -> tuple[Connector, OutboundRequest] | Outcome:
        """The connector and rendered request of the delivery's call, or the outcome that ends the
        attempt without a call."""
        envelope = delivery.envelope
        if envelope is None:
            return Outcome(OutcomeKind.PERMANENT, error="the event was not kept with this delivery")
        try:
            rule = config.rule(delivery.tenant_id, delivery.rule_name)
            action = config.action(delivery.tenant_id, delivery.action)
            connector = config.connector(delivery.tenant_id, action.connector)
            # A relative URL stays relative: the connector joins it to its real base URL when it calls.
            request = render_request(rule, action, envelope.payload)
        except RuleNotFound:
            return Outcome(OutcomeKind.PERMANENT, error=f"rule '{delivery.rule_name}' no longer exists")
        except MappingError as exc:
            return Outcome(OutcomeKind.PERMANENT, error=f"cannot build the request: {exc}")
        except _PERMANENT_CONFIG_ERRORS as exc:
            return Outcome(OutcomeKind.PERMANENT, error=_config_error(exc))
        except DependencyFailure:
            return Outcome(
                OutcomeKind.RETRYABLE, error="could not read the configuration (dependency unavailable)"
            )
        return connector, request

    def _settle(self, delivery: Delivery, token: str, result: AttemptResult) -> Step:
        state, next_attempt_at, delivery_error = self._decide(delivery, result)
        settled = self.deliveries.settle(delivery, token, state, result, next_attempt_at, delivery_error)
        if settled is None:
            logger.warning("delivery taken over before it was settled", extra=_ids(delivery))
            return Step.LOST_RACE
        log = {
            **_ids(settled),
            "attempt": settled.attempts,
            "delivery_state": state.value,
            "outcome": result.outcome.value,
            "status": result.status_code,
        }
        if state is DeliveryState.SUCCEEDED:
            metrics.count(metrics.SUCCEEDED)
            latency = _since_received(settled, self.clock())
            if latency is not None:
                metrics.milliseconds(metrics.LATENCY, latency * 1000)
            logger.info("delivery succeeded", extra=log)
            return Step.SUCCEEDED
        if state is DeliveryState.FAILED:
            metrics.count(metrics.FAILED)
            logger.warning("delivery failed", extra={**log, "error": settled.last_error})
            return Step.FAILED
        metrics.count(metrics.RETRIED)
        logger.info("delivery retry scheduled", extra={**log, "next_attempt_at": next_attempt_at})
        self._send(settled, settled.attempts + 1, settled.next_attempt_at - self.clock(), "retry")
        return Step.RETRY_SCHEDULED

    def _decide(
        self, delivery: Delivery, result: AttemptResult
    ) -> tuple[DeliveryState, float | None, str | None]:
        """The delivery's next state, when its next attempt is due, and its summary error (None:
        the attempt's own)."""
        if result.outcome is AttemptOutcome.SUCCESS:
            return DeliveryState.SUCCEEDED, None, None
        if result.outcome is AttemptOutcome.PERMANENT:
            return DeliveryState.FAILED, None, None
        if delivery.attempts >= delivery.attempt_limit:
            used = delivery.attempts - delivery.round_start
            exhausted = f"{result.error or result.outcome.value}; gave up after {used} attempt(s)"
            return DeliveryState.FAILED, None, exhausted
        if result.outcome is AttemptOutcome.ABANDONED:
            return DeliveryState.RETRYING, self.clock(), None
        retry_number = delivery.attempts - delivery.round_start
        wait = self.policy.delay(retry_number, result.retry_after_seconds)
        return DeliveryState.RETRYING, result.finished_at + wait, None

    def _recover(self, delivery: Delivery) -> Delivery | None:
        """Finish the bookkeeping of an attempt whose runner stopped (its lease expired).

        The attempt is settled ABANDONED under the lease it was claimed with, by the same
        conditional write its runner would have made: if that runner settles first after all, this
        write is refused (None) and the caller reads the delivery again. An outcome recorded before
        the settlement, which only an earlier version of the runner wrote (in the attempt's own
        item), is kept.
        """
        token = delivery.lease_token or ""
        result = AttemptResult(
            outcome=AttemptOutcome.ABANDONED,
            finished_at=self.clock(),
            error="the runner stopped before recording an outcome (its lease expired)",
        )
        if delivery.latest_attempt is None or delivery.latest_attempt.attempt != delivery.attempts:
            recorded = self.deliveries.attempt(delivery.delivery_id, delivery.attempts)
            if recorded is not None and recorded.outcome is not AttemptOutcome.IN_FLIGHT:
                result = AttemptResult(
                    outcome=recorded.outcome,
                    finished_at=recorded.finished_at or self.clock(),
                    status_code=recorded.status_code,
                    duration_ms=recorded.duration_ms or 0,
                    response_body=recorded.response_body,
                    response_truncated=recorded.response_truncated,
                    error=recorded.error,
                    retry_after_seconds=recorded.retry_after_seconds,
                )
        logger.warning(
            "recovering an interrupted attempt",
            extra={**_ids(delivery), "attempt": delivery.attempts, "outcome": result.outcome.value},
        )
        state, next_attempt_at, delivery_error = self._decide(delivery, result)
        settled = self.deliveries.settle(delivery, token, state, result, next_attempt_at, delivery_error)
        if settled is not None and state is DeliveryState.SUCCEEDED:
            metrics.count(metrics.SUCCEEDED)
        elif settled is not None and state is DeliveryState.FAILED:
            metrics.count(metrics.FAILED)
        return settled

    def _take_slot(self, delivery: Delivery, batch: Batch) -> Slot:
        """A slot in the rate limit of the connector the delivery's action calls (UNLIMITED without
        one, or when the configuration cannot be read: the attempt then reports that, with no call).

        Raises DependencyFailure when the limits table cannot be reached (the record is retried)."""
        if self.pacer is None:
            return UNLIMITED
        try:
            action = batch.config.action(delivery.tenant_id, delivery.action)
            connector = batch.config.connector(delivery.tenant_id, action.connector)
        except (*_PERMANENT_CONFIG_ERRORS, DependencyFailure):
            return UNLIMITED
        return self.pacer.take(delivery.tenant_id, connector)

    def _give_back(self, slot: Slot | None) -> None:
        if slot is not None and self.pacer is not None:
            self.pacer.give_back(slot)

    def _pace(self, delivery: Delivery, refused: Slot) -> Step:
        """Put the delivery back on the queue until its connector's window has room: no attempt is
        claimed or recorded, the message starts the same attempt later."""
        metrics.count(metrics.PACED)
        logger.info(
            "delivery paced: its connector's rate limit is reached",
            extra={**_ids(delivery), "wait_seconds": refused.wait_seconds},
        )
        self._send(delivery, delivery.attempts + 1, refused.wait_seconds, "paced")
        return Step.PACED

    def _postpone_if_late(self, delivery: Delivery, batch: Batch) -> Step | None:
        return None if batch.enough_time(self.attempt_time_seconds) else self._postpone(delivery)

    def _postpone(self, delivery: Delivery) -> Step:
        """Put the delivery back on the queue to start its next attempt shortly, in another invocation."""
        logger.info("delivery postponed: too little time left to start it", extra=_ids(delivery))
        self._send(delivery, delivery.attempts + 1, POSTPONE_DELAY_SECONDS, "postponed")
        return Step.POSTPONED

    def _fail_unstorable(self, fresh: Delivery, too_large: DeliveryTooLarge) -> Step:
        """Record the delivery FAILED without its copy of the event, which DynamoDB cannot hold."""
        failed = fresh.with_changes(
            state=DeliveryState.FAILED,
            envelope=None,
            last_outcome=AttemptOutcome.PERMANENT.value,
            last_error=str(too_large),
        )
        if not self.deliveries.create(failed):
            return Step.STALE  # recorded by an earlier copy of this message
        metrics.count(metrics.FAILED)
        logger.warning(
            "delivery failed", extra={**_ids(failed), "delivery_state": "FAILED", "error": failed.last_error}
        )
        return Step.FAILED

    def _send(self, delivery: Delivery, attempt: int, wait: float, reason: str) -> None:
        message = DeliveryMessage(delivery.delivery_id, delivery.tenant_id, attempt, reason)
        self.queue.send(
            message.to_body(),
            {"messageType": {"DataType": "String", "StringValue": DELIVERY_MESSAGE_KIND}},
            sqs_delay_seconds(wait),
        )


def _ids(delivery: Delivery) -> dict[str, Any]:
    return {
        "delivery_id": delivery.delivery_id,
        "tenant_id": delivery.tenant_id,
        "event_id": delivery.event_id,
        "rule": delivery.rule_name,
        "action": delivery.action,
    }


def _config_error(exc: Exception) -> str:
    message = getattr(exc, "message", None)
    return str(message) if isinstance(message, str) else str(exc)


def _since_received(delivery: Delivery, now: float) -> float | None:
    envelope = delivery.envelope
    if envelope is None:
        return None
    try:
        received = datetime.fromisoformat(envelope.receivedAt.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None
    return now - received
