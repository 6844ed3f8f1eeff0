"""Runs in the deliveries table, next to the deliveries of their rows.

Items: a run is `pk = "RUN#<runId>"`, `sk = "RUN"`, listed per tenant through the `byTenant`
index under `tenantPk = "RUNS#<tenantId>"` (tenant ids hold no `#`, so runs never mix with the
tenant's deliveries), newest first. It expires with the deliveries' retention after its last write.

Every write is conditional, so a message handled twice changes nothing twice:
- a page is recorded only if the run still stands where the page started (`offset`, `rowsRead`);
- a row's finish is counted in one transaction with a mark on its delivery item (`runCounted`,
  the state counted): a second count of the same state is refused; a replayed row that ends in the
  other state moves its count (failed -1, delivered +1);
- the run ends (`finish`) only when its file is read and no row is pending.
"""

from __future__ import annotations

import builtins
import contextlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from eventrelay.clock import Clock, iso_utc, system_clock
from eventrelay.datasets.models import MAX_ROW_ERRORS, RowError, Run, RunState
from eventrelay.datasets.reader import DatasetFormat, Position
from eventrelay.delivery.store import DEFAULT_RETENTION_SECONDS, DELIVERY_SK, delivery_pk
from eventrelay.dynamodb import ConditionFailed, Expression, Item, Table, Update

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

RUN_SK = "RUN"
BY_TENANT = "byTenant"
COUNTED = "runCounted"
_COUNTER = {"SUCCEEDED": "delivered", "FAILED": "failed"}


def run_key(run_id: str) -> dict[str, str]:
    return {"pk": f"RUN#{run_id}", "sk": RUN_SK}


def runs_pk(tenant_id: str) -> str:
    return f"RUNS#{tenant_id}"


class RunStore:
    def __init__(
        self,
        table_name: str,
        dynamodb_client: DynamoDBClient,
        clock: Clock = system_clock,
        retention_seconds: int = DEFAULT_RETENTION_SECONDS,
    ) -> None:
        self._table = Table(table_name, dynamodb_client)
        self._clock = clock
        self._retention = retention_seconds

    # ---- reads

    def get(self, run_id: str) -> Run | None:
        item = self._table.get(run_key(run_id), consistent=True)
        return _run(item) if item is not None else None

    def list(self, tenant_id: str, limit: int = 50) -> builtins.list[Run]:
        """The tenant's latest runs, newest first."""
        of_tenant = Expression()
        of_tenant.key(of_tenant.equals("tenantPk", runs_pk(tenant_id)))
        runs: builtins.list[Run] = []
        for entry in self._table.query(of_tenant, index=BY_TENANT, newest_first=True):
            run = self.get(str(entry["pk"]).removeprefix("RUN#"))  # the index projects few attributes
            if run is not None:
                runs.append(run)
            if len(runs) >= limit:
                break
        return runs

    # ---- writes

    def create(self, run: Run) -> bool:
        """Save a new run; False when it exists (the same object notified again)."""
        new = Expression()
        try:
            self._table.put(self._item(run), new.require(new.missing("pk")))
        except ConditionFailed:
            return False
        return True

    def mark_running(self, run: Run) -> None:
        """ACCEPTED -> RUNNING as the run's first rows are queued (their calls may start before the
        first page is recorded). One write per run; none once the run has moved on."""
        if run.state is not RunState.ACCEPTED:
            return
        now = self._clock()
        start = Expression()
        start.set("state", RunState.RUNNING.value).set("updatedAt", now)
        start.require(start.equals("state", RunState.ACCEPTED.value))
        with contextlib.suppress(ConditionFailed):  # another copy of the message marked it first
            self._table.update(run_key(run.run_id), start)

    def record_page(
        self,
        run: Run,
        end: Position,
        *,
        counts: dict[str, int],
        errors: Sequence[RowError],
        columns: Sequence[str] | None,
        file_read: bool,
    ) -> Run | None:
        """Add one page's counts and move the run to `end`; None when the page was recorded already."""
        now = self._clock()
        room = max(0, MAX_ROW_ERRORS - len(run.errors))
        kept, omitted = tuple(errors[:room]), max(0, len(errors) - room)
        page = Expression()
        page.set("offset", end.offset).set("line", end.line).set("rowsRead", end.rows)
        page.set("updatedAt", now).set("expiresAt", self._expires(now))
        if run.state is RunState.ACCEPTED:
            page.set("state", RunState.RUNNING.value)
        if columns is not None:
            page.set("columns", list(columns))
        if kept:
            page.set("errors", [error.to_dict() for error in (*run.errors, *kept)])
        if file_read:
            page.set("expanded", True)
        for counter, amount in {**counts, "errorsOmitted": omitted}.items():
            if amount:
                page.add(counter, amount)
        page.require(
            page.equals("offset", run.position.offset),
            page.equals("rowsRead", run.position.rows),
            page.equals("expanded", False),
        )
        try:
            item = self._table.update(run_key(run.run_id), page, returns="ALL_NEW")
        except ConditionFailed:
            return None
        return _run(item)

    def fail(self, run: Run, reason: str) -> Run | None:
        """The file cannot be read (further): no more pages; the run ends FAILED once rows settle."""
        now = self._clock()
        stop = Expression()
        stop.set("reason", reason[:1000]).set("expanded", True).set("updatedAt", now)
        stop.set("expiresAt", self._expires(now))
        if run.state is RunState.ACCEPTED:
            stop.set("state", RunState.RUNNING.value)
        stop.require(stop.exists("pk"), stop.equals("expanded", False))
        try:
            return _run(self._table.update(run_key(run.run_id), stop, returns="ALL_NEW"))
        except ConditionFailed:
            return None

    def row_finished(self, delivery_id: str, run_id: str, state: str) -> bool:
        """Count the finish of a row's delivery in `state` (SUCCEEDED or FAILED) once; True if counted now."""
        counter = _COUNTER.get(state)
        if counter is None:
            return False
        now = self._clock()
        first = Expression()
        first.set(COUNTED, state).require(first.exists("pk"), first.missing(COUNTED))
        counts = Expression()
        counts.add(counter, 1).add("pending", -1).set("updatedAt", now).require(counts.exists("pk"))
        try:
            self._table.transact_write(
                [
                    Update({"pk": delivery_pk(delivery_id), "sk": DELIVERY_SK}, first),
                    Update(run_key(run_id), counts),
                ]
            )
            return True
        except ConditionFailed as refused:
            delivery = refused.items[0] if refused.items else refused.item
            previous = (delivery or {}).get(COUNTED)
        if previous is None or previous == state or previous not in _COUNTER:
            return False  # counted already, or the delivery or the run is gone
        moved = Expression()
        moved.set(COUNTED, state).require(moved.equals(COUNTED, previous))
        recount = Expression()
        recount.add(counter, 1).add(_COUNTER[previous], -1).set("updatedAt", now)
        recount.require(recount.exists("pk"))
        try:
            self._table.transact_write(
                [
                    Update({"pk": delivery_pk(delivery_id), "sk": DELIVERY_SK}, moved),
                    Update(run_key(run_id), recount),
                ]
            )
        except ConditionFailed:
            return False
        return True

    def finish(self, run_id: str) -> Run | None:
        """End the run if its file is read and no row is pending; the ended run, else None."""
        run = self.get(run_id)
        if run is None or not run.expanded or run.pending != 0:
            return None
        final = run.final_state()
        if run.state is final:
            return None
        now = self._clock()
        end = Expression()
        end.set("state", final.value).set("finishedAt", now).set("updatedAt", now)
        end.set("expiresAt", self._expires(now))
        end.require(
            end.equals("expanded", True), end.equals("pending", 0), end.equals("state", run.state.value)
        )
        try:
            return _run(self._table.update(run_key(run_id), end, returns="ALL_NEW"))
        except ConditionFailed:
            return None  # another writer ended it, or a replay made a row pending again

    # ---- items

    def _expires(self, now: float) -> int:
        return int(now) + self._retention

    def _item(self, run: Run) -> Item:
        item: Item = {
            **run_key(run.run_id),
            "kind": "RUN",
            "runId": run.run_id,
            "tenantId": run.tenant_id,
            "tenantPk": runs_pk(run.tenant_id),
            "tenantSk": f"{iso_utc(run.created_at)}#{run.run_id}",
            "ruleName": run.rule_name,
            "bucket": run.bucket,
            "key": run.key,
            "version": run.version,
            "size": run.size,
            "format": run.format.value,
            "startedBy": run.started_by,
            "state": run.state.value,
            "createdAt": run.created_at,
            "updatedAt": run.updated_at,
            "offset": run.position.offset,
            "line": run.position.line,
            "rowsRead": run.position.rows,
            "expanded": run.expanded,
            "pending": run.pending,
            "expiresAt": self._expires(run.updated_at),
        }
        optional = {"versionId": run.version_id, "eventId": run.event_id, "reason": run.reason}
        item.update({name: value for name, value in optional.items() if value is not None})
        return item


def _run(item: Item) -> Run:
    def number(name: str) -> int:
        return int(item.get(name, 0))

    columns: Any = item.get("columns")
    return Run(
        run_id=str(item["runId"]),
        tenant_id=str(item["tenantId"]),
        rule_name=str(item["ruleName"]),
        bucket=str(item["bucket"]),
        key=str(item["key"]),
        version=str(item["version"]),
        version_id=item.get("versionId"),
        size=number("size"),
        format=DatasetFormat(item["format"]),
        started_by=str(item["startedBy"]),
        state=RunState(item["state"]),
        created_at=float(item["createdAt"]),
        updated_at=float(item["updatedAt"]),
        event_id=item.get("eventId"),
        rows=number("rows"),
        skipped=number("skipped"),
        invalid=number("invalid"),
        queued=number("queued"),
        delivered=number("delivered"),
        failed=number("failed"),
        pending=number("pending"),
        position=Position(number("offset"), number("line") or 1, number("rowsRead")),
        columns=tuple(columns) if columns is not None else None,
        expanded=bool(item.get("expanded", False)),
        errors=tuple(RowError.from_dict(error) for error in item.get("errors", [])),
        errors_omitted=number("errorsOmitted"),
        reason=item.get("reason"),
        finished_at=float(item["finishedAt"]) if item.get("finishedAt") is not None else None,
    )
