"""`make bench`, the runner's figures: a batch's wall time next to one call's latency, and its writes.

The real action runner handler (functions/action_runner/app.py) on the embedded AWS (DynamoDB
Local for tables), calling a target on 127.0.0.1 that answers after TARGET_SECONDS. The sides
alternate round by round in one run (one call through the outbound client alone, a batch of one
event through the handler, a batch of ten), so the machine's load swings hit them alike; the
figures are medians. Printed as one table (bench/report.py) and written to the `runner` section of
bench/results.json: the ratio of the batch of ten to one call (1x would be perfect overlap, 10x
sequential), the AWS calls each delivery costs, and its DynamoDB writes: requests, and write units
as DynamoDB Local counts them (`ReturnConsumedCapacity=INDEXES`: the item's KB, twice in a
transaction, plus each index entry).
Also this process's peak memory (max RSS) after the batches: the runner handler and the bench (the
emulators run in processes of their own), an upper bound for what a warm runner instance holds,
which the template's MemorySize is sized from.

Where a batch's time goes, as two more sides of each round:
- the batch of ten's timeline: from the handler's start to its first call, from its first call's
  start to its last one's (the ten claims, which start together and which DynamoDB Local answers
  one after another), and from the last call's end to the handler's end (its settlement);
- the same writes bare: ten threads each make the runner's own claim PutItem (its parameters as
  the runner sent them, for a new delivery), pause TARGET_SECONDS for the call, then make its
  settlement UpdateItem, through the same botocore client, with nothing else of the runner. That
  is the least a batch of ten can take on this emulator, whatever the runner does; the ratio of
  the batch to it is the runner's own share. The claim's latency alone and among ten is printed
  beside it: DynamoDB Local applies concurrent writes one at a time, where DynamoDB writes to
  different items in parallel.
"""

from __future__ import annotations

import contextlib
import copy
import io
import logging
import resource
import statistics
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from bench.report import BenchReport, Figure
from eventrelay.actions import ActionStore
from eventrelay.aws import dynamodb_client, secretsmanager_client, sqs_client
from eventrelay.clock import iso_utc
from eventrelay.connectors.models import ConnectorSpec
from eventrelay.envelopes import EventEnvelope
from eventrelay.observability import logger as function_logger
from eventrelay.outbound.client import OutboundClient
from eventrelay.outbound.request import OutboundRequest
from eventrelay.outbound.ssrf import SsrfGuard
from eventrelay.roots import AwsClients
from eventrelay.roots.connectors import build_connector_services
from eventrelay.roots.delivery import runner_root
from eventrelay.rules import RuleStore
from eventrelay_cli.local.environment import LocalAws
from eventrelay_cli.local.lambda_runtime import load_handler, make_context
from eventrelay_cli.local.sqs_event_source import sqs_event_of_bodies

REPO_ROOT = Path(__file__).resolve().parent.parent
TARGET_SECONDS = 0.2
ROUNDS = 9
BATCH = 10
RUNNER_QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:bench"
TENANT = "bench"
# The targets (issue 12).
BATCH_RATIO_TARGET = 1.5
WRITE_UNITS_TARGET = 6
WRITE_OPERATIONS = ("PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem")


class _Slow(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    wbufsize = 65536  # one write per response: no Nagle/delayed-ACK pause in the figures

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        time.sleep(TARGET_SECONDS)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: Any) -> None:
        return


class _TargetServer(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's backlog of 5 drops the SYNs of a batch's new connections arriving together
    # while the accept loop waits for the GIL: a 1 s retransmission would land in the figures.
    request_queue_size = 128


@contextlib.contextmanager
def _target() -> Iterator[str]:
    server = _TargetServer(("127.0.0.1", 0), _Slow)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _event(bodies: list[str]) -> dict[str, Any]:
    return sqs_event_of_bodies(bodies, RUNNER_QUEUE_ARN)


def _envelope(n: int) -> str:
    return EventEnvelope(
        eventId=str(uuid.uuid4()),
        tenantId=TENANT,
        eventName="OrderPlaced",
        eventVersion="v01",
        receivedAt=iso_utc(time.time()),
        requestId=f"bench-{n}",
        payload={"orderId": f"o-{n}", "total": 12.5},
    ).to_message_body()


@dataclass
class Tally:
    """AWS calls by operation, and the deliveries table's write requests and units."""

    calls: Counter[str] = field(default_factory=Counter)
    writes: int = 0
    write_units: float = 0.0


class Meter:
    """Counts what the clients send into the tally of the side being timed (none between sides)."""

    def __init__(self) -> None:
        self.tallies: dict[str, Tally] = {}
        self.side: str | None = None

    def attach(self, client: Any, *, count_writes: bool = False) -> None:
        client.meta.events.register("before-call", self._call)
        if count_writes:
            for operation in WRITE_OPERATIONS:
                client.meta.events.register(f"before-parameter-build.dynamodb.{operation}", self._ask)
                client.meta.events.register(f"after-call.dynamodb.{operation}", self._written)

    def tally(self, side: str) -> Tally:
        return self.tallies.setdefault(side, Tally())

    def _call(self, event_name: str, **_: Any) -> None:
        if self.side is not None:
            self.tally(self.side).calls[event_name.removeprefix("before-call.")] += 1

    @staticmethod
    def _ask(params: dict[str, Any], **_: Any) -> None:
        params["ReturnConsumedCapacity"] = "INDEXES"

    def _written(self, parsed: dict[str, Any], **_: Any) -> None:
        consumed = parsed.get("ConsumedCapacity")
        tables = consumed if isinstance(consumed, list) else [consumed] if consumed else []
        deliveries = [t for t in tables if str(t.get("TableName", "")).endswith("DeliveriesTable")]
        if self.side is not None and deliveries:
            tally = self.tally(self.side)
            tally.writes += 1
            tally.write_units += sum(float(t.get("CapacityUnits", 0)) for t in deliveries)


class DeliveryWrites:
    """The runner's own claim PutItem and settlement UpdateItem, captured as it sent them; `make`
    sends them bare (botocore alone) for a new delivery id."""

    def __init__(self) -> None:
        self.claim: dict[str, Any] | None = None
        self.settle: dict[str, Any] | None = None

    def attach(self, client: Any) -> None:
        client.meta.events.register("before-parameter-build.dynamodb.PutItem", self._claimed)
        client.meta.events.register("before-parameter-build.dynamodb.UpdateItem", self._settled)

    def _claimed(self, params: dict[str, Any], **_: Any) -> None:
        if self.claim is None and str(params.get("TableName", "")).endswith("DeliveriesTable"):
            self.claim = copy.deepcopy(params)

    def _settled(self, params: dict[str, Any], **_: Any) -> None:
        if self.settle is None and str(params.get("TableName", "")).endswith("DeliveriesTable"):
            self.settle = copy.deepcopy(params)

    def make(self, client: Any) -> float:
        """One delivery's writes with a pause for its call between them; the claim's latency."""
        if self.claim is None or self.settle is None:
            raise RuntimeError("no delivery was written yet: nothing to copy")
        key = {"S": f"DELIVERY#bench-bare-{uuid.uuid4().hex}"}
        claim, settle = copy.deepcopy(self.claim), copy.deepcopy(self.settle)
        claim.pop("ReturnConsumedCapacity", None)
        settle.pop("ReturnConsumedCapacity", None)
        claim["Item"]["pk"] = key
        settle["Key"]["pk"] = key
        started = time.perf_counter()
        client.put_item(**claim)
        claimed = time.perf_counter() - started
        time.sleep(TARGET_SECONDS)  # the call
        client.update_item(**settle)
        return claimed


@dataclass
class Timeline:
    """When each call of the batch being timed started and ended (perf_counter seconds)."""

    calls: list[tuple[float, float]] = field(default_factory=list)
    recording: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def watch(self, client: OutboundClient) -> None:
        send = client.send

        def timed(request: OutboundRequest, idempotency_key: str | None = None) -> Any:
            started = time.perf_counter()
            try:
                return send(request, idempotency_key)
            finally:
                if self.recording:
                    with self._lock:
                        self.calls.append((started, time.perf_counter()))

        client.send = timed  # type: ignore[method-assign]

    def phases(self, started: float, ended: float) -> tuple[float, float, float]:
        """To the first call's start, first to last call's start, last call's end to `ended`."""
        starts, ends = [call[0] for call in self.calls], [call[1] for call in self.calls]
        return min(starts) - started, max(starts) - min(starts), ended - max(ends)


def main() -> int:
    aws = LocalAws(
        template=REPO_ROOT / "template.yaml",
        stack_name="eventrelay-runner-bench",
        use_dynamodb_local=True,
        outbound_allow="127.0.0.0/8",
    )
    aws.start()
    try:
        aws.export()
        settings = aws.settings
        with _target() as target_url:
            dynamodb = dynamodb_client(settings.region)
            build_connector_services(settings, AwsClients.for_settings(settings)).store.create(
                TENANT, ConnectorSpec(name="target", base_url=target_url)
            )
            actions = ActionStore(settings.config_table, dynamodb)
            actions.create(
                TENANT,
                {
                    "connector": "target",
                    "name": "post-order",
                    "method": "POST",
                    "url": "/orders/{{orderId}}",
                    "payload": '{"order": "{{orderId}}", "total": {{total}}}',
                    "fields": [{"name": "total", "type": "Number"}],
                },
            )
            RuleStore(settings.config_table, dynamodb, actions).create(
                TENANT,
                {
                    "name": "orders",
                    "eventName": "OrderPlaced",
                    "eventVersion": "v01",
                    "action": "post-order",
                    "mapping": {"orderId": "$.orderId", "total": "$.total"},
                },
            )
            client = OutboundClient(SsrfGuard("127.0.0.0/8"))
            handler = load_handler(REPO_ROOT / "functions" / "action_runner")
            context = make_context("ActionRunnerFunction", 60)
            meter = Meter()
            writes, timeline = DeliveryWrites(), Timeline()
            writes.attach(dynamodb)
            one_call: list[float] = []
            single: list[float] = []
            batch: list[float] = []
            batch_cpu: list[float] = []  # this process's CPU (the target's thread only sleeps)
            phases: list[tuple[float, float, float]] = []
            bare_one: list[float] = []
            bare_ten: list[float] = []
            claim_alone: list[float] = []
            claims_among_ten: list[float] = []
            bare_threads = ThreadPoolExecutor(BATCH, thread_name_prefix="bare")
            output = io.StringIO()  # the handler's logs and EMF metrics go to stdout, as in Lambda
            # The Logger writes to the stdout of import time: here, into `output` as well, to count it.
            log_handler = function_logger.powertools.registered_handler
            assert isinstance(log_handler, logging.StreamHandler)
            log_handler.setStream(output)
            with contextlib.redirect_stdout(output):
                handler(_event([_envelope(-1)]), context)  # cold start, connections opened
                timeline.watch(runner_root().connectors.client)
                # Connections for a whole batch, to the target and to the emulator, opened once.
                handler(_event([_envelope(-2 - i) for i in range(BATCH)]), context)
                list(bare_threads.map(lambda _: writes.make(dynamodb), range(BATCH)))
                meter.attach(dynamodb, count_writes=True)
                meter.attach(sqs_client(settings.region))
                meter.attach(secretsmanager_client(settings.region))
                for n in range(ROUNDS):
                    started = time.perf_counter()
                    outcome = client.send(OutboundRequest("POST", f"{target_url}/orders/o-{n}", {}, b"{}"))
                    one_call.append(time.perf_counter() - started)
                    assert outcome.ok, outcome

                    meter.side = "single"
                    started = time.perf_counter()
                    response = handler(_event([_envelope(n)]), context)
                    single.append(time.perf_counter() - started)
                    assert response == {"batchItemFailures": []}, response

                    meter.side = "batch"
                    timeline.calls.clear()
                    timeline.recording = True
                    started, cpu_started = time.perf_counter(), time.process_time()
                    response = handler(_event([_envelope(n * BATCH + i) for i in range(BATCH)]), context)
                    ended = time.perf_counter()
                    batch.append(ended - started)
                    batch_cpu.append(time.process_time() - cpu_started)
                    timeline.recording = False
                    assert response == {"batchItemFailures": []}, response
                    assert len(timeline.calls) == BATCH, timeline.calls
                    phases.append(timeline.phases(started, ended))
                    meter.side = None

                    started = time.perf_counter()
                    claim_alone.append(writes.make(dynamodb))
                    bare_one.append(time.perf_counter() - started)

                    started = time.perf_counter()
                    claims_among_ten += bare_threads.map(lambda _: writes.make(dynamodb), range(BATCH))
                    bare_ten.append(time.perf_counter() - started)
            bare_threads.shutdown()
            client.close()
    finally:
        aws.stop()

    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    call, one, ten = statistics.median(one_call), statistics.median(single), statistics.median(batch)
    alone, in_batches = meter.tally("single"), meter.tally("batch")
    report = BenchReport(
        "runner",
        f"action runner (target answers after {TARGET_SECONDS * 1000:.0f} ms, DynamoDB Local; "
        f"{ROUNDS} rounds, sides alternating; medians)",
    )
    report.details.update(target_seconds=TARGET_SECONDS, rounds=ROUNDS, batch=BATCH)
    report.add("one call (outbound client alone)", call * 1000, "ms", samples=[t * 1000 for t in one_call])
    report.add(
        "batch of 1 via handler", one * 1000, "ms", note=f"runner bookkeeping {(one - call) * 1000:.1f} ms"
    )
    report.add(
        f"batch of {BATCH} via handler",
        ten * 1000,
        "ms",
        note=f"sequential would be >= {BATCH * call * 1000:.0f} ms",
        samples=[t * 1000 for t in batch],
    )
    report.ratio(
        f"batch of {BATCH} / one call",
        ten / call,
        at_most=BATCH_RATIO_TARGET,
        note=f"1x perfect overlap, {BATCH}x sequential",
    )
    to_first, spread, after_last = (statistics.median(phase) * 1000 for phase in zip(*phases, strict=True))
    report.add(
        f"batch of {BATCH}: start to its first call", to_first, "ms", note="configuration reads, first claim"
    )
    report.add(
        f"batch of {BATCH}: first to last call started",
        spread,
        "ms",
        note=f"the {BATCH} claims, sent together, answered one after another",
    )
    report.add(f"batch of {BATCH}: last call's end to the end", after_last, "ms", note="its settlement")
    floor_one, floor_ten = statistics.median(bare_one), statistics.median(bare_ten)
    report.add(
        "bare writes of 1 delivery",
        floor_one * 1000,
        "ms",
        note=f"claim PutItem, {TARGET_SECONDS * 1000:.0f} ms pause (the call), settle UpdateItem, bare",
    )
    report.add(
        f"bare writes of {BATCH} deliveries at once",
        floor_ten * 1000,
        "ms",
        note="the least a batch can take on this emulator",
        samples=[t * 1000 for t in bare_ten],
    )
    report.ratio(
        f"bare writes of {BATCH} / one call",
        floor_ten / call,
        note="the emulator's floor for the ratio above (no target: not the product)",
    )
    report.ratio(
        f"batch of {BATCH} / its bare writes",
        ten / floor_ten,
        note="the runner's own share (reads, CPU, logs, threads)",
    )
    report.add(
        "claim PutItem alone",
        statistics.median(claim_alone) * 1000,
        "ms",
        note="DynamoDB Local, one write at a time",
    )
    report.add(
        f"claim PutItem among {BATCH} at once",
        statistics.median(claims_among_ten) * 1000,
        "ms",
        note=f"median; slowest {max(claims_among_ten) * 1000:.0f} ms: DynamoDB Local applies them in turn",
    )
    by_operation = ", ".join(f"{name} {number / ROUNDS:g}" for name, number in sorted(alone.calls.items()))
    report.add(
        "AWS calls per delivery, alone", sum(alone.calls.values()) / ROUNDS, "calls", note=by_operation
    )
    report.add(
        f"AWS calls per delivery, batch of {BATCH}",
        sum(in_batches.calls.values()) / (ROUNDS * BATCH),
        "calls",
        note="configuration read once per batch",
    )
    report.add("DynamoDB writes per delivery", alone.writes / ROUNDS, "requests")
    # A count with a target, not a ratio: added as a Figure of its own.
    report.figures.append(
        Figure(
            "DynamoDB write units per delivery",
            alone.write_units / ROUNDS,
            "WRU",
            f"{in_batches.write_units / (ROUNDS * BATCH):.2f} in a batch",
            at_most=WRITE_UNITS_TARGET,
        )
    )
    report.add(
        f"runner CPU per delivery, batch of {BATCH}",
        statistics.median(batch_cpu) * 1000 / BATCH,
        "ms",
        note="this process; less bound to the machine's load than wall time",
    )
    deliveries = 1 + ROUNDS * (1 + BATCH)
    report.add(
        "log + metric bytes printed per delivery",
        len(output.getvalue().encode()) / deliveries,
        "B",
        note="at LogLevel INFO: what CloudWatch Logs ingests per delivery",
    )
    report.add(
        "peak memory (max RSS) of the runner process",
        peak_rss_mb,
        "MB",
        note="handler + bench, emulators elsewhere: sizes the template's MemorySize",
    )
    report.print_table()
    report.write()
    return 0


if __name__ == "__main__":
    sys.exit(main())
