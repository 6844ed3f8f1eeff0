"""Names come from the stack's environment; tracing is on only where Powertools would trace; an
error is one `Errors` metric with its code as a dimension."""

from __future__ import annotations

import io
import json

import pytest

from eventrelay import observability
from eventrelay.observability import (
    API_GATEWAY_HTTP_REQUEST_ID,
    LOCAL_NAMESPACE,
    LOCAL_SERVICE,
    FunctionLogger,
    FunctionMetrics,
    NoTracer,
    build_tracer,
    count_error,
    metrics_namespace,
    service_name,
    tracing_enabled,
)

IN_LAMBDA = {"LAMBDA_TASK_ROOT": "/var/task", "AWS_LAMBDA_FUNCTION_NAME": "PublishFunction"}


def test_the_stack_names_the_service_and_the_namespace() -> None:
    stack = {"POWERTOOLS_SERVICE_NAME": "orders-relay", "POWERTOOLS_METRICS_NAMESPACE": "OrdersRelay-prod"}
    assert (service_name(stack), metrics_namespace(stack)) == ("orders-relay", "OrdersRelay-prod")
    # Outside a stack (tests, the CLI) the local names apply
    assert (service_name({}), metrics_namespace({})) == (LOCAL_SERVICE, LOCAL_NAMESPACE)


@pytest.mark.parametrize(
    ("environ", "enabled"),
    [
        (IN_LAMBDA, True),
        ({**IN_LAMBDA, "POWERTOOLS_TRACE_DISABLED": "true"}, False),
        ({**IN_LAMBDA, "POWERTOOLS_TRACE_DISABLED": "1"}, False),
        ({**IN_LAMBDA, "POWERTOOLS_TRACE_DISABLED": "false"}, True),
        ({**IN_LAMBDA, "AWS_SAM_LOCAL": "true"}, False),
        ({"AWS_LAMBDA_FUNCTION_NAME": "PublishFunction"}, False),  # no task root: not in Lambda
        ({}, False),
    ],
)
def test_tracing_is_on_only_in_lambda_and_not_disabled(environ: dict[str, str], enabled: bool) -> None:
    assert tracing_enabled(environ) is enabled


def test_without_tracing_the_handler_is_left_as_it_is() -> None:
    tracer = build_tracer({**IN_LAMBDA, "POWERTOOLS_TRACE_DISABLED": "true"})

    def handler(event: dict[str, str], context: object) -> dict[str, str]:
        return event

    assert isinstance(tracer, NoTracer)
    assert tracer.capture_lambda_handler(capture_response=False)(handler) is handler


def test_an_error_is_one_errors_metric_with_its_code_as_a_dimension(
    capsys: pytest.CaptureFixture[str],
) -> None:
    count_error("1006")
    document = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    (directive,) = document["_aws"]["CloudWatchMetrics"]
    assert [metric["Name"] for metric in directive["Metrics"]] == ["Errors"]
    assert directive["Namespace"] == metrics_namespace()
    assert sorted(name for names in directive["Dimensions"] for name in names) == ["errorCode", "service"]
    assert (document["errorCode"], document["Errors"]) == ("1006", [1.0])


class _Context:
    function_name, function_version, memory_limit_in_mb = "PublishFunction", "$LATEST", "512"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:PublishFunction"
    aws_request_id = "request-1"


def test_a_log_line_carries_the_invocation_context_and_correlation_id_given_before_the_logger_existed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a logger not yet created when the invocation starts (Powertools is imported on first use),
    # writing where the functions' logger writes (stdout as it was at import: here, a buffer)
    printed = io.StringIO()
    monkeypatch.setattr(observability, "_STDOUT", printed)
    logger = FunctionLogger("orders-relay")

    @logger.inject_lambda_context(correlation_id_path=API_GATEWAY_HTTP_REQUEST_ID, log_event=False)
    def handler(event: dict[str, object], context: object) -> None:
        logger.warning("refund failed", extra={"tenant_id": "acme"})

    # When two invocations log
    handler({"requestContext": {"requestId": "api-1"}}, _Context())
    handler({"requestContext": {"requestId": "api-2"}}, _Context())
    # Then each line is Powertools' structured JSON with that invocation's keys
    first, second = (json.loads(line) for line in printed.getvalue().strip().splitlines())
    assert (first["level"], first["message"], first["service"]) == (
        "WARNING",
        "refund failed",
        "orders-relay",
    )
    assert (first["correlation_id"], first["cold_start"], first["tenant_id"]) == ("api-1", True, "acme")
    assert first["function_request_id"] == "request-1"
    assert first["function_name"] == "PublishFunction"
    assert first["location"].startswith("handler:")  # the caller's line, not the wrapper's
    assert (second["correlation_id"], second["cold_start"]) == ("api-2", False)


def test_metrics_are_flushed_as_one_emf_line_per_invocation_and_none_without_metrics(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Powertools keeps one dimension set per process (one function, one service): the metrics of
    # this test share the process's service, whichever Metrics an earlier test created first.
    metrics = FunctionMetrics(observability.SERVICE, "OrdersRelay-test")

    @metrics.log_metrics
    def handler(event: dict[str, int], context: object) -> None:
        for _ in range(event["count"]):
            metrics.add_metric(name="BulkJobsAccepted", unit="Count", value=1)

    handler({"count": 0}, _Context())
    assert capsys.readouterr().out == ""  # nothing counted: no line, Powertools not even needed
    handler({"count": 2}, _Context())
    (line,) = capsys.readouterr().out.strip().splitlines()
    document = json.loads(line)
    (directive,) = document["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "OrdersRelay-test"
    assert (document["service"], document["BulkJobsAccepted"]) == (observability.SERVICE, [1.0, 1.0])
