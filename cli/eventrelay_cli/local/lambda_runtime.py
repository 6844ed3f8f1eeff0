"""Run Lambda functions locally the way Lambda does: one instance per process, one invocation at a time.

The local stack runs the SAME `functions/<name>/app.py` files that SAM deploys. This module:

- reads each function's Handler, Timeout, MemorySize, CodeUri, Environment and HttpApi/SQS events
  from template.yaml, with Globals.Function applied (`read_function_specs`), so the local stack
  wires routes and queues from the same template that deploys them;
- invokes a function like Lambda does (`LocalFunction.invoke`): a pool of instances, each serving
  one invocation at a time, new ones started on demand up to `max_instances`, idle ones reused;
  the event and the result cross a JSON boundary; an invocation that passes the function's
  timeout fails with Lambda's `Sandbox.Timedout` and its instance is never reused.

Where an instance lives:

- `WorkerProcess` (what the local stack uses, `LocalFunction.from_spec`/`from_code`): a fresh
  Python interpreter per instance (`lambda_worker.py`), given only the environment the template
  gives the function. Module-level state (caches, boto3 clients, Powertools' Logger, Metrics and
  Tracer, the resolver's current event) is never shared between instances or functions, a cold
  start imports the handler for real, and a timed-out invocation is ended with SIGKILL, as Lambda
  ends it: nothing it would have done afterwards happens. The instances also use every core.
- `InProcessInstance` (`LocalFunction.from_handler` and a factory of callables): a callable of the
  calling interpreter, for tests that put a recording handler behind an event source or a route.
  Its state is whatever the callable closes over, and a timed-out call cannot be stopped (its
  thread runs on; the instance is discarded). The local stack never uses it.

Why a small subprocess protocol over pipes rather than `multiprocessing` (spawn): the worker must
start with the function's environment and nothing else (spawn copies the parent's os.environ and
re-imports the parent's `__main__`, here pytest or the CLI, into every instance), its stdout must
stay free for the handler's log lines, and killing it must not corrupt a shared queue or manager
(a process killed while holding a multiprocessing pipe or lock can). `subprocess.Popen` with an
explicit `env`, one JSON line each way and `kill()` gives exactly Lambda's lifecycle.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import select
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from eventrelay_cli.local.lambda_worker import Handler, LambdaContext, to_lambda_json
from eventrelay_cli.local.template_resources import load_template

__all__ = [
    "DEFAULT_ACCOUNT_ID",
    "DEFAULT_REGION",
    "FunctionSpec",
    "Handler",
    "HandlerLoadError",
    "HttpApiRoute",
    "InProcessInstance",
    "InvocationError",
    "LambdaContext",
    "LocalFunction",
    "SqsEventSourceSpec",
    "WorkerProcess",
    "lambda_environment",
    "load_handler",
    "make_context",
    "read_function_specs",
    "to_lambda_json",
]

DEFAULT_REGION = "us-east-1"
# moto's default account: ARNs built here match the queue ARNs moto reports.
DEFAULT_ACCOUNT_ID = "123456789012"
# Lambda's own defaults when neither the function nor Globals set them.
LAMBDA_DEFAULT_TIMEOUT_SECONDS = 3
LAMBDA_DEFAULT_MEMORY_MB = 128
# How long a cold start (interpreter + the handler's imports) may take before it counts as failed.
# Lambda allows 10 s; a laptop starting several instances at once on two cores needs more.
INIT_TIMEOUT_SECONDS = 60.0
WORKER_MODULE = "eventrelay_cli.local.lambda_worker"

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


def timed_out(function_name: str, timeout_seconds: int) -> InvocationError:
    return InvocationError(
        function_name, "Sandbox.Timedout", f"Task timed out after {timeout_seconds}.00 seconds"
    )


# --------------------------------------------------------------------------------------------------
# Loading a handler into THIS interpreter (tests and benchmarks that call a handler directly)


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
    """Import `<function_dir>/<module>.py` into this interpreter by file path and return its handler.

    Each call executes the module again under a unique module name, so module-level state of the
    file itself is not shared between loads; what it imports (the layer, Powertools' singletons)
    is. For tests and benchmarks that call a handler directly; the local stack runs `WorkerProcess`.
    """
    import importlib.util

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


def _log_stream_name() -> str:
    return f"{datetime.now(UTC):%Y/%m/%d}/[$LATEST]{uuid.uuid4().hex}"


def make_context(
    function_name: str,
    timeout_seconds: int,
    memory_mb: int = 512,
    *,
    region: str = DEFAULT_REGION,
    account_id: str = DEFAULT_ACCOUNT_ID,
    log_stream_name: str | None = None,
) -> LambdaContext:
    """A context for ONE invocation: fresh aws_request_id, deadline = now + timeout."""
    return LambdaContext(
        function_name=function_name,
        function_version="$LATEST",
        invoked_function_arn=f"arn:aws:lambda:{region}:{account_id}:function:{function_name}",
        memory_limit_in_mb=str(memory_mb),
        aws_request_id=str(uuid.uuid4()),
        log_group_name=f"/aws/lambda/{function_name}",
        log_stream_name=log_stream_name or _log_stream_name(),
        deadline_monotonic=time.monotonic() + timeout_seconds,
    )


def lambda_environment(
    function_name: str,
    *,
    handler: str,
    code_dir: Path,
    timeout_seconds: int,
    memory_mb: int,
    region: str,
) -> dict[str, str]:
    """The variables Lambda itself sets in every function's environment (reserved names)."""
    return {
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
        "AWS_LAMBDA_FUNCTION_NAME": function_name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory_mb),
        "AWS_LAMBDA_FUNCTION_TIMEOUT": str(timeout_seconds),
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function_name}",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "_HANDLER": handler,
        "LAMBDA_TASK_ROOT": str(code_dir),
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "PYTHONUNBUFFERED": "1",
        # The interpreter's own PATH entries only: tools a handler shells out to must be found.
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
    }


# --------------------------------------------------------------------------------------------------
# Instances


class Instance(Protocol):
    """One execution environment: serves one invocation at a time until it is closed or broken."""

    @property
    def usable(self) -> bool: ...

    @property
    def log_stream_name(self) -> str: ...

    def invoke(self, event_json: str, context: LambdaContext, timeout_seconds: int) -> Any: ...

    def close(self) -> None: ...


class InProcessInstance:
    """A callable of this interpreter as an instance (see the module docstring for its limits)."""

    def __init__(self, function_name: str, handler: Handler) -> None:
        self.function_name = function_name
        self.handler = handler
        self.usable = True
        self.log_stream_name = _log_stream_name()

    def invoke(self, event_json: str, context: LambdaContext, timeout_seconds: int) -> Any:
        outcome: dict[str, Any] = {}

        def run() -> None:
            try:
                outcome["result"] = self.handler(json.loads(event_json), context)
            except BaseException as exc:  # reported to the caller, as Lambda reports any error
                outcome["error"] = exc

        worker = threading.Thread(
            target=run, name=f"lambda-{self.function_name}-{context.aws_request_id[:8]}", daemon=True
        )
        worker.start()
        worker.join(timeout_seconds)
        if worker.is_alive():
            self.usable = False  # its thread cannot be stopped: never hand it another invocation
            raise timed_out(self.function_name, timeout_seconds)
        if "error" in outcome:
            error: BaseException = outcome["error"]
            raise InvocationError(self.function_name, type(error).__name__, "the handler raised") from error
        try:
            return json.loads(to_lambda_json(outcome.get("result")))
        except (TypeError, ValueError) as exc:
            raise InvocationError(
                self.function_name, "Runtime.MarshalError", "result is not JSON serializable"
            ) from exc

    def close(self) -> None:
        self.usable = False


class WorkerProcess:
    """An instance in its own interpreter (`lambda_worker.py`); `start()` is the cold start."""

    def __init__(
        self, function_name: str, handler: str, code_dir: Path, environment: Mapping[str, str]
    ) -> None:
        self.function_name = function_name
        self.handler = handler
        self.code_dir = code_dir
        # One log stream per instance, as Lambda names a sandbox's stream.
        self.log_stream_name = _log_stream_name()
        self.environment = {**environment, "AWS_LAMBDA_LOG_STREAM_NAME": self.log_stream_name}
        self._usable = False
        self._process: subprocess.Popen[bytes] | None = None
        self._buffer = bytearray()

    @property
    def usable(self) -> bool:
        """Ready for an invocation: started, never broken, and its process still alive. An instance
        whose process died while idle (killed from outside) is never handed an invocation: Lambda
        gives the next one to a fresh sandbox."""
        process = self._process
        return self._usable and process is not None and process.poll() is None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def start(self, init_timeout: float = INIT_TIMEOUT_SECONDS) -> WorkerProcess:
        self._process = subprocess.Popen(
            [sys.executable, "-m", WORKER_MODULE, self.handler],
            cwd=self.code_dir,
            env=self.environment,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            close_fds=True,
        )
        try:
            reply = self._read_reply(time.monotonic() + init_timeout)
        except TimeoutError:
            self.kill()
            raise InvocationError(
                self.function_name, "Runtime.InitTimeout", f"init did not finish in {init_timeout:.0f} s"
            ) from None
        if not reply.get("ready"):
            self.kill()
            raise InvocationError(
                self.function_name,
                str(reply.get("errorType", "Runtime.Unknown")),
                str(reply.get("errorMessage", "")),
            )
        self._usable = True
        return self

    def _read_reply(self, deadline: float) -> dict[str, Any]:
        """The next protocol line; TimeoutError at the deadline, Runtime.ExitError if the worker died."""
        process = self._process
        assert process is not None
        assert process.stdout is not None
        descriptor = process.stdout.fileno()
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            readable, _, _ = select.select([descriptor], [], [], remaining)
            if not readable:
                continue
            chunk = os.read(descriptor, 1 << 16)
            if not chunk:
                self._usable = False
                status = process.wait()
                self._close_pipes()
                reason = f"signal {-status}" if status < 0 else f"exit status {status}"
                raise InvocationError(
                    self.function_name, "Runtime.ExitError", f"Runtime exited with error: {reason}"
                )
            self._buffer.extend(chunk)
        line, _, rest = bytes(self._buffer).partition(b"\n")
        self._buffer = bytearray(rest)
        reply: dict[str, Any] = json.loads(line)
        return reply

    def invoke(self, event_json: str, context: LambdaContext, timeout_seconds: int) -> Any:
        process = self._process
        assert process is not None
        assert process.stdin is not None
        deadline = time.monotonic() + timeout_seconds
        header = json.dumps({"context": context.wire()})
        try:
            process.stdin.write(f"{header}\n{event_json}\n".encode())
            process.stdin.flush()
            reply = self._read_reply(deadline)
        except TimeoutError:
            # Lambda stops the runtime at the deadline: the handler gets no chance to go on.
            self.kill()
            raise timed_out(self.function_name, timeout_seconds) from None
        except (BrokenPipeError, ConnectionResetError):
            self.kill()
            raise InvocationError(
                self.function_name, "Runtime.ExitError", "Runtime exited before the invocation"
            ) from None
        if not reply.get("ok"):
            raise InvocationError(
                self.function_name, str(reply.get("errorType")), str(reply.get("errorMessage", ""))
            )
        return reply.get("result")

    def kill(self) -> None:
        """End the instance at once (SIGKILL) and reap it: after this returns it does nothing more."""
        self._usable = False
        process = self._process
        if process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        process.wait()
        self._close_pipes()

    def close(self, grace_seconds: float = 5.0) -> None:
        """Shut the instance down: end of input, then SIGKILL if it does not exit within the grace time."""
        self.request_close()
        self.wait_closed(grace_seconds)

    def request_close(self) -> None:
        """End the worker's input: it exits after its current invocation (see `wait_closed`)."""
        self._usable = False
        process = self._process
        if process is not None and process.stdin is not None:
            with contextlib.suppress(OSError):
                process.stdin.close()

    def wait_closed(self, grace_seconds: float) -> None:
        process = self._process
        if process is None:
            return
        try:
            process.wait(grace_seconds)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        self._close_pipes()

    def _close_pipes(self) -> None:
        process = self._process
        if process is None:
            return
        for stream in (process.stdin, process.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()


# --------------------------------------------------------------------------------------------------
# A function: a pool of instances


InstanceFactory = Callable[[], "InProcessInstance | WorkerProcess | Handler"]


class LocalFunction:
    """One Lambda function: a pool of instances, each serving one invocation at a time.

    `instance_factory` creates an instance (a cold start); `max_instances` bounds concurrency like
    reserved concurrency: an invocation beyond it waits for an instance to become idle. An
    instance whose invocation timed out or whose process died is discarded (Lambda resets its
    sandbox). `close()` shuts every instance down.
    """

    def __init__(
        self,
        name: str,
        instance_factory: InstanceFactory,
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
        self._factory = instance_factory
        self._idle: list[Instance] = []
        self._instances = 0
        self._started = 0
        self._closed = False
        self._available = threading.Condition()

    @classmethod
    def from_handler(cls, name: str, handler: Handler, **options: Any) -> LocalFunction:
        """A callable of this interpreter (every instance is that same callable): for tests."""
        return cls(name, lambda: InProcessInstance(name, handler), **options)

    @classmethod
    def from_code(
        cls,
        name: str,
        code_dir: Path,
        handler: str = "app.lambda_handler",
        *,
        environment: Mapping[str, str] | None = None,
        timeout_seconds: int = LAMBDA_DEFAULT_TIMEOUT_SECONDS,
        memory_mb: int = LAMBDA_DEFAULT_MEMORY_MB,
        region: str = DEFAULT_REGION,
        **options: Any,
    ) -> LocalFunction:
        """Code in a folder, each instance a worker process with `environment` plus Lambda's own variables."""
        full_environment = {
            **(environment or {}),
            **lambda_environment(
                name,
                handler=handler,
                code_dir=code_dir,
                timeout_seconds=timeout_seconds,
                memory_mb=memory_mb,
                region=region,
            ),
        }

        def start_worker() -> WorkerProcess:
            return WorkerProcess(name, handler, code_dir, full_environment).start()

        return cls(
            name,
            start_worker,
            timeout_seconds=timeout_seconds,
            memory_mb=memory_mb,
            region=region,
            **options,
        )

    @classmethod
    def from_spec(
        cls, spec: FunctionSpec, *, environment: Mapping[str, str] | None = None, **options: Any
    ) -> LocalFunction:
        """The function a template declares: its code folder, handler, timeout and memory, in workers.

        environment: the function's variables with the template's references resolved (see
        `LocalAws.function_environment`); without it, only the variables that are plain text.
        """
        if environment is None:
            environment = {k: v for k, v in spec.environment.items() if isinstance(v, str)}
        return cls.from_code(
            spec.logical_id,
            spec.code_dir,
            spec.handler,
            environment=environment,
            timeout_seconds=spec.timeout_seconds,
            memory_mb=spec.memory_mb,
            **options,
        )

    @property
    def instance_count(self) -> int:
        """Instances alive now (busy or idle)."""
        with self._available:
            return self._instances

    @property
    def cold_starts(self) -> int:
        """Instances started so far (each one a cold start)."""
        with self._available:
            return self._started

    def _create(self) -> Instance:
        created = self._factory()
        if isinstance(created, InProcessInstance | WorkerProcess):
            return created
        # A factory of plain handlers: each handler it returns is one in-process instance.
        return InProcessInstance(self.name, created)

    def _acquire(self) -> Instance:
        with self._available:
            while not self._idle and self._instances >= self.max_instances and not self._closed:
                self._available.wait()
            if self._closed:
                raise InvocationError(self.name, "Runtime.Shutdown", "the local stack is stopping")
            # An idle instance whose process died (killed from outside) is replaced, not reused.
            dead = [idle for idle in self._idle if not idle.usable]
            self._idle = [idle for idle in self._idle if idle.usable]
            self._instances -= len(dead)
            warm: Instance | None = self._idle.pop() if self._idle else None  # the most recently used
            if warm is None:
                self._instances += 1
                self._started += 1
        for gone in dead:
            gone.close()
        if warm is not None:
            return warm
        try:
            return self._create()
        except InvocationError:
            self._release(None)
            raise
        except Exception as exc:
            self._release(None)
            raise InvocationError(self.name, "Runtime.ImportModuleError", type(exc).__name__) from exc

    def _release(self, instance: Instance | None) -> None:
        with self._available:
            if instance is not None and instance.usable and not self._closed:
                self._idle.append(instance)
            else:
                self._instances -= 1
                if instance is not None:
                    instance.close()
            self._available.notify()

    def invoke(self, event: Mapping[str, Any]) -> Any:
        """Invoke synchronously; returns the JSON-decoded result or raises InvocationError."""
        event_json = to_lambda_json(event)
        instance = self._acquire()
        context = make_context(
            self.name,
            self.timeout_seconds,
            self.memory_mb,
            region=self.region,
            account_id=self.account_id,
            log_stream_name=instance.log_stream_name,
        )
        try:
            return instance.invoke(event_json, context, self.timeout_seconds)
        except InvocationError as exc:
            level = logging.ERROR if exc.error_type == "Sandbox.Timedout" else logging.WARNING
            _log.log(
                level,
                "%s invocation %s failed: %s",
                self.name,
                context.aws_request_id,
                exc.error_type,
                extra={"function": self.name, "request_id": context.aws_request_id},
            )
            raise
        finally:
            self._release(instance)

    def close(self) -> None:
        """Shut down idle instances now and busy ones when their invocation ends; refuse new invocations."""
        with self._available:
            self._closed = True
            idle, self._idle = self._idle, []
            self._instances -= len(idle)
            self._available.notify_all()
        # All at once: an interpreter with boto3 and Powertools takes a moment to exit.
        for instance in idle:
            if isinstance(instance, WorkerProcess):
                instance.request_close()
        for instance in idle:
            instance.close()


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
    # Environment.Variables, Globals' merged under the function's, references not yet resolved.
    environment: Mapping[str, Any] = field(default_factory=dict)


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
        own = resource.get("Properties") or {}
        properties = {**globals_, **own}
        environment = {
            **((globals_.get("Environment") or {}).get("Variables") or {}),
            **((own.get("Environment") or {}).get("Variables") or {}),
        }
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
            environment=environment,
        )
    return specs
