"""The CLI's framework: help from a fresh process without the heavy imports, and the one table
that turns errors into an exit code and one line."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from eventrelay.actions.errors import ActionConflict, ActionNotFound, InvalidAction
from eventrelay.connectors.errors import ConnectorExists, InvalidConnectorCredentials
from eventrelay.delivery.replay import DeliveryNotFound, NotReplayable
from eventrelay.errors import (
    DependencyFailure,
    InvalidResource,
    ResourceConflict,
    ResourceExists,
    ResourceInUse,
    ResourceNotFound,
)
from eventrelay.rules.errors import InvalidRule, RuleAlreadyExists
from eventrelay.tenants import TenantNotFound
from eventrelay_cli.commands import COMMANDS
from eventrelay_cli.exit_codes import CliError, Failure, failure_of
from tests.support.local_stack import EVENTRELAY

# What `--help` must not pay for: AWS SDK, pydantic models, settings, YAML, moto.
HEAVY_MODULES = ("boto3", "botocore", "pydantic", "yaml", "moto", "eventrelay.settings", "requests")

LIST_MODULES_AFTER_HELP = """
import json, sys
from eventrelay_cli.main import main
code = main(sys.argv[1:])
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""


def _fresh(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, cwd=cwd, env=dict(os.environ), capture_output=True, text=True, timeout=120, check=False
    )


def test_eventrelay_help_in_a_fresh_process_lists_every_command(tmp_path: Path) -> None:
    completed = _fresh(str(EVENTRELAY), "--help", cwd=tmp_path)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.startswith("Usage: eventrelay [OPTIONS] COMMAND [ARGS]...")
    commands_section = completed.stdout.split("Commands:")[1]
    listed = [line.split()[0] for line in commands_section.splitlines() if re.match(r"^  \S", line)]
    assert listed == list(COMMANDS)
    assert {"tenant", "event", "limits", "connector", "action", "rule", "delivery", "job"} <= set(listed)


def _is_heavy(module: str) -> bool:
    return any(module == heavy or module.startswith(heavy + ".") for heavy in HEAVY_MODULES)


@pytest.mark.parametrize(
    "command", [(), *((name,) for name in COMMANDS)], ids=lambda command: " ".join(command) or "root"
)
def test_help_loads_no_heavy_module(command: tuple[str, ...], tmp_path: Path) -> None:
    completed = _fresh(sys.executable, "-c", LIST_MODULES_AFTER_HELP, *command, "--help", cwd=tmp_path)
    assert completed.returncode == 0, completed.stderr
    answer = json.loads(completed.stdout.strip().splitlines()[-1])
    assert answer["code"] == 0
    assert f"Usage: eventrelay {' '.join(command)}".strip() in completed.stdout
    assert [name for name in answer["modules"] if _is_heavy(name)] == []


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (ResourceNotFound("widget 'w' not found"), Failure(3, "widget 'w' not found")),
        (TenantNotFound("acme"), Failure(3, "tenant 'acme' not found")),
        (ActionNotFound("hook"), Failure(3, "action 'hook' not found")),
        (DeliveryNotFound("d-1"), Failure(3, "delivery d-1 not found")),
        (ResourceExists("exists"), Failure(4, "exists")),
        (ConnectorExists("acme", "jira"), Failure(4, "connector jira already exists for tenant acme")),
        (RuleAlreadyExists("big"), Failure(4, "rule 'big' already exists")),
        (ResourceInUse("used by rule big"), Failure(4, "used by rule big")),
        (ResourceConflict("changed"), Failure(4, "changed")),
        (ActionConflict("hook"), Failure(4, "action 'hook' was modified concurrently; retry")),
        (NotReplayable("d-1", "it succeeded"), Failure(4, "delivery d-1 cannot be replayed: it succeeded")),
        (InvalidResource("bad"), Failure(2, "bad")),
        (InvalidAction(["url: bad"]), Failure(2, "invalid action: url: bad")),
        (InvalidRule(["mapping.n: missing"]), Failure(2, "invalid rule: mapping.n: missing")),
        (
            InvalidConnectorCredentials(["password: required"]),
            Failure(2, "credentials: password: required (secrets come from --*-env VARIABLE or --*-stdin)"),
        ),
        (DependencyFailure("dynamodb"), Failure(1, "AWS is unavailable (dynamodb)")),
        (
            EndpointConnectionError(endpoint_url="http://127.0.0.1:1/"),
            Failure(1, "AWS is unavailable (EndpointConnectionError)"),
        ),
        (
            ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow"}}, "Query"),
            Failure(1, "AWS refused the request (ThrottlingException)"),
        ),
        (CliError("pass --secret", 2), Failure(2, "pass --secret")),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, BaseException) else "",
)
def test_the_error_table(error: BaseException, expected: Failure) -> None:
    assert failure_of(error) == expected


def test_an_unknown_error_is_named_by_its_class_only() -> None:
    failure = failure_of(ValueError("token=SECRET-VALUE"))
    assert failure.exit_code == 1
    assert "SECRET-VALUE" not in failure.message
    assert failure.message.startswith("unexpected ValueError")
