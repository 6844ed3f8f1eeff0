"""The in-process Lambda runtime: loading handlers by path, the context, invoking like Lambda."""

from __future__ import annotations

import io
import json
import re
import textwrap
import threading
import time
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools import Logger

from eventrelay_cli.local.lambda_runtime import (
    HandlerLoadError,
    HttpApiRoute,
    InvocationError,
    LocalFunction,
    SqsEventSourceSpec,
    load_handler,
    make_context,
    read_function_specs,
)
from tests.support.local_functions import write_function
from tests.support.waiting import wait_until

REPO_ROOT = Path(__file__).resolve().parents[3]


# ---- load_handler


def test_load_handler_loads_the_function_file_by_path_and_calls_it(tmp_path: Path) -> None:
    # Given a function folder with app.py defining lambda_handler
    folder = write_function(
        tmp_path,
        "echo",
        """
        from dataclasses import dataclass

        @dataclass
        class Reply:
            name: str

        def lambda_handler(event, context):
            return {"got": event["value"], "function": context.function_name, "reply": Reply("x").name}
        """,
    )
    # When it is loaded by path and called with an event and a context
    handler = load_handler(folder)
    result = handler({"value": 42}, make_context("EchoFunction", 3))
    # Then the file's own function ran (module-level dataclasses work too)
    assert result == {"got": 42, "function": "EchoFunction", "reply": "x"}


def test_each_load_is_a_fresh_instance_with_its_own_module_state(tmp_path: Path) -> None:
    # Given a handler that counts its invocations in a module-level variable
    folder = write_function(
        tmp_path,
        "counter",
        """
        calls = 0

        def handle(event, context):
            global calls
            calls += 1
            return calls
        """,
        filename="main.py",
    )
    # When the same file is loaded twice (two Lambda instances) with a custom handler name
    first, second = load_handler(folder, "main.handle"), load_handler(folder, "main.handle")
    # Then each instance has its own state, like two cold starts
    assert [first({}, None), first({}, None), second({}, None)] == [1, 2, 1]


def test_load_handler_finds_nested_modules_and_reports_missing_handlers(tmp_path: Path) -> None:
    folder = write_function(tmp_path, "nested", "def run(event, context):\n    return 'ok'\n", "pkg/mod.py")
    assert load_handler(folder, "pkg/mod.run")({}, None) == "ok"
    assert load_handler(folder, "pkg.mod.run")({}, None) == "ok"
    with pytest.raises(HandlerLoadError, match="no callable 'absent'"):
        load_handler(folder, "pkg.mod.absent")
    with pytest.raises(HandlerLoadError, match="no module"):
        load_handler(folder, "app.lambda_handler")
    with pytest.raises(HandlerLoadError):
        load_handler(folder, "../escape.run")


def test_a_module_that_fails_to_import_is_a_load_error(tmp_path: Path) -> None:
    folder = write_function(tmp_path, "broken", "raise RuntimeError('boom at import')\n")
    with pytest.raises(HandlerLoadError, match="RuntimeError"):
        load_handler(folder)


# ---- make_context


def test_make_context_has_what_the_runtime_and_powertools_provide() -> None:
    # Given two contexts for the same function
    first = make_context("PublishFunction", timeout_seconds=10, memory_mb=512)
    second = make_context("PublishFunction", timeout_seconds=10, memory_mb=512)
    # Then they carry the runtime's attributes, with a fresh request id each
    assert first.function_name == "PublishFunction"
    assert first.function_version == "$LATEST"
    assert first.invoked_function_arn == "arn:aws:lambda:us-east-1:123456789012:function:PublishFunction"
    assert first.memory_limit_in_mb == "512"  # a string, as in the real Python runtime
    assert first.log_group_name == "/aws/lambda/PublishFunction"
    assert re.fullmatch(r"\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}", first.log_stream_name)
    assert re.fullmatch(r"[0-9a-f-]{36}", first.aws_request_id)
    assert first.aws_request_id != second.aws_request_id
    # And the remaining time counts down from the timeout (waited for, not slept for)
    remaining = first.get_remaining_time_in_millis()
    assert 9_000 < remaining <= 10_000
    wait_until(lambda: first.get_remaining_time_in_millis() < remaining, timeout=2, interval=0.001)
    # And it never goes below zero
    assert replace(first, deadline_monotonic=time.monotonic() - 5).get_remaining_time_in_millis() == 0


def test_powertools_logger_injects_the_context_fields() -> None:
    # Given a Powertools logger writing to a buffer, decorating a handler
    buffer = io.StringIO()
    logger = Logger(service="local-test", stream=buffer)

    @logger.inject_lambda_context
    def handler(event: dict[str, Any], context: Any) -> None:
        logger.info("handled")

    # When invoked with our context
    context = make_context("JobsFunction", 5, memory_mb=256)
    handler({}, context)
    # Then the log line carries the Lambda context keys
    line = json.loads(buffer.getvalue().strip().splitlines()[-1])
    assert line["function_name"] == "JobsFunction"
    assert line["function_request_id"] == context.aws_request_id
    assert line["function_arn"] == context.invoked_function_arn
    assert str(line["function_memory_size"]) == "256"


# ---- LocalFunction.invoke


def test_invoke_crosses_a_json_boundary_both_ways() -> None:
    seen: list[dict[str, Any]] = []

    def handler(event: dict[str, Any], context: Any) -> Any:
        seen.append(event)
        event["mutated"] = True
        return {"count": Decimal("3"), "ratio": Decimal("0.5"), "items": ("a", "b")}

    function = LocalFunction.from_handler("Json", handler)
    original = {"nested": {"k": [1, 2]}}
    # When invoked
    result = function.invoke(original)
    # Then the handler got a copy (mutations don't leak back) and the result is plain JSON data
    assert seen == [{"nested": {"k": [1, 2]}, "mutated": True}]
    assert original == {"nested": {"k": [1, 2]}}
    assert result == {"count": 3, "ratio": 0.5, "items": ["a", "b"]}


def test_invoke_reports_handler_errors_like_lambda() -> None:
    def handler(event: dict[str, Any], context: Any) -> Any:
        raise ValueError("secret-free failure")

    with pytest.raises(InvocationError) as caught:
        LocalFunction.from_handler("Failing", handler).invoke({})
    assert caught.value.error_type == "ValueError"
    assert isinstance(caught.value.__cause__, ValueError)


def test_invoke_refuses_results_lambda_cannot_serialize() -> None:
    function = LocalFunction.from_handler("Marshal", lambda event, context: {"when": object()})
    with pytest.raises(InvocationError) as caught:
        function.invoke({})
    assert caught.value.error_type == "Runtime.MarshalError"


def test_an_in_process_instance_that_times_out_is_discarded() -> None:
    # Given a function of in-process instances (for tests) with a 1 s timeout whose handler would
    # run for 3 s (worker processes, which are killed at the timeout, are tested in
    # tests/integration/local/test_local_timeouts.py)
    release = threading.Event()
    loads: list[int] = []

    def factory() -> Any:
        loads.append(1)
        return lambda event, context: release.wait(3) and "late"

    function = LocalFunction("Slow", factory, timeout_seconds=1)
    started = time.monotonic()
    # When invoked
    with pytest.raises(InvocationError) as caught:
        function.invoke({})
    # Then it fails after the timeout with Lambda's error type, and the instance is not reused
    assert caught.value.error_type == "Sandbox.Timedout"
    assert 0.9 < time.monotonic() - started < 2.0
    assert function.instance_count == 0
    release.set()


def test_each_instance_serves_one_invocation_at_a_time() -> None:
    # Given a function limited to 2 instances whose handler notices overlapping calls per instance
    # and holds each call until two are in flight (or briefly, once the pool is known to fill)
    overlaps: list[str] = []
    lock = threading.Lock()
    in_flight = 0
    peak = 0
    two_in_flight = threading.Event()

    def factory() -> Any:
        busy = threading.Lock()

        def handler(event: dict[str, Any], context: Any) -> int:
            nonlocal in_flight, peak
            if not busy.acquire(blocking=False):
                overlaps.append(context.aws_request_id)
                return -1
            with lock:
                in_flight += 1
                peak = max(peak, in_flight)
                if in_flight == 2:
                    two_in_flight.set()
            two_in_flight.wait(2)
            with lock:
                in_flight -= 1
            busy.release()
            return 1

        return handler

    function = LocalFunction("Pool", factory, max_instances=2)
    # When 8 invocations arrive at once
    results: list[Any] = []
    threads = [threading.Thread(target=lambda: results.append(function.invoke({}))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # Then all succeed, no instance ran two at once, and at most 2 instances ever existed
    assert results == [1] * 8
    assert overlaps == []
    assert two_in_flight.is_set()
    assert peak == 2
    assert function.instance_count == 2


def test_a_function_that_fails_to_load_reports_an_import_error(tmp_path: Path) -> None:
    folder = write_function(tmp_path, "broken", "import does_not_exist_anywhere\n")
    function = LocalFunction("Broken", lambda: load_handler(folder))
    with pytest.raises(InvocationError) as caught:
        function.invoke({})
    assert caught.value.error_type == "Runtime.ImportModuleError"
    assert function.instance_count == 0


# ---- template.yaml


def test_reads_functions_routes_and_queues_from_the_project_template() -> None:
    # Given the project's own template.yaml
    specs = read_function_specs(REPO_ROOT / "template.yaml")
    # Then the publish function has its three routes, Globals' timeout and its own memory
    publish = specs["PublishFunction"]
    assert publish.code_dir == REPO_ROOT / "functions" / "publish"
    assert publish.handler == "app.lambda_handler"
    assert (publish.timeout_seconds, publish.memory_mb) == (10, 256)
    assert {route.route_key for route in publish.http_routes} >= {
        "POST /v1/eventManager/event",
        "POST /v1/eventManager/events/bulk",
        "GET /v1/eventManager/jobs/{jobId}",
    }
    # And the bulk worker overrides the timeout and consumes the jobs queue one message at a time
    worker = specs["BulkWorkerFunction"]
    assert worker.timeout_seconds == 60
    jobs = next(s for s in worker.sqs_sources if s.queue_logical_id == "JobsQueue")
    assert jobs.batch_size == 1
    assert jobs.report_batch_item_failures is True


def test_globals_apply_and_function_properties_win(tmp_path: Path) -> None:
    template = tmp_path / "template.yaml"
    template.write_text(
        textwrap.dedent(
            """
            Transform: AWS::Serverless-2016-10-31
            Globals:
              Function:
                Handler: app.lambda_handler
                CodeUri: functions/shared
                Timeout: 7
            Resources:
              Queue:
                Type: AWS::SQS::Queue
              Api:
                Type: AWS::Serverless::Function
                Properties:
                  MemorySize: 1024
                  Events:
                    Anything:
                      Type: HttpApi
                    Items:
                      Type: HttpApi
                      Properties: {Method: any, Path: "/items/{proxy+}"}
              Worker:
                Type: AWS::Serverless::Function
                Properties:
                  CodeUri: functions/worker
                  Handler: main.handle
                  Timeout: 30
                  Events:
                    Consume:
                      Type: SQS
                      Properties:
                        Queue: !GetAtt Queue.Arn
                        MaximumBatchingWindowInSeconds: 2
                        ScalingConfig: {MaximumConcurrency: 3}
                        Enabled: false
            """
        ),
        encoding="utf-8",
    )
    specs = read_function_specs(template)
    api, worker = specs["Api"], specs["Worker"]
    assert (api.handler, api.timeout_seconds, api.memory_mb) == ("app.lambda_handler", 7, 1024)
    assert api.code_dir == tmp_path / "functions" / "shared"
    assert api.http_routes == (
        HttpApiRoute("Anything", "ANY", "$default"),
        HttpApiRoute("Items", "ANY", "/items/{proxy+}"),
    )
    assert [route.route_key for route in api.http_routes] == ["$default", "ANY /items/{proxy+}"]
    assert (worker.handler, worker.timeout_seconds, worker.memory_mb) == ("main.handle", 30, 128)
    assert worker.sqs_sources == (
        SqsEventSourceSpec(
            event_id="Consume",
            queue_logical_id="Queue",
            batch_size=10,
            maximum_batching_window_seconds=2,
            report_batch_item_failures=False,
            maximum_concurrency=3,
            enabled=False,
        ),
    )


def test_from_spec_loads_the_declared_handler(tmp_path: Path) -> None:
    write_function(
        tmp_path, "hello", "def lambda_handler(event, context):\n    return context.function_name\n"
    )
    template = tmp_path / "template.yaml"
    template.write_text(
        "Resources:\n  Hello:\n    Type: AWS::Serverless::Function\n"
        "    Properties: {CodeUri: functions/hello, Handler: app.lambda_handler, Timeout: 4}\n",
        encoding="utf-8",
    )
    function = LocalFunction.from_spec(read_function_specs(template)["Hello"])
    try:
        assert function.timeout_seconds == 4
        assert function.invoke({}) == "Hello"
    finally:
        function.close()
