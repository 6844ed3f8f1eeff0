"""`make bench`: the publish path's cost against the same local backends, as figures and ratios.

Prints, from one run: the warm publish handler time next to the bare boto3 calls it must make
(one conditional UpdateItem on DynamoDB Local, one SendMessage on moto), the AWS calls per warm
publish (counted with botocore event hooks), and the cold init of the publish function in a fresh
process next to bare boto3 creating the same clients.
"""

from __future__ import annotations

import contextlib
import io
import json
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from eventrelay.aws import dynamodb_client, secretsmanager_client, sqs_client
from eventrelay.roots import AwsClients
from eventrelay.roots.admin import build_admin_service
from eventrelay.tenants import LimitOverrides
from eventrelay_cli.local.environment import LocalAws
from eventrelay_cli.local.lambda_runtime import load_handler, make_context

REPO_ROOT = Path(__file__).resolve().parent.parent
WARM_CALLS = 300
COLD_RUNS = 5

COLD_PUBLISH = """
import time
start = time.perf_counter()
from eventrelay_cli.local.lambda_runtime import load_handler
load_handler(__import__("pathlib").Path({functions!r}) / "publish")
print(time.perf_counter() - start)
"""
COLD_BOTO3 = """
import time
start = time.perf_counter()
import boto3
for service in ("dynamodb", "sqs", "secretsmanager"):
    boto3.client(service, region_name="us-east-1")
print(time.perf_counter() - start)
"""


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def _publish_event(secret: str, n: int) -> dict[str, Any]:
    return {
        "version": "2.0",
        "routeKey": "POST /v1/eventManager/event",
        "rawPath": "/v1/eventManager/event",
        "headers": {
            "content-type": "application/json",
            "tenantid": "bench",
            "sharedsecret": secret,
            "eventname": "OrderPlaced",
            "eventversion": "v01",
        },
        "requestContext": {
            "http": {"method": "POST", "path": "/v1/eventManager/event"},
            "requestId": f"bench-{n}",
            "routeKey": "POST /v1/eventManager/event",
            "stage": "$default",
        },
        "body": json.dumps({"orderId": f"o-{n}", "total": 12.5, "lines": [{"sku": "A1", "qty": 2}]}),
        "isBase64Encoded": False,
    }


def _drain(sqs: Any, queue_url: str) -> None:
    """Empty the queue (moto allows one PurgeQueue a minute)."""
    while messages := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
        sqs.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
        )


def _cold(code: str, environ: dict[str, str]) -> float:
    samples = []
    for _ in range(COLD_RUNS):
        output = subprocess.run(
            [sys.executable, "-c", code], env=environ, capture_output=True, text=True, check=True
        )
        samples.append(float(output.stdout.strip().splitlines()[-1]))
    return statistics.median(samples)


def main() -> int:
    aws = LocalAws(
        template=REPO_ROOT / "template.yaml", stack_name="eventrelay-bench", use_dynamodb_local=True
    )
    aws.start()
    try:
        aws.export()
        settings = aws.settings
        admin = build_admin_service(settings, AwsClients.for_settings(settings))
        secret = admin.tenants.create("bench", "Bench").shared_secret
        admin.events.register("bench", "OrderPlaced", "v01")
        admin.tenants.set_limits("bench", LimitOverrides(sync_per_minute=1_000_000, sync_per_day=10_000_000))
        dynamodb, sqs = dynamodb_client(settings.region), sqs_client(settings.region)

        calls: Counter[str] = Counter()

        def count(event_name: str, **_: Any) -> None:
            calls[event_name.removeprefix("before-call.")] += 1

        for client in (dynamodb, sqs, secretsmanager_client(settings.region)):
            client.meta.events.register("before-call", count)

        handler = load_handler(REPO_ROOT / "functions" / "publish")
        context = make_context("PublishFunction", 10)
        with contextlib.redirect_stdout(io.StringIO()):
            for n in range(20):  # warm: caches filled, connections open
                handler(_publish_event(secret, n), context)
        _drain(sqs, settings.events_queue_url)
        publish_calls: Counter[str] = Counter()

        handler_times, bare_times = [], []
        emf_output = io.StringIO()  # Powertools writes metrics to stdout (EMF), as in Lambda
        for n in range(WARM_CALLS):
            calls.clear()
            started = time.perf_counter()
            with contextlib.redirect_stdout(emf_output):
                response = handler(_publish_event(secret, n), context)
            handler_times.append(time.perf_counter() - started)
            publish_calls.update(calls)
            assert response["statusCode"] == 200, response
            if n % 100 == 99:  # moto's SendMessage slows as a queue fills
                _drain(sqs, settings.events_queue_url)
        for client in (dynamodb, sqs, secretsmanager_client(settings.region)):
            client.meta.events.unregister("before-call", count)

        for n in range(WARM_CALLS):
            started = time.perf_counter()
            dynamodb.update_item(
                TableName=settings.limits_table,
                Key={"pk": {"S": "bench-bare"}},
                UpdateExpression="ADD #c :one",
                ConditionExpression="attribute_not_exists(#c) OR #c < :limit",
                ExpressionAttributeNames={"#c": "count"},
                ExpressionAttributeValues={":one": {"N": "1"}, ":limit": {"N": "100000000"}},
            )
            sqs.send_message(
                QueueUrl=settings.events_queue_url, MessageBody=_publish_event(secret, n)["body"]
            )
            bare_times.append(time.perf_counter() - started)
            if n % 100 == 99:
                _drain(sqs, settings.events_queue_url)

        cold_environ = {**__import__("os").environ, **aws.environ()}
        cold_publish = _cold(COLD_PUBLISH.format(functions=str(REPO_ROOT / "functions")), cold_environ)
        cold_boto3 = _cold(COLD_BOTO3, cold_environ)
    finally:
        aws.stop()

    handler_median, bare_median = statistics.median(handler_times), statistics.median(bare_times)
    handler_p95 = sorted(handler_times)[int(WARM_CALLS * 0.95)]
    per_call = sum(publish_calls.values()) / WARM_CALLS
    print("eventrelay publish benchmark (DynamoDB Local for tables, moto server for SQS/Secrets Manager)")
    print(f"  warm publish handler   median {_ms(handler_median)}  p95 {_ms(handler_p95)}")
    print(f"  bare boto3 calls       median {_ms(bare_median)}  (1 UpdateItem + 1 SendMessage)")
    print(f"  ratio handler/bare     {handler_median / bare_median:.2f}x")
    print(f"  AWS calls per publish  {per_call:.2f}  {dict(publish_calls)}  (design: 2)")
    print(f"  cold init publish      median {_ms(cold_publish)}  (fresh process: imports + module init)")
    print(f"  cold init bare boto3   median {_ms(cold_boto3)}  (import boto3 + 3 clients)")
    print(f"  ratio cold             {cold_publish / cold_boto3:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
