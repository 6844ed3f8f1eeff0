"""Function instances in their own processes: isolation, Lambda's error types, the environment they get."""

from __future__ import annotations

import json
import os
import re
import signal
import threading
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from eventrelay_cli.local.lambda_runtime import InvocationError, LocalFunction
from tests.support.local_functions import COUNTING_HANDLER, write_function
from tests.support.waiting import process_is_gone, wait_until


def invoke_in_threads(function: LocalFunction, events: list[dict[str, Any]]) -> list[Any]:
    results: list[Any] = [None] * len(events)

    def call(index: int) -> None:
        results[index] = function.invoke(events[index])

    threads = [threading.Thread(target=call, args=(i,)) for i in range(len(events))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


def test_two_instances_of_one_function_do_not_share_module_state(tmp_path: Path) -> None:
    # Given a function whose handler counts its own invocations in a module global
    folder = write_function(tmp_path, "counter", COUNTING_HANDLER)
    gate = tmp_path / "gate"
    gate.mkdir()
    function = LocalFunction.from_code("CounterFunction", folder, max_instances=2, timeout_seconds=30)
    try:
        # When two invocations are in flight at once (two instances), then four more follow
        held = threading.Thread(
            target=lambda: first.extend(invoke_in_threads(function, [{"gate": str(gate), "hold": True}] * 2))
        )
        first: list[Any] = []
        held.start()
        wait_until(lambda: len(list(gate.glob("in-*"))) == 2, timeout=60, what="two invocations in flight")
        (gate / "release").touch()
        held.join(60)
        later = [function.invoke({"gate": str(gate)}) for _ in range(4)]
    finally:
        function.close()
    # Then there were two processes, and each one's counter saw only its own invocations
    counts: dict[int, list[int]] = defaultdict(list)
    for result in [*first, *later]:
        counts[result["pid"]].append(result["calls"])
    assert len(counts) == 2
    for seen in counts.values():
        assert seen == list(range(1, len(seen) + 1))
    assert sum(len(seen) for seen in counts.values()) == 6
    assert function.cold_starts == 2


def test_two_functions_with_the_same_code_do_not_share_module_state(tmp_path: Path) -> None:
    folder = write_function(tmp_path, "counter", COUNTING_HANDLER)
    gate = tmp_path / "gate"
    gate.mkdir()
    one = LocalFunction.from_code("OneFunction", folder)
    other = LocalFunction.from_code("OtherFunction", folder)
    try:
        first = [one.invoke({"gate": str(gate)}) for _ in range(3)]
        second = other.invoke({"gate": str(gate)})
    finally:
        one.close()
        other.close()
    assert [r["calls"] for r in first] == [1, 2, 3]
    assert second["calls"] == 1
    assert second["pid"] != first[0]["pid"]


def test_the_worker_gets_the_functions_environment_and_nothing_of_the_callers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a test-only global in this process's environment
    monkeypatch.setenv("EVENTRELAY_TEST_ONLY_GLOBAL", "must-not-leak")
    folder = write_function(
        tmp_path,
        "env",
        """
        import os, sys

        def lambda_handler(event, context):
            return {"environ": dict(os.environ), "path0": sys.path[0], "cwd": os.getcwd()}
        """,
    )
    function = LocalFunction.from_code(
        "EnvFunction",
        folder,
        environment={"EVENTRELAY_CONFIG_TABLE": "t-1"},
        timeout_seconds=7,
        memory_mb=256,
    )
    try:
        seen = function.invoke({})
    finally:
        function.close()
    environ = seen["environ"]
    # Then it has the function's variables and Lambda's own, and none of the caller's
    assert "EVENTRELAY_TEST_ONLY_GLOBAL" not in environ
    assert "PYTEST_CURRENT_TEST" not in environ
    assert environ["EVENTRELAY_CONFIG_TABLE"] == "t-1"
    assert environ["AWS_LAMBDA_FUNCTION_NAME"] == "EnvFunction"
    assert environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert environ["AWS_LAMBDA_FUNCTION_TIMEOUT"] == "7"
    assert environ["LAMBDA_TASK_ROOT"] == str(folder)
    assert environ["_HANDLER"] == "app.lambda_handler"
    assert re.fullmatch(r"\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}", environ["AWS_LAMBDA_LOG_STREAM_NAME"])
    # And its code folder is the working directory and first on sys.path, like /var/task
    assert seen["cwd"] == str(folder)
    assert Path(seen["path0"]).resolve() == folder.resolve()


def test_handler_errors_come_back_with_lambdas_error_types(tmp_path: Path) -> None:
    folder = write_function(
        tmp_path,
        "errors",
        """
        import os

        def lambda_handler(event, context):
            if event["do"] == "raise":
                raise ValueError("bad input")
            if event["do"] == "unserializable":
                return {"when": object()}
            if event["do"] == "exit":
                os._exit(3)
            return {"ok": True, "pid": os.getpid()}
        """,
    )
    function = LocalFunction.from_code("ErrorsFunction", folder, max_instances=1)
    try:
        with pytest.raises(InvocationError) as raised:
            function.invoke({"do": "raise"})
        assert (raised.value.error_type, raised.value.error_message) == ("ValueError", "bad input")
        with pytest.raises(InvocationError) as marshal:
            function.invoke({"do": "unserializable"})
        assert marshal.value.error_type == "Runtime.MarshalError"
        # A handler error keeps the instance (as in Lambda): the same process answers next
        survivor = function.invoke({"do": "nothing"})
        assert function.cold_starts == 1
        # A process that exits is reported as Runtime.ExitError and replaced by a new instance
        with pytest.raises(InvocationError) as exited:
            function.invoke({"do": "exit"})
        assert exited.value.error_type == "Runtime.ExitError"
        assert "exit status 3" in exited.value.error_message
        assert process_is_gone(survivor["pid"])
        replacement = function.invoke({"do": "nothing"})
        assert replacement["pid"] != survivor["pid"]
        assert function.cold_starts == 2
    finally:
        function.close()


def test_an_instance_killed_while_idle_is_replaced_for_the_next_invocation(tmp_path: Path) -> None:
    # Given a warm instance, idle between invocations
    folder = write_function(tmp_path, "counter", COUNTING_HANDLER)
    gate = tmp_path / "gate"
    gate.mkdir()
    function = LocalFunction.from_code("IdleFunction", folder, max_instances=1, timeout_seconds=30)
    try:
        first = function.invoke({"gate": str(gate)})
        # When its process is killed from outside (SIGKILL) while it waits for work
        os.kill(first["pid"], signal.SIGKILL)
        wait_until(lambda: process_has_exited(first["pid"]), timeout=30, what="the idle instance died")
        # Then the next invocation succeeds on a fresh instance (a cold start), not the dead one
        second = function.invoke({"gate": str(gate)})
    finally:
        function.close()
    assert second["pid"] != first["pid"]
    assert second["calls"] == 1
    assert function.cold_starts == 2


def process_has_exited(pid: int) -> bool:
    """Gone, or a zombie its parent has not reaped yet (state Z in /proc/PID/stat)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def test_import_failures_are_init_errors_and_leave_no_instance(tmp_path: Path) -> None:
    broken = write_function(tmp_path, "broken", "import does_not_exist_anywhere\n")
    missing = write_function(tmp_path, "missing", "def other(event, context):\n    return 1\n")
    for folder, error_type in ((broken, "Runtime.ImportModuleError"), (missing, "Runtime.HandlerNotFound")):
        function = LocalFunction.from_code("InitFunction", folder)
        with pytest.raises(InvocationError) as caught:
            function.invoke({})
        assert caught.value.error_type == error_type
        assert function.instance_count == 0


def test_the_context_crosses_into_the_worker(tmp_path: Path) -> None:
    folder = write_function(
        tmp_path,
        "context",
        """
        def lambda_handler(event, context):
            return {
                "name": context.function_name,
                "arn": context.invoked_function_arn,
                "memory": context.memory_limit_in_mb,
                "request": context.aws_request_id,
                "stream": context.log_stream_name,
                "remaining": context.get_remaining_time_in_millis(),
            }
        """,
    )
    function = LocalFunction.from_code("ContextFunction", folder, timeout_seconds=9, memory_mb=256)
    try:
        first, second = function.invoke({}), function.invoke({})
    finally:
        function.close()
    assert first["name"] == "ContextFunction"
    assert first["arn"] == "arn:aws:lambda:us-east-1:123456789012:function:ContextFunction"
    assert first["memory"] == "256"
    assert first["request"] != second["request"]
    assert first["stream"] == second["stream"]  # one log stream per instance, as in Lambda
    assert 0 < first["remaining"] <= 9000
    assert json.loads(json.dumps(first)) == first


POWERTOOLS_HANDLER = """
from aws_lambda_powertools import Logger

logger = Logger(service="eventrelay")  # one service name for every function, as in the project


@logger.inject_lambda_context
def lambda_handler(event, context):
    logger.info(event["say"])
    return "ok"
"""


def test_each_functions_log_lines_carry_its_own_name(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    # Given two functions whose handlers share a Powertools service name (in one interpreter they
    # would share one logger, and one function's context keys would label the other's lines)
    publish = LocalFunction.from_code(
        "PublishFunction", write_function(tmp_path, "publish", POWERTOOLS_HANDLER)
    )
    runner = LocalFunction.from_code("RunnerFunction", write_function(tmp_path, "runner", POWERTOOLS_HANDLER))
    try:
        # When their invocations interleave
        for n in range(2):
            publish.invoke({"say": f"publish-{n}"})
            runner.invoke({"say": f"runner-{n}"})
    finally:
        publish.close()
        runner.close()
    # Then each line names the function that wrote it (the workers' log lines go to stderr)
    lines = [json.loads(line) for line in capfd.readouterr().err.splitlines() if line.startswith("{")]
    labels = {line["message"]: line["function_name"] for line in lines if "message" in line}
    assert labels == {
        "publish-0": "PublishFunction",
        "publish-1": "PublishFunction",
        "runner-0": "RunnerFunction",
        "runner-1": "RunnerFunction",
    }
