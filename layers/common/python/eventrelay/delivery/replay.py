"""Finding deliveries by filter, and replaying them.

A replay starts a new **round** of an existing delivery: the delivery goes back to PENDING with a
fresh budget of 1 + the action's *current* max retries, and a message on the events queue makes
the runner attempt it now, with the current rule, action and connector configuration. Attempts of
a replay are numbered on from the earlier ones and carry the round (`replay: true`); the outbound
`Idempotency-Key` changes with the round, so the target does not drop the replay as a duplicate.

Replayable: SUCCEEDED and FAILED deliveries, and *stalled* ones (PENDING or RETRYING, no attempt
running, overdue by more than `stall_after_seconds`: their message was lost). A delivery with an
attempt running or a retry scheduled is on its way already and is not replayed.

A delivery left in flight by a runner that stopped, whose lease has expired, is not running: a
replay of it sends the message a returning queue message would be, and the runner records the
interrupted attempt ABANDONED (or keeps its recorded outcome) and carries on in the same round.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from eventrelay.actions import Action, ActionNotFound
from eventrelay.clock import Clock, iso_utc, system_clock
from eventrelay.delivery import metrics
from eventrelay.delivery.models import DELIVERY_MESSAGE_KIND, Delivery, DeliveryMessage, DeliveryState
from eventrelay.delivery.runner import Queue
from eventrelay.delivery.store import DeliveryStore
from eventrelay.errors import ResourceNotFound

DEFAULT_STALL_AFTER_SECONDS = 15 * 60


class ActionLookup(Protocol):
    def get(self, tenant_id: str, name: str) -> Action: ...


class DeliveryNotFound(ResourceNotFound):
    def __init__(self, delivery_id: str) -> None:
        self.delivery_id = delivery_id
        super().__init__(f"delivery {delivery_id} not found")


class NotReplayable(Exception):
    def __init__(self, delivery_id: str, reason: str) -> None:
        self.delivery_id = delivery_id
        self.reason = reason
        super().__init__(f"delivery {delivery_id} cannot be replayed: {reason}")


@dataclass(frozen=True)
class DeliveryFilter:
    """Which deliveries of one tenant. `since`/`until` bound the creation time (epoch seconds)."""

    tenant_id: str
    state: DeliveryState | None = None
    action: str | None = None
    rule: str | None = None
    event_id: str | None = None
    since: float | None = None
    until: float | None = None

    def matches(self, delivery: Delivery) -> bool:
        return (
            delivery.tenant_id == self.tenant_id
            and (self.state is None or delivery.state is self.state)
            and (self.action is None or delivery.action == self.action)
            and (self.rule is None or delivery.rule_name == self.rule)
            and (self.event_id is None or delivery.event_id == self.event_id)
            and (self.since is None or delivery.created_at >= self.since)
            and (self.until is None or delivery.created_at <= self.until)
        )


def find_deliveries(store: DeliveryStore, where: DeliveryFilter) -> Iterator[Delivery]:
    """Deliveries matching the filter, newest first (by event: in rule order), from the best index."""
    if where.event_id is not None:
        found = store.list_by_event(where.tenant_id, where.event_id)
    elif where.state is not None:
        found = store.list_by_state(where.tenant_id, where.state, since=where.since, until=where.until)
    else:
        found = store.list_by_tenant(where.tenant_id, since=where.since, until=where.until)
    return (delivery for delivery in found if where.matches(delivery))


@dataclass
class ReplayReport:
    matched: int = 0
    replayed: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)


class ReplayService:
    def __init__(
        self,
        store: DeliveryStore,
        actions: ActionLookup,
        queue: Queue,
        clock: Clock = system_clock,
        stall_after_seconds: float = DEFAULT_STALL_AFTER_SECONDS,
    ) -> None:
        self._store = store
        self._actions = actions
        self._queue = queue
        self._clock = clock
        self._stall_after = stall_after_seconds

    def why_not_replayable(self, delivery: Delivery) -> str | None:
        """None when the delivery may be replayed now, else the reason."""
        if delivery.in_flight:
            # Listings carry no lease (the indexes do not project it): running, until read by id.
            lease_until = delivery.lease_until
            if lease_until is None or lease_until > self._clock():
                return "an attempt is running"
            return None  # its runner stopped: the runner recovers it
        if delivery.state.finished:
            return None
        if delivery.next_attempt_at + self._stall_after < self._clock():
            return None  # stalled: its message was lost
        return f"it is {delivery.state.value}, next attempt at {iso_utc(delivery.next_attempt_at)}"

    def candidates(self, where: DeliveryFilter) -> list[Delivery]:
        """The deliveries a bulk replay with this filter would replay (what a dry run counts)."""
        found = (
            self._store.get(d.delivery_id) if d.in_flight else d for d in find_deliveries(self._store, where)
        )
        return [d for d in found if d is not None and self.why_not_replayable(d) is None]

    def replay(self, tenant_id: str, delivery_id: str) -> Delivery:
        """Replay one delivery; DeliveryNotFound or NotReplayable (with the reason) if it cannot be."""
        delivery = self._store.get(delivery_id)
        if delivery is None or delivery.tenant_id != tenant_id:
            raise DeliveryNotFound(delivery_id)
        reason = self.why_not_replayable(delivery)
        if reason is not None:
            raise NotReplayable(delivery_id, reason)
        if delivery.in_flight:
            self._send(DeliveryMessage(delivery_id, tenant_id, delivery.attempts, "recover"))
            return delivery
        try:
            action = self._actions.get(tenant_id, delivery.action)
        except ActionNotFound:
            raise NotReplayable(delivery_id, f"action '{delivery.action}' no longer exists") from None
        reopened = self._store.reopen(delivery, delivery.attempts + 1 + action.max_retries)
        if reopened is None:
            raise NotReplayable(delivery_id, "it changed meanwhile; look at it again")
        try:
            self._send(DeliveryMessage(delivery_id, tenant_id, reopened.attempts + 1, "replay"))
        except BaseException:
            self._store.restore(reopened, delivery)
            raise
        metrics.count(metrics.REPLAYED)
        return reopened

    def _send(self, message: DeliveryMessage) -> None:
        self._queue.send(
            message.to_body(), {"messageType": {"DataType": "String", "StringValue": DELIVERY_MESSAGE_KIND}}
        )

    def replay_matching(
        self, where: DeliveryFilter, progress: Callable[[int, int], None] | None = None
    ) -> ReplayReport:
        """Replay every candidate of the filter; `progress(done, total)` after each one."""
        return self.replay_each(where.tenant_id, self.candidates(where), progress)

    def replay_each(
        self,
        tenant_id: str,
        candidates: Sequence[Delivery],
        progress: Callable[[int, int], None] | None = None,
    ) -> ReplayReport:
        """Replay the given deliveries (e.g. the candidates a dry run counted); skips are reported."""
        report = ReplayReport(matched=len(candidates))
        for done, delivery in enumerate(candidates, start=1):
            try:
                self.replay(tenant_id, delivery.delivery_id)
                report.replayed.append(delivery.delivery_id)
            except (NotReplayable, DeliveryNotFound) as exc:
                report.skipped.append((delivery.delivery_id, getattr(exc, "reason", "not found")))
            if progress is not None:
                progress(done, len(candidates))
        return report
