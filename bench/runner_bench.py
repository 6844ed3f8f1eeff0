"""`make bench`, the runner's figure: a batch's wall time next to one call's latency.

The real action runner handler (functions/action_runner/app.py) on the embedded AWS (DynamoDB
Local for tables), calling a target on 127.0.0.1 that answers after TARGET_SECONDS. Printed:
one call's latency (the outbound client alone), a batch of one event through the handler, a
batch of ten, the ratio of the batch to one call (1x would be perfect overlap, 10x sequential),
and the AWS calls each delivery costs.
"""

from __future__ import annotations

import contextlib
import io
import logging
import statistics
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from eventrelay.actions import ActionStore
from eventrelay.aws import dynamodb_client, secretsmanager_client, sqs_client
from eventrelay.clock import iso_utc
from eventrelay.connectors.models import ConnectorSpec
from eventrelay.envelopes import EventEnvelope
from eventrelay.outbound.client import OutboundClient
from eventrelay.outbound.request import OutboundRequest
from eventrelay.outbound.ssrf import SsrfGuard
from eventrelay.roots import AwsClients
from eventrelay.roots.connectors import build_connector_services
from eventrelay.rules import RuleStore
from eventrelay_cli.local.environment import LocalAws
from eventrelay_cli.local.lambda_runtime import load_handler, make_context

REPO_ROOT = Path(__file__).resolve().parent.parent
TARGET_SECONDS = 0.2
ROUNDS = 5
BATCH = 10
TENANT = "bench"


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


@contextlib.contextmanager
def _target() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Slow)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _event(bodies: list[str]) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": str(uuid.uuid4()),
                "receiptHandle": "bench",
                "body": body,
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:bench",
                "awsRegion": "us-east-1",
            }
            for body in bodies
        ]
    }


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


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def main() -> int:
    # The library logs each call at INFO (to stdout, as in Lambda); the bench prints only its figures.
    logging.getLogger("eventrelay").setLevel(logging.WARNING)
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
            one_call = []
            for n in range(ROUNDS):
                started = time.perf_counter()
                outcome = client.send(OutboundRequest("POST", f"{target_url}/orders/o-{n}", {}, b"{}"))
                one_call.append(time.perf_counter() - started)
                assert outcome.ok, outcome

            calls: Counter[str] = Counter()

            def count(event_name: str, **_: Any) -> None:
                calls[event_name.removeprefix("before-call.")] += 1

            handler = load_handler(REPO_ROOT / "functions" / "action_runner")
            context = make_context("ActionRunnerFunction", 60)
            output = io.StringIO()  # the handler's logs and EMF metrics go to stdout, as in Lambda
            with contextlib.redirect_stdout(output):
                handler(_event([_envelope(-1)]), context)  # cold start, connections opened
                for aws_client in (
                    dynamodb,
                    sqs_client(settings.region),
                    secretsmanager_client(settings.region),
                ):
                    aws_client.meta.events.register("before-call", count)
                single, batch = [], []
                for n in range(ROUNDS):
                    started = time.perf_counter()
                    response = handler(_event([_envelope(n)]), context)
                    single.append(time.perf_counter() - started)
                    assert response == {"batchItemFailures": []}, response
                calls_per_delivery = sum(calls.values()) / ROUNDS
                per_kind = {name: round(number / ROUNDS, 2) for name, number in calls.items()}
                calls.clear()
                for n in range(ROUNDS):
                    started = time.perf_counter()
                    response = handler(_event([_envelope(n * BATCH + i) for i in range(BATCH)]), context)
                    batch.append(time.perf_counter() - started)
                    assert response == {"batchItemFailures": []}, response
                calls_in_batches = sum(calls.values()) / (ROUNDS * BATCH)
            client.close()
    finally:
        aws.stop()

    call, one, ten = statistics.median(one_call), statistics.median(single), statistics.median(batch)
    print(f"eventrelay action runner benchmark (target answers after {_ms(TARGET_SECONDS)}, DynamoDB Local)")
    print(f"  one call's latency        median {_ms(call)}  (outbound client alone)")
    print(f"  batch of 1 via handler    median {_ms(one)}  (runner bookkeeping {_ms(one - call)})")
    print(f"  batch of {BATCH} via handler   median {_ms(ten)}  (sequential would be >= {_ms(BATCH * call)})")
    print(f"  ratio batch/one call      {ten / call:.2f}x  (1x = full overlap, {BATCH}x = sequential)")
    print(f"  AWS calls per delivery    {calls_per_delivery:.2f} alone {per_kind}")
    print(f"  {'':26}{calls_in_batches:.2f} in a batch of {BATCH} (configuration read once per batch)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
