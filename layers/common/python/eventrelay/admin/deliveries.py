"""Deliveries: list (filters, cursor), show with attempts, replay one or by filter (dry run: count)."""

from __future__ import annotations

import base64
import binascii
import builtins
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from eventrelay.admin.audit import Auditor
from eventrelay.admin.errors import DeliveriesNotDeployed, DeliveryNotReplayable, InvalidDeliveryQuery
from eventrelay.admin.views import DeliveryDetail, DeliveryPage
from eventrelay.delivery.models import Delivery, DeliveryState
from eventrelay.delivery.replay import (
    DeliveryFilter,
    DeliveryNotFound,
    NotReplayable,
    ReplayReport,
    ReplayService,
    find_deliveries,
)
from eventrelay.delivery.store import DeliveryStore

MAX_PAGE = 1000


@dataclass(frozen=True)
class DeliveryQuery:
    """Which deliveries of a tenant; `since`/`until` bound their creation time (epoch seconds)."""

    state: DeliveryState | None = None
    action: str | None = None
    rule: str | None = None
    event_id: str | None = None
    since: float | None = None
    until: float | None = None

    def filter(self, tenant_id: str, *, until: float | None = None) -> DeliveryFilter:
        bounds = [value for value in (self.until, until) if value is not None]
        return DeliveryFilter(
            tenant_id=tenant_id,
            state=self.state,
            action=self.action,
            rule=self.rule,
            event_id=self.event_id,
            since=self.since,
            until=min(bounds) if bounds else None,
        )


@dataclass(frozen=True)
class _Cursor:
    created_at: float
    delivery_id: str

    def encode(self) -> str:
        text = json.dumps({"c": self.created_at, "d": self.delivery_id}, separators=(",", ":"))
        return base64.urlsafe_b64encode(text.encode("utf-8")).decode("ascii")

    @classmethod
    def decode(cls, cursor: str) -> _Cursor:
        try:
            data = json.loads(base64.urlsafe_b64decode(cursor.encode("ascii")))
            return cls(float(data["c"]), str(data["d"]))
        except (binascii.Error, ValueError, KeyError, TypeError, UnicodeError):
            raise InvalidDeliveryQuery(["cursor: not a cursor this listing returned"]) from None


class DeliveryAdmin:
    def __init__(self, store: DeliveryStore | None, replay: ReplayService | None, auditor: Auditor) -> None:
        self._store_or_none = store
        self._replay_or_none = replay
        self._auditor = auditor

    @property
    def _store(self) -> DeliveryStore:
        if self._store_or_none is None:
            raise DeliveriesNotDeployed()
        return self._store_or_none

    @property
    def _replay(self) -> ReplayService:
        if self._replay_or_none is None:
            raise DeliveriesNotDeployed()
        return self._replay_or_none

    def list(
        self,
        tenant_id: str,
        query: DeliveryQuery | None = None,
        *,
        limit: int = 50,
        cursor: str | None = None,
    ) -> DeliveryPage:
        """A page of the tenant's deliveries, newest first (of one event: in rule order)."""
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidDeliveryQuery([f"limit: between 1 and {MAX_PAGE}"])
        query = query or DeliveryQuery()
        after = _Cursor.decode(cursor) if cursor is not None else None
        by_time = query.event_id is None
        until = after.created_at if after is not None and by_time else None
        found = find_deliveries(self._store, query.filter(tenant_id, until=until))
        page: list[Delivery] = []
        for delivery in _after(found, after, by_time=by_time):
            page.append(delivery)
            if len(page) > limit:
                break
        if len(page) <= limit:
            return DeliveryPage(page)
        last = page[limit - 1]
        return DeliveryPage(page[:limit], _Cursor(last.created_at, last.delivery_id).encode())

    def show(self, tenant_id: str, delivery_id: str) -> DeliveryDetail:
        """The delivery and every attempt; another tenant's delivery is not found."""
        delivery = self._owned(tenant_id, delivery_id)
        return DeliveryDetail(delivery, self._store.attempts(delivery.delivery_id))

    def why_not_replayable(self, tenant_id: str, delivery_id: str) -> str | None:
        """None when the delivery may be replayed now, else the reason (the dry run of `replay`)."""
        return self._replay.why_not_replayable(self._owned(tenant_id, delivery_id))

    def replay(self, tenant_id: str, delivery_id: str) -> Delivery:
        """Start a new round of the delivery; DeliveryNotReplayable says why it cannot."""
        try:
            replayed = self._replay.replay(tenant_id, delivery_id)
        except NotReplayable as exc:
            raise DeliveryNotReplayable(exc.delivery_id, exc.reason) from None
        self._auditor.record(tenant_id, "replayed", "delivery", delivery_id)
        return replayed

    def replay_candidates(
        self, tenant_id: str, query: DeliveryQuery | None = None
    ) -> builtins.list[Delivery]:
        """What a replay by filter would replay (a dry run counts these). No state: FAILED ones."""
        return self._replay.candidates(_bulk(query).filter(tenant_id))

    def replay_matching(
        self,
        tenant_id: str,
        query: DeliveryQuery | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> ReplayReport:
        """Replay every candidate of the query; `progress(done, total)` after each one."""
        report = self._replay.replay_each(tenant_id, self.replay_candidates(tenant_id, query), progress)
        for delivery_id in report.replayed:
            self._auditor.record(tenant_id, "replayed", "delivery", delivery_id)
        return report

    def _owned(self, tenant_id: str, delivery_id: str) -> Delivery:
        delivery = self._store.get(delivery_id)
        if delivery is None or delivery.tenant_id != tenant_id:
            raise DeliveryNotFound(delivery_id)
        return delivery


def _bulk(query: DeliveryQuery | None) -> DeliveryQuery:
    query = query or DeliveryQuery()
    if query.state is None:
        return DeliveryQuery(
            DeliveryState.FAILED, query.action, query.rule, query.event_id, query.since, query.until
        )
    return query


def _after(found: Iterator[Delivery], cursor: _Cursor | None, *, by_time: bool) -> Iterator[Delivery]:
    """The deliveries past the cursor: after its delivery, or (gone meanwhile) past its time."""
    if cursor is None:
        yield from found
        return
    passed = False
    for delivery in found:
        if passed:
            yield delivery
        elif delivery.delivery_id == cursor.delivery_id:
            passed = True
        elif by_time and delivery.created_at < cursor.created_at:
            passed = True
            yield delivery
