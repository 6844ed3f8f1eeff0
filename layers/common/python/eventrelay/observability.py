"""The one place that creates the Powertools Logger and Metrics and the functions' tracer.

Names: the service name and the metrics namespace come from the environment the template gives
every function (POWERTOOLS_SERVICE_NAME, POWERTOOLS_METRICS_NAMESPACE: one pair per stack, so two
stacks in one account never share metrics or alarms). A process outside a stack (the CLI, tests,
scripts) has neither and gets the LOCAL_* names.

Tracing: Powertools' `Tracer()` imports aws_xray_sdk (and with it a second botocore) even when
tracing is disabled, and patches every library X-Ray knows, importing them: most of a cold start
for nothing when tracing is off. So `tracer` is a real Tracer only when tracing is on (Powertools'
own rule, `tracing_enabled`), and then it patches botocore only (the AWS calls are what a trace of
these functions shows). Otherwise it is `NoTracer`, whose decorators return the handler unchanged,
and aws_xray_sdk is never imported.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Callable, Mapping
from typing import Any, Protocol, TypeVar

from aws_lambda_powertools import Logger, Metrics, single_metric
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.shared import constants
from aws_lambda_powertools.shared.functions import resolve_truthy_env_var_choice

# One metric for every refused call, its error code a dimension (one alarm can watch them all).
ERRORS_METRIC = "Errors"
ERROR_CODE_DIMENSION = "errorCode"
LOCAL_SERVICE = "eventrelay"
LOCAL_NAMESPACE = "EventRelayLocal"
# What a trace records: the AWS SDK's calls. patch_all would also import requests, sqlite3, httplib...
TRACED_MODULES = ("botocore",)

Handler = TypeVar("Handler", bound=Callable[..., Any])

# botocore and urllib3 log whole request and response bodies at DEBUG: Secrets Manager values,
# OAuth tokens, webhook URLs. Keep them at INFO even when the root logger (Lambda's system log
# level, a test's caplog) goes to DEBUG; a developer can still lower one of them explicitly.
for _library in ("botocore", "boto3", "urllib3"):
    if logging.getLogger(_library).level in (logging.NOTSET, logging.DEBUG):
        logging.getLogger(_library).setLevel(logging.INFO)

# An invocation with nothing to count (a runner batch of duplicates, a publish refused before it
# counted) is normal: Powertools would print a UserWarning to the function's log for each one.
warnings.filterwarnings("ignore", message="No application metrics to publish", category=UserWarning)


def service_name(environ: Mapping[str, str] = os.environ) -> str:
    return environ.get(constants.SERVICE_NAME_ENV) or LOCAL_SERVICE


def metrics_namespace(environ: Mapping[str, str] = os.environ) -> str:
    return environ.get(constants.METRICS_NAMESPACE_ENV) or LOCAL_NAMESPACE


def tracing_enabled(environ: Mapping[str, str] = os.environ) -> bool:
    """Powertools' rule: on in Lambda (LAMBDA_TASK_ROOT set) unless POWERTOOLS_TRACE_DISABLED is
    truthy or the function runs under SAM CLI or Chalice's local emulators (no X-Ray daemon)."""
    if resolve_truthy_env_var_choice(env=environ.get(constants.TRACER_DISABLED_ENV, "false")):
        return False
    emulated = environ.get(constants.SAM_LOCAL_ENV) or environ.get(constants.CHALICE_LOCAL_ENV)
    return bool(environ.get(constants.LAMBDA_TASK_ROOT_ENV)) and not emulated


class HandlerTracer(Protocol):
    """What the functions use of a tracer: `@tracer.capture_lambda_handler(capture_response=False)`."""

    def capture_lambda_handler(
        self,
        lambda_handler: None = None,
        capture_response: bool | None = None,
        capture_error: bool | None = None,
    ) -> Callable[[Handler], Handler]: ...


class NoTracer:
    """The tracer when tracing is off: records nothing and imports nothing."""

    def capture_lambda_handler(
        self,
        lambda_handler: None = None,
        capture_response: bool | None = None,
        capture_error: bool | None = None,
    ) -> Callable[[Handler], Handler]:
        def unchanged(handler: Handler) -> Handler:
            return handler

        return unchanged


def build_tracer(environ: Mapping[str, str] = os.environ) -> HandlerTracer:
    if not tracing_enabled(environ):
        return NoTracer()
    from aws_lambda_powertools import Tracer

    return Tracer(service=service_name(environ), auto_patch=True, patch_modules=TRACED_MODULES)


SERVICE = service_name()
NAMESPACE = metrics_namespace()
logger = Logger(service=SERVICE)
metrics = Metrics(service=SERVICE, namespace=NAMESPACE)
tracer = build_tracer()


def count_error(error_code: str) -> None:
    """One `Errors` data point with its `errorCode` dimension. Written at once as its own EMF line:
    a dimension added to `metrics` would apply to every metric of the invocation."""
    with single_metric(
        name=ERRORS_METRIC,
        unit=MetricUnit.Count,
        value=1,
        namespace=NAMESPACE,
        default_dimensions={"service": SERVICE},
    ) as metric:
        metric.add_dimension(name=ERROR_CODE_DIMENSION, value=error_code)
