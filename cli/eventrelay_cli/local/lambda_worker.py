"""One Lambda instance: a fresh interpreter that imports a handler and serves invocations one at a time.

Started by `lambda_runtime.WorkerProcess` as `python -m eventrelay_cli.local.lambda_worker HANDLER`
with the function's code folder as working directory (it is sys.path[0], like /var/task in Lambda)
and ONLY the environment the template gives the function. The protocol, over pipes, one JSON
document per line (JSON text never holds a raw newline):

    worker → parent   {"ready": true}                       after the handler module imported
                      {"ok": false, "errorType": ..., ...}  the import failed; the worker exits
    parent → worker   {"context": {...}}                    then the event's JSON on the next line
    worker → parent   {"ok": true, "result": ...}           or {"ok": false, "errorType": ..., ...}

The handler's own stdout (Powertools' log and metric lines, print) goes to the worker's stderr,
which the parent leaves connected to its own: the protocol keeps the real stdout to itself.
Closing the worker's stdin ends it; a timed-out invocation is ended by the parent with SIGKILL.

Only the standard library is imported here before the handler: a cold start costs what the
handler's own imports cost, as in Lambda.
"""

from __future__ import annotations

import decimal
import importlib
import json
import os
import re
import signal
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any

Handler = Callable[[dict[str, Any], Any], Any]


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

    def wire(self) -> dict[str, Any]:
        """What crosses the pipe: the fields, and the deadline as milliseconds left."""
        return {
            "function_name": self.function_name,
            "function_version": self.function_version,
            "invoked_function_arn": self.invoked_function_arn,
            "memory_limit_in_mb": self.memory_limit_in_mb,
            "aws_request_id": self.aws_request_id,
            "log_group_name": self.log_group_name,
            "log_stream_name": self.log_stream_name,
            "remaining_ms": self.get_remaining_time_in_millis(),
        }

    @classmethod
    def from_wire(cls, fields: dict[str, Any]) -> LambdaContext:
        remaining_ms = int(fields.pop("remaining_ms"))
        return cls(**fields, deadline_monotonic=time.monotonic() + remaining_ms / 1000)


class _LambdaJsonEncoder(json.JSONEncoder):
    """The runtime serializes results to JSON; like awslambdaric it accepts Decimal (DynamoDB numbers)."""

    def default(self, o: Any) -> Any:
        if isinstance(o, decimal.Decimal):
            return int(o) if o == o.to_integral_value() else float(o)
        return super().default(o)


def to_lambda_json(value: Any) -> str:
    return json.dumps(value, cls=_LambdaJsonEncoder)


def import_handler(handler: str) -> Handler:
    """Import `module.function` from sys.path as the Lambda runtime does (module path may use / or .)."""
    module_path, _, attribute = handler.rpartition(".")
    module_name = ".".join(part for part in re.split(r"[./]", module_path) if part)
    if not module_name or not attribute.isidentifier():
        raise ImportError(f"handler must look like 'module.function', got {handler!r}")
    module = importlib.import_module(module_name)
    function = getattr(module, attribute, None)
    if not callable(function):
        raise AttributeError(f"module {module_name!r} has no callable {attribute!r}")
    return function  # type: ignore[no-any-return]


def _failure(error_type: str, message: str) -> str:
    return json.dumps({"ok": False, "errorType": error_type, "errorMessage": message})


def _invoke(handler: Handler, context_fields: dict[str, Any], event_json: str) -> str:
    context = LambdaContext.from_wire(context_fields)
    try:
        result = handler(json.loads(event_json), context)
    except Exception as exc:
        # Lambda writes the error and its stack trace to the function's log, then reports it.
        print(f"[ERROR] {type(exc).__name__}: {exc}", file=sys.stderr)
        traceback.print_exc(file=sys.stderr)
        return _failure(type(exc).__name__, str(exc))
    try:
        return '{"ok": true, "result": ' + to_lambda_json(result) + "}"
    except (TypeError, ValueError) as exc:
        return _failure("Runtime.MarshalError", f"Unable to marshal response: {exc}")


def serve(handler_name: str, requests: IO[str], replies: IO[str]) -> int:
    try:
        handler = import_handler(handler_name)
    except AttributeError as exc:
        replies.write(_failure("Runtime.HandlerNotFound", str(exc)) + "\n")
        replies.flush()
        return 1
    except Exception as exc:
        traceback.print_exc(file=sys.stderr)
        message = f"Unable to import module {handler_name.rpartition('.')[0]!r}: {type(exc).__name__}: {exc}"
        replies.write(_failure("Runtime.ImportModuleError", message) + "\n")
        replies.flush()
        return 1
    replies.write('{"ready": true}\n')
    replies.flush()
    while True:
        header = requests.readline()
        event_json = requests.readline()
        if not header or not event_json:
            return 0  # the parent closed our stdin: the instance is shut down
        replies.write(_invoke(handler, json.loads(header)["context"], event_json) + "\n")
        replies.flush()


def main() -> int:
    # Ctrl-C in the terminal reaches the whole process group: the parent decides when instances
    # end (it closes our stdin), so an interrupt must not print a traceback from every worker.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Keep the real stdout for the protocol; the handler's prints and log lines go to stderr.
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8")
    sys.stdout.flush()
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    return serve(sys.argv[1], sys.stdin, replies)


if __name__ == "__main__":
    sys.exit(main())
