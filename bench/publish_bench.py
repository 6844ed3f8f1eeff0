"""`make bench`: the publish path's cost against the same local backends, as figures and ratios.

Prints, from one run, and writes to bench/results/publish.json:
- the warm publish handler time next to the bare boto3 calls it must make (one conditional
  UpdateItem on DynamoDB Local, one SendMessage on moto), the two alternating call by call;
- the AWS calls per warm publish (counted with botocore event hooks);
- the cold start of the publish function (a fresh process: import of the handler + first
  invocation) next to bare boto3 (import, 3 clients, the same 5 calls a cold publish makes), the
  two alternating run by run, plainly and in a Lambda-like environment (Lambda's AWS_LAMBDA_* and
  LAMBDA_TASK_ROOT variables and the template's, tracing off as the local stack has it).

Bytecode: both sides import what the interpreter finds. These machines set PYTHONDONTWRITEBYTECODE
and uv installs without .pyc, so unless `python -m compileall` was run on .venv and the layer,
both sides compile their modules on every run (as a layer without .pyc does on Lambda).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
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
from eventrelay_cli.local.lambda_runtime import (
    lambda_environment,
    load_handler,
    make_context,
    read_function_specs,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
WARM_CALLS = 300
COLD_RUNS = 9
RESULTS = REPO_ROOT / "bench" / "results" / "publish.json"

# A cold instance: from the first import to the first answer, as Lambda's init + first invoke.
# The handler is imported by file path, as the Lambda runtime imports it.
COLD_PUBLISH = """
import time
started = time.perf_counter()
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("app", sys.argv[1])
module = importlib.util.module_from_spec(spec)
sys.modules["app"] = module
spec.loader.exec_module(module)
class Context:  # the runtime's context object: what Powertools and the handler read
    function_name, function_version, memory_limit_in_mb = "PublishFunction", "$LATEST", "512"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:PublishFunction"
    aws_request_id, log_group_name, log_stream_name = "cold", "/aws/lambda/PublishFunction", "s"
    deadline = time.monotonic() + 10
    def get_remaining_time_in_millis(self):
        return int((self.deadline - time.monotonic()) * 1000)
context = Context()
response = module.lambda_handler(json.loads(sys.argv[2]), context)
elapsed = time.perf_counter() - started
assert response["statusCode"] == 200, response
print(elapsed)
"""
# The floor: boto3, its three clients and the calls a cold publish makes (tenant profile, secret,
# rate-limit window, registration, enqueue), the answers ignored.
COLD_BOTO3 = """
import time
started = time.perf_counter()
import json, os, sys
import boto3
tables = os.environ
dynamodb, sqs, secrets = (boto3.client(name) for name in ("dynamodb", "sqs", "secretsmanager"))
event = json.loads(sys.argv[2])
config_table, tenant = tables["EVENTRELAY_CONFIG_TABLE"], {"S": "TENANT#bench"}
dynamodb.get_item(TableName=config_table, Key={"pk": tenant, "sk": {"S": "PROFILE"}})
secret_id = tables["EVENTRELAY_SECRET_PREFIX"] + "tenants/bench"
secrets.get_secret_value(SecretId=secret_id, VersionStage="AWSCURRENT")
dynamodb.update_item(
    TableName=tables["EVENTRELAY_LIMITS_TABLE"],
    Key={"pk": {"S": "bench-bare"}},
    UpdateExpression="ADD #c :one",
    ConditionExpression="attribute_not_exists(#c) OR #c < :limit",
    ExpressionAttributeNames={"#c": "count"},
    ExpressionAttributeValues={":one": {"N": "1"}, ":limit": {"N": "100000000"}},
)
dynamodb.get_item(TableName=config_table, Key={"pk": tenant, "sk": {"S": "EVENT#OrderPlaced#v01"}})
sqs.send_message(QueueUrl=tables["EVENTRELAY_EVENTS_QUEUE_URL"], MessageBody=event["body"])
print(time.perf_counter() - started)
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


def _cold_once(code: str, environ: dict[str, str], event: dict[str, Any]) -> float:
    output = subprocess.run(
        [sys.executable, "-c", code, str(REPO_ROOT / "functions" / "publish" / "app.py"), json.dumps(event)],
        env=environ,
        cwd=REPO_ROOT / "functions" / "publish",
        capture_output=True,
        text=True,
        check=False,
    )
    if output.returncode != 0:
        raise RuntimeError(f"cold start run failed:\n{output.stderr[-3000:]}")
    return float(output.stdout.strip().splitlines()[-1])


def cold_starts(environ: dict[str, str], secret: str, runs: int) -> tuple[list[float], list[float]]:
    """(publish, bare) cold starts in fresh processes, the two sides alternating run by run (and
    which goes first alternating too), so that other load on the machine weighs on both alike."""
    publish: list[float] = []
    bare: list[float] = []
    for run in range(runs):
        event = _publish_event(secret, 10_000 + run)
        sides = [(COLD_PUBLISH, publish), (COLD_BOTO3, bare)]
        for code, samples in sides if run % 2 == 0 else reversed(sides):
            samples.append(_cold_once(code, environ, event))
    return publish, bare


def lambda_like(environ: dict[str, str], function_dir: Path) -> dict[str, str]:
    """The variables Lambda sets in a python3.13 function (no AWS_LAMBDA_RUNTIME_API: the handler is
    called directly), over the function's own environment."""
    return {
        **environ,
        **lambda_environment(
            "PublishFunction",
            handler="app.lambda_handler",
            code_dir=function_dir,
            timeout_seconds=10,
            memory_mb=512,
            region=environ.get("AWS_REGION", "us-east-1"),
        ),
    }


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
        # A context per invocation, as Lambda gives: its deadline bounds that invocation's AWS calls.
        with contextlib.redirect_stdout(io.StringIO()):
            for n in range(20):  # warm: caches filled, connections open
                handler(_publish_event(secret, n), make_context("PublishFunction", 10))
        _drain(sqs, settings.events_queue_url)
        publish_calls: Counter[str] = Counter()

        handler_times, bare_times = [], []
        emf_output = io.StringIO()  # Powertools writes metrics to stdout (EMF), as in Lambda

        def timed_handler(n: int) -> None:
            calls.clear()
            event, context = _publish_event(secret, n), make_context("PublishFunction", 10)
            started = time.perf_counter()
            with contextlib.redirect_stdout(emf_output):
                response = handler(event, context)
            handler_times.append(time.perf_counter() - started)
            publish_calls.update(calls)
            assert response["statusCode"] == 200, response

        def timed_bare(n: int) -> None:
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

        # Alternating call by call (and which side goes first), so that load weighs on both alike.
        for n in range(WARM_CALLS):
            for side in (timed_handler, timed_bare) if n % 2 == 0 else (timed_bare, timed_handler):
                side(n)
            if n % 50 == 49:  # moto's SendMessage slows as a queue fills
                _drain(sqs, settings.events_queue_url)
        for client in (dynamodb, sqs, secretsmanager_client(settings.region)):
            client.meta.events.unregister("before-call", count)

        cold_environ = {**os.environ, **aws.environ(), "POWERTOOLS_TRACE_DISABLED": "true"}
        # Template's variables (service name, namespace), as the function gets them.
        spec = read_function_specs(REPO_ROOT / "template.yaml")["PublishFunction"]
        function_environ = {**cold_environ, **aws.function_environment(spec)}
        cold = {
            "plain": cold_starts(cold_environ, secret, COLD_RUNS),
            "lambda": cold_starts(lambda_like(function_environ, spec.code_dir), secret, COLD_RUNS),
        }
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
    figures: dict[str, Any] = {
        "warm_handler_median_ms": handler_median * 1000,
        "warm_bare_median_ms": bare_median * 1000,
        "warm_ratio": handler_median / bare_median,
        "aws_calls_per_publish": per_call,
        "cold_runs": COLD_RUNS,
    }
    for mode, (publish, bare) in cold.items():
        publish_median, bare_median_cold = statistics.median(publish), statistics.median(bare)
        ratios = [p / b for p, b in zip(publish, bare, strict=True)]
        print(
            f"  cold start ({mode:6})    publish median {_ms(publish_median)}  bare median "
            f"{_ms(bare_median_cold)}  ratio {publish_median / bare_median_cold:.2f}x "
            f"(run-by-run median {statistics.median(ratios):.2f}x; target <= 1.3x)"
        )
        figures[f"cold_{mode}_publish_median_ms"] = publish_median * 1000
        figures[f"cold_{mode}_bare_median_ms"] = bare_median_cold * 1000
        figures[f"cold_{mode}_ratio"] = publish_median / bare_median_cold
    print(
        "  (cold start: fresh process, import + first invoke;"
        " bare: import boto3, 3 clients, the same 5 calls)"
    )
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"  figures written to {RESULTS.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
