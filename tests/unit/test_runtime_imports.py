"""The runtime the Lambda layer ships never imports the admin/dev side (the CLI, the local stack,
`apply`) nor what only that side needs (PyYAML, moto, click): each function's handler is imported
in a fresh interpreter, as a cold Lambda instance imports it, and its modules are listed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

FUNCTIONS = sorted(path.parent for path in (REPO_ROOT / "functions").glob("*/app.py"))
FORBIDDEN_ROOTS = ("eventrelay_cli", "yaml", "moto", "click")
# With tracing off, a cold start loads no X-Ray SDK; the runtime's AWS clients are botocore's, so
# boto3 (and s3transfer with it) is never imported either.
COLD_PATH_FORBIDDEN_ROOTS = ("aws_xray_sdk", "boto3", "s3transfer")
# Token verification ships in the admin API function's own artifact, not in the shared layer.
ADMIN_API_ONLY_ROOTS = ("jwt", "cryptography")

# Imports the handler by file path, like the Lambda runtime, and prints the modules then loaded.
IMPORT_HANDLER = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("app", sys.argv[1])
module = importlib.util.module_from_spec(spec)
sys.modules["app"] = module
spec.loader.exec_module(module)
assert callable(module.lambda_handler)
print(json.dumps(sorted(sys.modules)))
"""

# Settings as a deployed function gets them, with the variables Lambda sets (tracing switched off);
# nothing is called at import time, so no AWS is needed.
FUNCTION_ENVIRONMENT = {
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "EVENTRELAY_CONFIG_TABLE": "config",
    "EVENTRELAY_LIMITS_TABLE": "limits",
    "EVENTRELAY_DELIVERIES_TABLE": "deliveries",
    "EVENTRELAY_EVENTS_QUEUE_URL": "http://127.0.0.1:9/000000000000/events",
    "EVENTRELAY_JOBS_QUEUE_URL": "http://127.0.0.1:9/000000000000/jobs",
    "EVENTRELAY_SECRET_PREFIX": "eventrelay/",
    "POWERTOOLS_SERVICE_NAME": "eventrelay",
    "POWERTOOLS_METRICS_NAMESPACE": "eventrelay",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "AWS_LAMBDA_FUNCTION_NAME": "Function",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
    "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
    "LAMBDA_TASK_ROOT": "/var/task",
}


def test_every_function_is_checked() -> None:
    assert [path.name for path in FUNCTIONS] == [
        "action_runner",
        "admin_api",
        "bulk_worker",
        "dataset_expander",
        "oauth_callback",
        "publish",
    ]


def imported_modules(function_dir: Path, tmp_path: Path, environment: dict[str, str]) -> list[str]:
    """The modules loaded once the handler's module is imported in a fresh interpreter."""
    completed = subprocess.run(
        [sys.executable, "-c", IMPORT_HANDLER, str(function_dir / "app.py")],
        cwd=tmp_path,  # not the checkout: its folders must not be importable by accident
        env={"PATH": os.environ.get("PATH", ""), **environment},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


@pytest.mark.parametrize("function_dir", FUNCTIONS, ids=lambda path: path.name)
def test_a_handler_imports_nothing_of_the_admin_side(function_dir: Path, tmp_path: Path) -> None:
    modules = imported_modules(function_dir, tmp_path, FUNCTION_ENVIRONMENT)
    assert "eventrelay" in modules  # the handler did load the runtime package
    leaked = [name for name in modules if name.split(".")[0] in FORBIDDEN_ROOTS]
    assert leaked == []
    if function_dir.name != "admin_api":
        assert [name for name in modules if name.split(".")[0] in ADMIN_API_ONLY_ROOTS] == []


@pytest.mark.parametrize("function_dir", FUNCTIONS, ids=lambda path: path.name)
def test_with_tracing_off_a_handler_imports_no_xray_sdk_and_no_boto3(
    function_dir: Path, tmp_path: Path
) -> None:
    modules = imported_modules(function_dir, tmp_path, FUNCTION_ENVIRONMENT)
    assert "eventrelay.observability" in modules
    loaded = sorted({name.split(".")[0] for name in modules} & set(COLD_PATH_FORBIDDEN_ROOTS))
    assert loaded == []


def test_with_tracing_on_the_publish_handler_has_an_xray_tracer(tmp_path: Path) -> None:
    # The same check can fail: tracing on (no POWERTOOLS_TRACE_DISABLED, in Lambda) loads X-Ray.
    traced = {
        name: value for name, value in FUNCTION_ENVIRONMENT.items() if name != "POWERTOOLS_TRACE_DISABLED"
    }
    modules = imported_modules(REPO_ROOT / "functions" / "publish", tmp_path, traced)
    assert "aws_xray_sdk.core" in modules


def test_the_publish_handler_imports_no_pydantic(tmp_path: Path) -> None:
    # Issue 12: the models a publish needs (Settings, EventEnvelope, Tenant, Registration) are
    # dataclasses; pydantic's import and model building were a large part of the cold start.
    modules = imported_modules(REPO_ROOT / "functions" / "publish", tmp_path, FUNCTION_ENVIRONMENT)
    assert [name for name in modules if name.split(".")[0] in ("pydantic", "pydantic_core")] == []
    # The same check can fail: the admin API's handler (connectors, actions, rules) does load it.
    admin_modules = imported_modules(REPO_ROOT / "functions" / "admin_api", tmp_path, FUNCTION_ENVIRONMENT)
    assert "pydantic" in admin_modules


def test_the_publish_handler_imports_no_powertools_until_it_logs_or_counts(tmp_path: Path) -> None:
    # Issue 12: an accepted publish logs nothing and counts nothing (API Gateway counts it), so the
    # publish function imports Powertools (its logger, metrics, tracer: ~150 ms) only when needed.
    modules = imported_modules(REPO_ROOT / "functions" / "publish", tmp_path, FUNCTION_ENVIRONMENT)
    assert [name for name in modules if name.split(".")[0] == "aws_lambda_powertools"] == []
    # The same check can fail: the runner's handler (Powertools' batch processing) does load it.
    runner = imported_modules(REPO_ROOT / "functions" / "action_runner", tmp_path, FUNCTION_ENVIRONMENT)
    assert "aws_lambda_powertools" in runner
