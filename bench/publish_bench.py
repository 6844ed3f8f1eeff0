"""`make bench`: the publish path's cost against the same local backends, as figures and ratios.

Prints one table (bench/report.py) and writes the `publish` section of bench/results.json:
- the warm publish handler time next to the bare boto3 calls it must make (one conditional
  UpdateItem on DynamoDB Local, one SendMessage on moto), the two alternating call by call;
- the AWS calls per warm publish (counted with botocore event hooks);
- the cold start of the publish function (a fresh process: import of the handler + first
  invocation) next to bare boto3 (import, 3 clients, the same 5 calls a cold publish makes), the
  two alternating run by run, plainly and in a Lambda-like environment (Lambda's AWS_LAMBDA_* and
  LAMBDA_TASK_ROOT variables and the template's, tracing off as the local stack has it);
- with `--baseline DIR` (a checkout of another commit, e.g. `git worktree add /tmp/base main`), that
  checkout's publish function as a third side of the same cold-start runs: before and after in one
  run, under the same load.

Bytecode: every side imports what the interpreter finds. These machines set PYTHONDONTWRITEBYTECODE
and uv installs without .pyc, so every side compiles its modules on every run (as a layer without
.pyc would on Lambda; the layer `make build` makes ships python3.13 bytecode, checked by a test on
the built artifact). A PYTHONPYCACHEPREFIX holding bytecode for the venv and the layer would not
do: the standard library's bytecode is then looked for there too, and compiled on every run.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import statistics
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.report import BenchReport, Figure
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
# The targets (issue 12).
WARM_RATIO_TARGET = 1.2
COLD_RATIO_TARGET = 1.3
AWS_CALLS_TARGET = 2

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
# A warm worker: the handler imported, then invoked argv[3] times; its last line is its peak memory
# (max RSS, MiB: what the template's MemorySize is sized from) and its CPU per call; every line
# before is what the handler printed (its logs and EMF metrics: what CloudWatch Logs bills).
WARM_WORKER = """
import importlib.util, json, resource, sys, time
spec = importlib.util.spec_from_file_location("app", sys.argv[1])
module = importlib.util.module_from_spec(spec)
sys.modules["app"] = module
spec.loader.exec_module(module)
class Context:
    function_name, function_version, memory_limit_in_mb = "PublishFunction", "$LATEST", "512"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:PublishFunction"
    aws_request_id, log_group_name, log_stream_name = "warm", "/aws/lambda/PublishFunction", "s"
    def get_remaining_time_in_millis(self):
        return 10000
event = json.loads(sys.argv[2])
calls = int(sys.argv[3])
module.lambda_handler(event, Context())  # the cold one, not counted
cpu_started = time.process_time()
for n in range(calls):
    event["body"] = json.dumps({"orderId": f"w-{n}", "total": n})
    response = module.lambda_handler(event, Context())
    assert response["statusCode"] == 200, response
cpu_ms = (time.process_time() - cpu_started) * 1000 / calls
rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"rss_mb": rss_mb, "cpu_ms_per_call": cpu_ms}))
"""
WARM_WORKER_CALLS = 300
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


def _cold_once(
    code: str, environ: dict[str, str], event: dict[str, Any], checkout: Path = REPO_ROOT
) -> float:
    """One fresh process running `code` against `checkout`'s publish function (and, for another
    checkout than this one, its runtime package ahead of the installed one)."""
    if checkout != REPO_ROOT:
        runtime = checkout / "layers" / "common" / "python"
        environ = {
            **environ,
            "PYTHONPATH": os.pathsep.join(filter(None, (str(runtime), environ.get("PYTHONPATH")))),
        }
    function_dir = checkout / "functions" / "publish"
    output = subprocess.run(
        [sys.executable, "-c", code, str(function_dir / "app.py"), json.dumps(event)],
        env=environ,
        cwd=function_dir,
        capture_output=True,
        text=True,
        check=False,
    )
    if output.returncode != 0:
        raise RuntimeError(f"cold start run failed:\n{output.stderr[-3000:]}")
    return float(output.stdout.strip().splitlines()[-1])


def cold_starts(
    environ: dict[str, str], secret: str, runs: int, baseline: Path | None = None
) -> dict[str, list[float]]:
    """Cold starts in fresh processes per side ("publish", "bare", and "baseline" when given), the
    sides alternating run by run (their order rotating too), so that other load on the machine
    weighs on all alike."""
    sides: list[tuple[str, str, Path]] = [
        ("publish", COLD_PUBLISH, REPO_ROOT),
        ("bare", COLD_BOTO3, REPO_ROOT),
    ]
    if baseline is not None:
        sides.append(("baseline", COLD_PUBLISH, baseline))
    samples: dict[str, list[float]] = {name: [] for name, _, _ in sides}
    for run in range(runs):
        event = _publish_event(secret, 10_000 + run)
        shift = run % len(sides)
        for name, code, checkout in sides[shift:] + sides[:shift]:
            samples[name].append(_cold_once(code, environ, event, checkout))
    return samples


@dataclass(frozen=True)
class WarmWorker:
    rss_mb: float
    cpu_ms_per_call: float
    printed_bytes_per_call: float


def warm_worker(environ: dict[str, str], event: dict[str, Any]) -> WarmWorker:
    """A fresh publish worker after WARM_WORKER_CALLS publishes (see WARM_WORKER)."""
    function_dir = REPO_ROOT / "functions" / "publish"
    output = subprocess.run(
        [
            sys.executable,
            "-c",
            WARM_WORKER,
            str(function_dir / "app.py"),
            json.dumps(event),
            str(WARM_WORKER_CALLS),
        ],
        env=environ,
        cwd=function_dir,
        capture_output=True,
        text=True,
        check=False,
    )
    if output.returncode != 0:
        raise RuntimeError(f"warm worker failed:\n{output.stderr[-3000:]}")
    *printed, last = output.stdout.splitlines(keepends=True)
    figures = json.loads(last)
    # Lines of the cold call count too: spread over the warm ones they weigh under 1 %.
    printed_bytes = sum(len(line.encode()) for line in printed)
    return WarmWorker(figures["rss_mb"], figures["cpu_ms_per_call"], printed_bytes / WARM_WORKER_CALLS)


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--baseline",
        type=Path,
        help="a checkout of another commit: its publish function joins the cold-start runs",
    )
    parser.add_argument("--cold-runs", type=int, default=COLD_RUNS)
    arguments = parser.parse_args(argv)
    baseline: Path | None = arguments.baseline.resolve() if arguments.baseline else None
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
        calls_per_publish: list[int] = []

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
            calls_per_publish.append(sum(calls.values()))
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
            "plain": cold_starts(cold_environ, secret, arguments.cold_runs, baseline),
            "lambda": cold_starts(
                lambda_like(function_environ, spec.code_dir), secret, arguments.cold_runs, baseline
            ),
        }
        worker = warm_worker(lambda_like(function_environ, spec.code_dir), _publish_event(secret, 20_000))
    finally:
        aws.stop()

    report = BenchReport(
        "publish",
        "publish path (DynamoDB Local tables, moto SQS/Secrets Manager; medians, sides alternating)",
    )
    report.details.update(warm_calls=WARM_CALLS, cold_runs=arguments.cold_runs, baseline=str(baseline or ""))
    handler_median, bare_median = statistics.median(handler_times), statistics.median(bare_times)
    report.add("warm publish handler", handler_median * 1000, "ms", samples=[t * 1000 for t in handler_times])
    report.add(
        "warm bare UpdateItem + SendMessage", bare_median * 1000, "ms", samples=[t * 1000 for t in bare_times]
    )
    report.ratio("warm handler / bare", handler_median / bare_median, at_most=WARM_RATIO_TARGET)
    by_operation = ", ".join(
        f"{name} {count / WARM_CALLS:g}" for name, count in sorted(publish_calls.items())
    )
    # A count with a target, not a ratio: added as a Figure of its own. The median: the first call
    # of a new rate-limit window makes one more write (once per window and tenant, not per call).
    report.figures.append(
        Figure(
            "AWS calls per warm publish (median)",
            statistics.median(calls_per_publish),
            "calls",
            f"mean {statistics.mean(calls_per_publish):.3f}: {by_operation}",
            at_most=AWS_CALLS_TARGET,
        )
    )
    for mode, samples in cold.items():
        medians = {name: statistics.median(times) for name, times in samples.items()}
        for name, times in samples.items():
            report.add(
                f"cold start ({mode}): {name}", medians[name] * 1000, "ms", samples=[t * 1000 for t in times]
            )
        report.ratio(
            f"cold start ({mode}): publish / bare",
            medians["publish"] / medians["bare"],
            at_most=COLD_RATIO_TARGET,
            note="fresh process: import + first invoke; bare: boto3, 3 clients, the same 5 calls",
        )
        if "baseline" in medians:
            report.ratio(f"cold start ({mode}): baseline / bare", medians["baseline"] / medians["bare"])
    report.add(
        f"peak memory (max RSS) of a publish worker after {WARM_WORKER_CALLS} publishes",
        worker.rss_mb,
        "MB",
        note="Lambda-like environment: sizes the template's MemorySize",
    )
    report.add("CPU per warm publish (worker)", worker.cpu_ms_per_call, "ms", note="one core of this machine")
    report.add(
        "log + metric bytes printed per warm publish",
        worker.printed_bytes_per_call,
        "B",
        note="what CloudWatch Logs ingests per accepted publish",
    )
    report.print_table()
    report.write()
    return 0


if __name__ == "__main__":
    sys.exit(main())
