"""Run Lambda handlers in-process the way the Lambda runtime does: load, give a context, invoke.

The local stack runs the SAME `functions/<name>/app.py` files that SAM deploys. This module:

- loads a handler by file path (`load_handler`), as the Lambda runtime imports it from /var/task;
- builds a context object with the attributes the Python runtime and Powertools use (`make_context`);
- invokes a function like Lambda does (`LocalFunction.invoke`): the event and the result cross a JSON
  boundary, the function's timeout is enforced, each instance serves one invocation at a time and
  more instances are started on demand (so module-level state is per instance, as in Lambda);
- reads each function's Handler, Timeout, MemorySize, CodeUri and HttpApi/SQS events from
  template.yaml, with Globals.Function applied (`read_function_specs`), so the local stack wires
  routes and queues from the same template that deploys them.
"""

from __future__ import annotations

import decimal
import importlib.util
import json
import logging
import re
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from eventrelay_cli.local.template_resources import load_template

Handler = Callable[[dict[str, Any], Any], Any]

DEFAULT_REGION = "us-east-1"
# moto's default account: ARNs built here match the queue ARNs moto reports.
DEFAULT_ACCOUNT_ID = "123456789012"
# Lambda's own defaults when neither the function nor Globals set them.
LAMBDA_DEFAULT_TIMEOUT_SECONDS = 3
LAMBDA_DEFAULT_MEMORY_MB = 128

_log = logging.getLogger("eventrelay_cli.local.lambda")


class HandlerLoadError(Exception):
    """The handler module could not be imported, or it has no such callable (Runtime.ImportModuleError)."""


class InvocationError(Exception):
    """The invocation failed as Lambda reports it: `error_type` is what Lambda puts in errorType."""

    def __init__(self, function_name: str, error_type: str, message: str) -> None:
        super().__init__(f"{function_name}: {error_type}: {message}")
        self.function_name = function_name
        self.error_type = error_type
        self.error_message = message


# --------------------------------------------------------------------------------------------------
# Loading a handler


def _module_file(function_dir: Path, module_path: str) -> Path:
    # Lambda accepts "app.lambda_handler", "pkg.mod.handler" and "pkg/mod.handler".
    parts = [p for p in re.split(r"[./]", module_path) if p]
    if not parts or any(not p.isidentifier() for p in parts):
        raise HandlerLoadError(f"invalid handler module {module_path!r}")
    base = function_dir.joinpath(*parts)
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    raise HandlerLoadError(f"no module {module_path!r} in {function_dir}")


def load_handler(function_dir: Path, handler: str = "app.lambda_handler") -> Handler:
    """Import `<function_dir>/<module>.py` by file path (fresh module object) and return its handler.

    Each call executes the module again under a unique module name, like a new Lambda instance
    (cold start): module-level state is not shared between loads. Sibling imports inside the
    function folder are not supported (no sys.path changes): entry points import the layer only.
    """
    module_path, _, attribute = handler.rpartition(".")
    if not module_path or not attribute.isidentifier():
        raise HandlerLoadError(f"handler must look like 'module.function', got {handler!r}")
    path = _module_file(function_dir, module_path)
    safe_dir = re.sub(r"\W", "_", function_dir.name)
    safe_module = re.sub(r"\W", "_", module_path)
    module_name = f"_eventrelay_local_{safe_dir}_{safe_module}_{uuid.uuid4().hex[:12]}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise HandlerLoadError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    # Registered so dataclasses, pickling and typing.get_type_hints can find the module by name.
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        sys.modules.pop(module_name, None)
        raise HandlerLoadError(f"importing {path} failed: {type(exc).__name__}") from exc
    function = getattr(module, attribute, None)
    if not callable(function):
        raise HandlerLoadError(f"{path} has no callable {attribute!r}")
    return function  # type: ignore[no-any-return]


# --------------------------------------------------------------------------------------------------
# The context object


@dataclass
class LambdaContext:
    """The attributes of the Python runtime's context object (awslambdaric's LambdaContext).

    `memory_limit_in_mb` is a string, as in the real runtime (it is read from an environment
    variable there): code that does arithmetic on it must convert, in AWS and here alike.
    """

    function_name: str
    function_version: str
    invoked_function_arn: str
    memory_limit_in_mb: str
    aws_request_id: str
    log_group_name: str
    log_stream_name: str
    deadline_monotonic: float = field(repr=False)
    client_context: Any = None
    identity: Any = None
    tenant_id: str | None = None

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline_monotonic - time.monotonic()) * 1000))


def make_context(
    function_name: str,
    timeout_seconds: int,
    memory_mb: int = 512,
    *,
    region: str = DEFAULT_REGION,
    account_id: str = DEFAULT_ACCOUNT_ID,
) -> LambdaContext:
    """A context for ONE invocation: fresh aws_request_id, deadline = now + timeout."""
    today = datetime.now(UTC).strftime("%Y/%m/%d")
    return LambdaContext(
        function_name=function_name,
        function_version="$LATEST",
        invoked_function_arn=f"arn:aws:lambda:{region}:{account_id}:function:{function_name}",
        memory_limit_in_mb=str(memory_mb),
        aws_request_id=str(uuid.uuid4()),
        log_group_name=f"/aws/lambda/{function_name}",
        log_stream_name=f"{today}/[$LATEST]{uuid.uuid4().hex}",
        deadline_monotonic=time.monotonic() + timeout_seconds,
    )


# --------------------------------------------------------------------------------------------------
# Invoking like Lambda


class _LambdaJsonEncoder(json.JSONEncoder):
    """The runtime serializes results to JSON; like awslambdaric it accepts Decimal (DynamoDB numbers)."""

    def default(self, o: Any) -> Any:
        if isinstance(o, decimal.Decimal):
            return int(o) if o == o.to_integral_value() else float(o)
        return super().default(o)


def to_lambda_json(value: Any) -> str:
    return json.dumps(value, cls=_LambdaJsonEncoder)


class LocalFunction:
    """One Lambda function: a pool of instances, each serving one invocation at a time.

    `handler_factory` creates an instance (a cold start); `max_instances` bounds concurrency like
    reserved concurrency. An instance that timed out is discarded (Lambda resets its sandbox).
    """

    def __init__(
        self,
        name: str,
        handler_factory: Callable[[], Handler],
        *,
        timeout_seconds: int = LAMBDA_DEFAULT_TIMEOUT_SECONDS,
        memory_mb: int = LAMBDA_DEFAULT_MEMORY_MB,
        max_instances: int = 10,
        region: str = DEFAULT_REGION,
        account_id: str = DEFAULT_ACCOUNT_ID,
    ) -> None:
        if timeout_seconds < 1 or max_instances < 1:
            raise ValueError("timeout_seconds and max_instances must be at least 1")
        self.name = name
        self.timeout_seconds = timeout_seconds
        self.memory_mb = memory_mb
        self.max_instances = max_instances
        self.region = region
        self.account_id = account_id
        self._factory = handler_factory
        self._idle: list[Handler] = []
        self._instances = 0
        self._available = threading.Condition()

    @classmethod
    def from_handler(cls, name: str, handler: Handler, **options: Any) -> LocalFunction:
        """Wrap a callable already in memory (every instance is that same callable)."""
        return cls(name, lambda: handler, **options)

    @classmethod
    def from_spec(cls, spec: FunctionSpec, **options: Any) -> LocalFunction:
        """The function a template declares: its code folder, handler, timeout and memory."""
        return cls(
            spec.logical_id,
            lambda: load_handler(spec.code_dir, spec.handler),
            timeout_seconds=spec.timeout_seconds,
            memory_mb=spec.memory_mb,
            **options,
        )

    @property
    def instance_count(self) -> int:
        with self._available:
            return self._instances

    def _acquire(self) -> Handler:
        with self._available:
            while not self._idle and self._instances >= self.max_instances:
                self._available.wait()
            if self._idle:
                return self._idle.pop()
            self._instances += 1
        try:
            return self._factory()
        except Exception as exc:
            self._release(None)
            raise InvocationError(self.name, "Runtime.ImportModuleError", type(exc).__name__) from exc

    def _release(self, instance: Handler | None) -> None:
        with self._available:
            if instance is None:
                self._instances -= 1
            else:
                self._idle.append(instance)
            self._available.notify()

    def invoke(self, event: Mapping[str, Any]) -> Any:
        """Invoke synchronously; returns the JSON-decoded result or raises InvocationError."""
        payload = to_lambda_json(event)
        instance = self._acquire()
        context = make_context(
            self.name, self.timeout_seconds, self.memory_mb, region=self.region, account_id=self.account_id
        )
        outcome: dict[str, Any] = {}

        def run() -> None:
            try:
                outcome["result"] = instance(json.loads(payload), context)
            except BaseException as exc:  # reported to the caller, as Lambda reports any error
                outcome["error"] = exc

        worker = threading.Thread(
            target=run, name=f"lambda-{self.name}-{context.aws_request_id[:8]}", daemon=True
        )
        worker.start()
        worker.join(self.timeout_seconds)
        if worker.is_alive():
            # The thread cannot be killed; its instance is never reused, like a reset sandbox.
            self._release(None)
            _log.error(
                "invocation timed out",
                extra={"function": self.name, "request_id": context.aws_request_id},
            )
            raise InvocationError(
                self.name, "Sandbox.Timedout", f"Task timed out after {self.timeout_seconds}.00 seconds"
            )
        self._release(instance)
        if "error" in outcome:
            error: BaseException = outcome["error"]
            _log.error(
                "invocation failed",
                extra={"function": self.name, "request_id": context.aws_request_id},
                exc_info=error,
            )
            raise InvocationError(self.name, type(error).__name__, "the handler raised") from error
        try:
            return json.loads(to_lambda_json(outcome.get("result")))
        except (TypeError, ValueError) as exc:
            raise InvocationError(
                self.name, "Runtime.MarshalError", "result is not JSON serializable"
            ) from exc


# --------------------------------------------------------------------------------------------------
# Reading functions from template.yaml


@dataclass(frozen=True)
class HttpApiRoute:
    """An HttpApi event: `method` is upper case ("ANY" for any), `path` "$default" for the catch-all."""

    event_id: str
    method: str
    path: str

    @property
    def route_key(self) -> str:
        return "$default" if self.path == "$default" else f"{self.method} {self.path}"


@dataclass(frozen=True)
class SqsEventSourceSpec:
    """An SQS event with the defaults Lambda applies to the event source mapping."""

    event_id: str
    queue_logical_id: str
    batch_size: int = 10
    maximum_batching_window_seconds: int = 0
    report_batch_item_failures: bool = False
    maximum_concurrency: int | None = None
    enabled: bool = True


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    code_dir: Path
    handler: str
    timeout_seconds: int
    memory_mb: int
    http_routes: tuple[HttpApiRoute, ...] = ()
    sqs_sources: tuple[SqsEventSourceSpec, ...] = ()


def _queue_logical_id(value: Any, where: str) -> str:
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        logical_id, attribute = value["Fn::GetAtt"]
        if attribute == "Arn":
            return str(logical_id)
    raise ValueError(f"{where}: Queue must be !GetAtt <queue>.Arn of a queue in the template")


def _http_route(event_id: str, properties: Mapping[str, Any]) -> HttpApiRoute:
    method = str(properties.get("Method", "ANY")).upper()
    if method == "X-AMAZON-APIGATEWAY-ANY-METHOD":
        method = "ANY"
    path = properties.get("Path")
    if path is None:
        # SAM: an HttpApi event without Path and Method is the API's $default route.
        return HttpApiRoute(event_id, "ANY", "$default")
    return HttpApiRoute(event_id, method, str(path))


def _sqs_source(event_id: str, properties: Mapping[str, Any], where: str) -> SqsEventSourceSpec:
    scaling = properties.get("ScalingConfig") or {}
    maximum = scaling.get("MaximumConcurrency")
    return SqsEventSourceSpec(
        event_id=event_id,
        queue_logical_id=_queue_logical_id(properties.get("Queue"), where),
        batch_size=int(properties.get("BatchSize", 10)),
        maximum_batching_window_seconds=int(properties.get("MaximumBatchingWindowInSeconds", 0)),
        report_batch_item_failures="ReportBatchItemFailures"
        in (properties.get("FunctionResponseTypes") or []),
        maximum_concurrency=int(maximum) if maximum is not None else None,
        enabled=bool(properties.get("Enabled", True)),
    )


def read_function_specs(template_path: Path) -> dict[str, FunctionSpec]:
    """Every AWS::Serverless::Function in the template, by logical id, Globals.Function applied."""
    template = load_template(template_path)
    globals_ = (template.get("Globals") or {}).get("Function") or {}
    specs: dict[str, FunctionSpec] = {}
    for logical_id, resource in (template.get("Resources") or {}).items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        properties = {**globals_, **(resource.get("Properties") or {})}
        code_uri = properties.get("CodeUri")
        handler = properties.get("Handler")
        if not isinstance(code_uri, str) or not isinstance(handler, str):
            raise ValueError(f"{logical_id}: the local stack needs a local CodeUri and a Handler")
        routes: list[HttpApiRoute] = []
        sources: list[SqsEventSourceSpec] = []
        for event_id, event in (properties.get("Events") or {}).items():
            event_properties = event.get("Properties") or {}
            if event.get("Type") == "HttpApi":
                routes.append(_http_route(event_id, event_properties))
            elif event.get("Type") == "SQS":
                sources.append(_sqs_source(event_id, event_properties, f"{logical_id}.{event_id}"))
        specs[logical_id] = FunctionSpec(
            logical_id=logical_id,
            code_dir=(template_path.parent / code_uri).resolve(),
            handler=handler,
            timeout_seconds=int(properties.get("Timeout", LAMBDA_DEFAULT_TIMEOUT_SECONDS)),
            memory_mb=int(properties.get("MemorySize", LAMBDA_DEFAULT_MEMORY_MB)),
            http_routes=tuple(routes),
            sqs_sources=tuple(sources),
        )
    return specs
