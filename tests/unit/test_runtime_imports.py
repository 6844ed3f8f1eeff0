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

# Settings as a deployed function gets them; nothing is called at import time, so no AWS is needed.
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
}


def test_every_function_is_checked() -> None:
    assert [path.name for path in FUNCTIONS] == [
        "action_runner",
        "admin_api",
        "bulk_worker",
        "oauth_callback",
        "publish",
    ]


@pytest.mark.parametrize("function_dir", FUNCTIONS, ids=lambda path: path.name)
def test_a_handler_imports_nothing_of_the_admin_side(function_dir: Path, tmp_path: Path) -> None:
    environment = {"PATH": os.environ.get("PATH", ""), **FUNCTION_ENVIRONMENT}
    completed = subprocess.run(
        [sys.executable, "-c", IMPORT_HANDLER, str(function_dir / "app.py")],
        cwd=tmp_path,  # not the checkout: its folders must not be importable by accident
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    modules = json.loads(completed.stdout.strip().splitlines()[-1])
    assert "eventrelay" in modules  # the handler did load the runtime package
    leaked = [name for name in modules if name.split(".")[0] in FORBIDDEN_ROOTS]
    assert leaked == []
    if function_dir.name != "admin_api":
        assert [name for name in modules if name.split(".")[0] in ADMIN_API_ONLY_ROOTS] == []
