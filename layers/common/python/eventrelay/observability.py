"""The one place that creates the functions' logger, metrics and tracer.

Names: the service name and the metrics namespace come from the environment the template gives
every function (POWERTOOLS_SERVICE_NAME, POWERTOOLS_METRICS_NAMESPACE: one pair per stack, so two
stacks in one account never share metrics or alarms). A process outside a stack (the CLI, tests,
scripts) has neither and gets the LOCAL_* names.

Logger and metrics are Powertools' (its JSON log lines, its EMF metric lines, as the template's
alarms and dashboard read them), created on first use: importing `aws_lambda_powertools` costs a
cold start ~150 ms (its package imports its logger, metrics, tracer and their dependencies), and an
accepted publish logs nothing and counts nothing (API Gateway counts it), so a publish function
that only accepts never imports Powertools. `logger.inject_lambda_context` keeps the invocation's
keys (cold_start, function_name, function_memory_size, function_arn, function_request_id,
correlation_id) and hands them to the Logger when it is created; `metrics.log_metrics` flushes
after each invocation once metrics exist.

Tracing: Powertools' `Tracer()` imports aws_xray_sdk (and with it a second botocore) even when
tracing is disabled, and patches every library X-Ray knows, importing them: most of a cold start
for nothing when tracing is off. So `tracer` is a real Tracer only when tracing is on (Powertools'
own rule, `tracing_enabled`), and then it patches botocore only (the AWS calls are what a trace of
these functions shows). Otherwise it is `NoTracer`, whose decorators return the handler unchanged,
and aws_xray_sdk is never imported.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
import warnings
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, overload

if TYPE_CHECKING:
    from aws_lambda_powertools import Logger, Metrics

# One metric for every refused call, its error code a dimension (one alarm can watch them all).
ERRORS_METRIC = "Errors"
ERROR_CODE_DIMENSION = "errorCode"
LOCAL_SERVICE = "eventrelay"
LOCAL_NAMESPACE = "EventRelayLocal"
# What a trace records: the AWS SDK's calls. patch_all would also import requests, sqlite3, httplib...
TRACED_MODULES = ("botocore",)
# Powertools' variables (aws_lambda_powertools.shared.constants), named here so that reading them
# does not import Powertools.
SERVICE_NAME_ENV = "POWERTOOLS_SERVICE_NAME"
METRICS_NAMESPACE_ENV = "POWERTOOLS_METRICS_NAMESPACE"
TRACER_DISABLED_ENV = "POWERTOOLS_TRACE_DISABLED"
LOGGER_LOG_EVENT_ENV = "POWERTOOLS_LOGGER_LOG_EVENT"
SAM_LOCAL_ENV = "AWS_SAM_LOCAL"
CHALICE_LOCAL_ENV = "AWS_CHALICE_CLI_MODE"
LAMBDA_TASK_ROOT_ENV = "LAMBDA_TASK_ROOT"
# Where API Gateway (HTTP API, payload 2.0) puts its request id: Powertools'
# correlation_paths.API_GATEWAY_HTTP.
API_GATEWAY_HTTP_REQUEST_ID = "requestContext.requestId"

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


def truthy(value: str) -> bool:
    """Powertools' reading of a yes/no variable (its `strtobool`); anything else is a ValueError."""
    lowered = value.lower()
    if lowered in ("1", "y", "yes", "t", "true", "on"):
        return True
    if lowered in ("0", "n", "no", "f", "false", "off"):
        return False
    raise ValueError(f"invalid truth value {value!r}")


def service_name(environ: Mapping[str, str] = os.environ) -> str:
    return environ.get(SERVICE_NAME_ENV) or LOCAL_SERVICE


def metrics_namespace(environ: Mapping[str, str] = os.environ) -> str:
    return environ.get(METRICS_NAMESPACE_ENV) or LOCAL_NAMESPACE


def tracing_enabled(environ: Mapping[str, str] = os.environ) -> bool:
    """Powertools' rule: on in Lambda (LAMBDA_TASK_ROOT set) unless POWERTOOLS_TRACE_DISABLED is
    truthy or the function runs under SAM CLI or Chalice's local emulators (no X-Ray daemon)."""
    if truthy(environ.get(TRACER_DISABLED_ENV, "false")):
        return False
    emulated = environ.get(SAM_LOCAL_ENV) or environ.get(CHALICE_LOCAL_ENV)
    return bool(environ.get(LAMBDA_TASK_ROOT_ENV)) and not emulated


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


def _at_path(document: Any, path: str) -> Any:
    """The value at a dotted path of nested objects (the simple JMESPath Powertools' correlation
    paths are), None when any step is missing."""
    for step in path.split("."):
        if not isinstance(document, Mapping):
            return None
        document = document.get(step)
    return document


# Where the Logger writes, whenever it is created: stdout as it was when this module was imported,
# as when the Logger itself was created at import (a Logger created later, during a test's capsys or
# a bench's redirect_stdout, would otherwise keep writing into that stretch's buffer).
_STDOUT = sys.stdout


class FunctionLogger:
    """Powertools' Logger for `service`, created on first use; until then, what
    `inject_lambda_context` learns is kept for it."""

    def __init__(self, service: str) -> None:
        self._service = service
        self._logger: Logger | None = None
        self._keys: dict[str, Any] = {}
        self._correlation_id: Any = None
        self._cold_start = True

    @property
    def powertools(self) -> Logger:
        """The Logger itself (created now if it was not yet)."""
        if self._logger is None:
            from aws_lambda_powertools import Logger

            created = Logger(service=self._service, stream=_STDOUT)
            created.append_keys(**self._keys)
            if self._correlation_id is not None:
                created.set_correlation_id(self._correlation_id)
            self._logger = created
        return self._logger

    def debug(self, msg: object, *args: object, **kwargs: Any) -> None:
        self.powertools.debug(msg, *args, stacklevel=3, **kwargs)

    def info(self, msg: object, *args: object, **kwargs: Any) -> None:
        self.powertools.info(msg, *args, stacklevel=3, **kwargs)

    def warning(self, msg: object, *args: object, **kwargs: Any) -> None:
        self.powertools.warning(msg, *args, stacklevel=3, **kwargs)

    def error(self, msg: object, *args: object, **kwargs: Any) -> None:
        self.powertools.error(msg, *args, stacklevel=3, **kwargs)

    def exception(self, msg: object, *args: object, **kwargs: Any) -> None:
        self.powertools.exception(msg, *args, stacklevel=3, **kwargs)

    @overload
    def inject_lambda_context(self, lambda_handler: Handler) -> Handler: ...

    @overload
    def inject_lambda_context(
        self,
        lambda_handler: None = None,
        *,
        correlation_id_path: str | None = None,
        log_event: bool | None = None,
    ) -> Callable[[Handler], Handler]: ...

    def inject_lambda_context(
        self,
        lambda_handler: Handler | None = None,
        *,
        correlation_id_path: str | None = None,
        log_event: bool | None = None,
    ) -> Handler | Callable[[Handler], Handler]:
        """Powertools' decorator of the same name: each invocation's log lines carry its context
        keys (and the correlation id at `correlation_id_path` of the event); `log_event` (default:
        POWERTOOLS_LOGGER_LOG_EVENT) logs the event."""
        if lambda_handler is None:
            return functools.partial(
                self.inject_lambda_context, correlation_id_path=correlation_id_path, log_event=log_event
            )
        handler = lambda_handler
        logs_event = (
            log_event if log_event is not None else truthy(os.environ.get(LOGGER_LOG_EVENT_ENV, "false"))
        )

        @functools.wraps(handler)
        def with_context(event: Any, context: Any, *args: Any, **kwargs: Any) -> Any:
            self._start_invocation(event, context, correlation_id_path)
            if logs_event:
                self.info(event)
            return handler(event, context, *args, **kwargs)

        return with_context  # type: ignore[return-value]

    def _start_invocation(self, event: Any, context: Any, correlation_id_path: str | None) -> None:
        keys = {
            "cold_start": self._cold_start,
            "function_name": context.function_name,
            "function_memory_size": context.memory_limit_in_mb,
            "function_arn": context.invoked_function_arn,
            "function_request_id": context.aws_request_id,
        }
        self._cold_start = False
        self._keys.update(keys)
        if self._logger is not None:
            self._logger.append_keys(**keys)
        if correlation_id_path:
            self._correlation_id = _at_path(event, correlation_id_path)
            if self._logger is not None:
                self._logger.set_correlation_id(self._correlation_id)


class FunctionMetrics:
    """Powertools' Metrics (EMF) for `service` in `namespace`, created on the first metric."""

    def __init__(self, service: str, namespace: str) -> None:
        self._service = service
        self._namespace = namespace
        self._metrics: Metrics | None = None

    @property
    def powertools(self) -> Metrics:
        if self._metrics is None:
            from aws_lambda_powertools import Metrics

            self._metrics = Metrics(service=self._service, namespace=self._namespace)
        return self._metrics

    def add_metric(self, name: str, unit: Any, value: float) -> None:
        self.powertools.add_metric(name=name, unit=unit, value=value)

    def log_metrics(self, lambda_handler: Handler) -> Handler:
        """Powertools' decorator of the same name: the invocation's metrics are written (one EMF
        line) when it ends, however it ends; an invocation that added none writes nothing."""

        @functools.wraps(lambda_handler)
        def flushed(event: Any, context: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                return lambda_handler(event, context, *args, **kwargs)
            finally:
                if self._metrics is not None:
                    self._metrics.flush_metrics()

        return flushed  # type: ignore[return-value]


SERVICE = service_name()
NAMESPACE = metrics_namespace()
logger = FunctionLogger(SERVICE)
metrics = FunctionMetrics(SERVICE, NAMESPACE)
tracer = build_tracer()


def count_error(error_code: str) -> None:
    """One `Errors` data point with its `errorCode` dimension. Written at once as its own EMF line:
    a dimension added to `metrics` would apply to every metric of the invocation."""
    from aws_lambda_powertools import single_metric
    from aws_lambda_powertools.metrics import MetricUnit

    with single_metric(
        name=ERRORS_METRIC,
        unit=MetricUnit.Count,
        value=1,
        namespace=NAMESPACE,
        default_dimensions={"service": SERVICE},
    ) as metric:
        metric.add_dimension(name=ERROR_CODE_DIMENSION, value=error_code)
