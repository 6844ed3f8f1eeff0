"""The dataset expander: turns a dataset file into one delivery per row, one page at a time.

Messages on its queue:
- an S3 notification (ObjectCreated) for `tenants/<tenantId>/rules/<rule>/<name>` in the stack's
  datasets bucket: a run of that rule starts on that object version;
- a start message (`StartMessage`, sent by the action runner for a System Asset Event a dataset
  rule subscribes to): the same, for the file the event names, if its bucket is allowed;
- a page message (`PageMessage`): read the next page of a run.

A page is at most `page_rows` rows read from the run's recorded position (an S3 ranged GET of the
same object version). Each row is checked (a valid row, within `MAX_ROWS_PER_RUN`), filtered by
the rule's condition, rendered against the action (a value that does not fit is an invalid row,
reported with its line), and sent as one message to the dataset deliveries queue; its delivery id
derives from (run, row). Then the page's counts and end position are recorded, conditional on
the run still standing where the page started, and a page message for the next page is sent to
this queue. So an invocation does a bounded amount of work whatever the file's size, a crash
anywhere repeats at most one page (its rows' deliveries are the same ids: the runner creates
each once), and runs of different tenants take turns on the queue.

A message that finds its run already past its position (a page recorded, then the continuation
lost to a crash) sends the continuation again; two continuations of one run race harmlessly,
as only one can record each page.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import unquote_plus

from eventrelay.actions import Action, ActionNotFound
from eventrelay.clock import Clock, iso_utc, system_clock
from eventrelay.datasets.files import DatasetFiles, FileProblem
from eventrelay.datasets.metrics import run_finished
from eventrelay.datasets.models import (
    DATASET_EVENT_NAME,
    DATASET_EVENT_VERSION,
    DATASET_PAGE_KIND,
    DATASET_ROW_KIND,
    DATASET_START_KIND,
    MAX_REASON_CHARS,
    MAX_ROWS_PER_RUN,
    UPLOAD_KEY,
    DatasetObject,
    PageMessage,
    RowError,
    Run,
    RunState,
    StartMessage,
    dataset_delivery_id,
    run_id_for,
)
from eventrelay.datasets.reader import DatasetReader, DatasetUnreadable, Position, RowRead
from eventrelay.datasets.store import RunStore
from eventrelay.envelopes import EventEnvelope
from eventrelay.observability import logger
from eventrelay.rules import MappingError, Rule, RuleNotFound, evaluate, render_request

DEFAULT_PAGE_ROWS = 500


class RuleLookup(Protocol):
    def get(self, tenant_id: str, name: str) -> Rule: ...


class ActionLookup(Protocol):
    def get(self, tenant_id: str, name: str) -> Action: ...


class RowQueue(Protocol):
    """The dataset deliveries queue (`envelopes.MessageQueue` fits)."""

    def send_bodies(self, bodies: list[str], attributes: dict[str, Any] | None = None) -> None: ...


class PageQueue(Protocol):
    """The expander's own queue (`envelopes.MessageQueue` fits)."""

    def send(self, body: str, attributes: dict[str, Any] | None = None, delay_seconds: int = 0) -> None: ...


@dataclass
class PageReport:
    """What handling one message did (for logs and tests)."""

    run_id: str | None = None
    rows: int = 0
    queued: int = 0
    recorded: bool = False
    file_read: bool = False
    finished: RunState | None = None


@dataclass
class _Page:
    counts: dict[str, int] = field(
        default_factory=lambda: {"rows": 0, "skipped": 0, "invalid": 0, "queued": 0, "pending": 0}
    )
    errors: list[RowError] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)

    def invalid(self, row: RowRead, reason: str) -> None:
        self.counts["invalid"] += 1
        self.errors.append(RowError(row.line, row.number, reason[:MAX_REASON_CHARS]))


@dataclass
class DatasetExpander:
    runs: RunStore
    files: DatasetFiles
    rules: RuleLookup
    actions: ActionLookup
    rows_queue: RowQueue
    pages_queue: PageQueue
    stack_bucket: str
    allowed_buckets: frozenset[str] = frozenset()
    clock: Clock = system_clock
    page_rows: int = DEFAULT_PAGE_ROWS

    # ---- messages

    def handle_message(self, body: str) -> list[PageReport]:
        data = json.loads(body)
        if not isinstance(data, dict):
            raise ValueError("a dataset message must be a JSON object")
        kind = data.get("kind")
        if kind == DATASET_PAGE_KIND:
            message = PageMessage.from_dict(data)
            return [self.continue_run(message.run_id, message.position)]
        if kind == DATASET_START_KIND:
            return [self.start_from_event(StartMessage.from_dict(data))]
        if "Records" in data:
            return [report for report in self._notified(data["Records"]) if report is not None]
        logger.info("message ignored (not a dataset message)", extra={"event": str(data.get("Event", ""))})
        return []

    def _notified(self, records: list[dict[str, Any]]) -> Iterator[PageReport | None]:
        for record in records:
            s3 = record.get("s3") or {}
            if not str(record.get("eventName", "")).startswith("ObjectCreated"):
                continue
            bucket = str(s3.get("bucket", {}).get("name", ""))
            stored = s3.get("object", {})
            key = unquote_plus(str(stored.get("key", "")))  # S3 notifications URL-encode keys
            yield self.start_from_upload(
                DatasetObject(
                    bucket,
                    key,
                    str(stored.get("versionId") or stored.get("eTag", "")).strip('"'),
                    int(stored.get("size", 0)),
                    stored.get("versionId"),
                )
            )

    # ---- starts

    def start_from_upload(self, dataset: DatasetObject) -> PageReport | None:
        """An object created in the datasets bucket: a run if its key names a tenant and a rule."""
        matched = UPLOAD_KEY.match(dataset.key)
        if dataset.bucket != self.stack_bucket or matched is None:
            logger.info(
                "object ignored (not under tenants/<tenantId>/rules/<rule>/)", extra={"key": dataset.key}
            )
            return None
        return self._start(matched["tenant"], matched["rule"], dataset, "upload", None)

    def start_from_event(self, message: StartMessage) -> PageReport:
        """A System Asset Event named a file for a dataset rule: a run, if the bucket is allowed."""
        problem = self._bucket_problem(message)
        dataset = DatasetObject(message.bucket, message.key, f"event:{message.event_id}", 0)
        if problem is None:
            try:
                dataset = self.files.head(message.bucket, message.key)
            except FileProblem as exc:
                problem = str(exc)
        return self._start(message.tenant_id, message.rule_name, dataset, "event", message.event_id, problem)

    def start(self, tenant_id: str, rule_name: str, dataset: DatasetObject, started_by: str) -> PageReport:
        """Start (or find) the run of `rule_name` on `dataset` (the admin service's upload path)."""
        return self._start(tenant_id, rule_name, dataset, started_by, None)

    def _bucket_problem(self, message: StartMessage) -> str | None:
        if message.bucket == self.stack_bucket:
            if not message.key.startswith(f"tenants/{message.tenant_id}/"):
                return f"a file in the stack's datasets bucket must be under tenants/{message.tenant_id}/"
            return None
        if message.bucket in self.allowed_buckets:
            return None
        return f"bucket {message.bucket} is not allowed (the stack's AllowedDatasetBuckets parameter)"

    def _start(
        self,
        tenant_id: str,
        rule_name: str,
        dataset: DatasetObject,
        started_by: str,
        event_id: str | None,
        problem: str | None = None,
    ) -> PageReport:
        now = self.clock()
        run = Run(
            run_id=run_id_for(tenant_id, rule_name, dataset.bucket, dataset.key, dataset.version),
            tenant_id=tenant_id,
            rule_name=rule_name,
            bucket=dataset.bucket,
            key=dataset.key,
            version=dataset.version,
            version_id=dataset.version_id,
            size=dataset.size,
            format=dataset.format,
            started_by=started_by,
            state=RunState.ACCEPTED,
            created_at=now,
            updated_at=now,
            event_id=event_id,
        )
        if not self.runs.create(run):
            logger.info("run exists already (notified again)", extra={"run_id": run.run_id})
            return self.continue_run(run.run_id, Position())
        logger.info(
            "run accepted",
            extra={"run_id": run.run_id, "tenant_id": tenant_id, "rule": rule_name, "key": dataset.key},
        )
        problem = problem or self._rule_problem(tenant_id, rule_name)
        if problem is not None:
            return self._fail(run, problem)
        return self._page(run)

    def _rule_problem(self, tenant_id: str, rule_name: str) -> str | None:
        try:
            rule = self.rules.get(tenant_id, rule_name)
        except RuleNotFound:
            return f"rule '{rule_name}' not found for tenant {tenant_id}"
        if not rule.is_dataset:
            return f"rule '{rule_name}' is not a dataset rule"
        if not rule.enabled:
            return f"rule '{rule_name}' is disabled"
        return None

    # ---- pages

    def continue_run(self, run_id: str, position: Position) -> PageReport:
        run = self.runs.get(run_id)
        if run is None:
            logger.warning("page message for an unknown run", extra={"run_id": run_id})
            return PageReport(run_id)
        if run.expanded:
            return PageReport(run_id, file_read=True, finished=self._finish(run_id))
        if position != run.position:
            if position.rows < run.position.rows:
                # This page was recorded and its continuation may have been lost: send it again.
                self.pages_queue.send(PageMessage(run_id, run.position).to_body())
            return PageReport(run_id)
        return self._page(run)

    def _page(self, run: Run) -> PageReport:
        problem = self._rule_problem(run.tenant_id, run.rule_name)
        if problem is not None:
            return self._fail(run, problem)
        rule = self.rules.get(run.tenant_id, run.rule_name)
        try:
            action = self.actions.get(run.tenant_id, rule.action)
        except ActionNotFound:
            return self._fail(run, f"action '{rule.action}' not found for tenant {run.tenant_id}")
        dataset = DatasetObject(run.bucket, run.key, run.version, run.size, run.version_id)
        try:
            reader = DatasetReader(
                self.files.open(dataset, run.position.offset), run.format, run.position, run.columns
            )
            page = _Page()
            read = 0
            for row in reader:
                read += 1
                page.counts["rows"] += 1
                self._classify(run, rule, action, row, page)
                if read >= self.page_rows:
                    break
            end = reader.position
        except (FileProblem, DatasetUnreadable) as exc:
            return self._fail(run, str(exc))
        file_read = read < self.page_rows
        if page.messages:
            # Their calls start now, before this page is recorded: the run says RUNNING from here.
            self.runs.mark_running(run)
            self.rows_queue.send_bodies(page.messages)
        recorded = self.runs.record_page(
            run,
            end,
            counts=page.counts,
            errors=page.errors,
            columns=reader.columns if run.columns is None else None,
            file_read=file_read,
        )
        report = PageReport(run.run_id, read, page.counts["queued"], recorded is not None, file_read)
        if recorded is None:
            logger.info("page recorded by another message", extra={"run_id": run.run_id})
            return report
        logger.info(
            "page expanded",
            extra={
                "run_id": run.run_id,
                "rows": read,
                "queued": page.counts["queued"],
                "file_read": file_read,
            },
        )
        if file_read:
            report.finished = self._finish(run.run_id)
        else:
            self.pages_queue.send(PageMessage(run.run_id, end).to_body())
        return report

    def _classify(self, run: Run, rule: Rule, action: Action, row: RowRead, page: _Page) -> None:
        if row.error is not None or row.values is None:
            page.invalid(row, row.error or "not a valid row")
            return
        if row.number > MAX_ROWS_PER_RUN:
            page.invalid(row, f"beyond the cap of {MAX_ROWS_PER_RUN} rows per run")
            return
        if not evaluate(rule.condition, row.values):
            page.counts["skipped"] += 1
            return
        try:
            render_request(rule, action, row.values)
        except MappingError as exc:
            page.invalid(row, str(exc))
            return
        envelope = EventEnvelope(
            eventId=run.run_id,
            tenantId=run.tenant_id,
            eventName=DATASET_EVENT_NAME,
            eventVersion=DATASET_EVENT_VERSION,
            receivedAt=iso_utc(run.created_at),
            requestId=f"{run.run_id}:row-{row.number}:line-{row.line}",
            payload=row.values,
            source="dataset",
            jobId=run.run_id,
        )
        too_large = envelope.storage_problem()
        if too_large is not None:
            page.invalid(row, f"the row is too large: {too_large}")
            return
        page.counts["queued"] += 1
        page.counts["pending"] += 1
        page.messages.append(
            json.dumps(
                {
                    "kind": DATASET_ROW_KIND,
                    "deliveryId": dataset_delivery_id(run.tenant_id, run.run_id, row.number),
                    "rule": rule.name,
                    "action": rule.action,
                    "row": row.number,
                    "line": row.line,
                    "envelope": {**envelope.header_fields(), "payload": envelope.payload},
                },
                ensure_ascii=False,
                separators=(",", ":"),
            )
        )

    def _fail(self, run: Run, reason: str) -> PageReport:
        logger.warning("run failed", extra={"run_id": run.run_id, "reason": reason})
        self.runs.fail(run, reason)
        return PageReport(run.run_id, file_read=True, finished=self._finish(run.run_id))

    def _finish(self, run_id: str) -> RunState | None:
        finished = self.runs.finish(run_id)
        if finished is None:
            return None
        run_finished(finished)
        return finished.state
