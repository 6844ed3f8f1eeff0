"""Names come from the stack's environment; tracing is on only where Powertools would trace; an
error is one `Errors` metric with its code as a dimension."""

from __future__ import annotations

import json

import pytest

from eventrelay.observability import (
    LOCAL_NAMESPACE,
    LOCAL_SERVICE,
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
