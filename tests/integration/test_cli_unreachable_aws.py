"""With AWS unreachable (every endpoint a port that refuses connections) each command, run as a
user runs it, exits 1 with exactly one line on stderr (`error: ...`) and no traceback."""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.support.local_stack import EVENTRELAY

pytestmark = pytest.mark.slow  # starts one CLI process per command

TENANT = "acme"

COMMANDS: list[tuple[str, ...]] = [
    ("tenant", "list"),
    ("tenant", "show", TENANT),
    ("tenant", "create", "new-tenant"),
    ("secret", "rotate", TENANT),
    ("event", "list", TENANT),
    ("event", "register", TENANT, "OrderPlaced", "v01"),
    ("event", "delete", TENANT, "OrderPlaced", "v01"),
    ("limits", "show", TENANT),
    ("limits", "set", TENANT, "--sync-per-minute", "10"),
    ("connector", "list", TENANT),
    ("connector", "show", TENANT, "jira"),
    ("connector", "create", TENANT, "jira", "--base-url", "https://jira.example/"),
    ("connector", "delete", TENANT, "jira"),
    ("connector", "test", TENANT, "jira"),
    ("action", "list", TENANT),
    ("action", "show", TENANT, "hook"),
    ("action", "fields", TENANT, "hook"),
    ("action", "delete", TENANT, "hook"),
    ("rule", "list", TENANT),
    ("rule", "show", TENANT, "big"),
    ("rule", "disable", TENANT, "big"),
    ("rule", "delete", TENANT, "big"),
    ("delivery", "list", TENANT),
    ("audit", "list", TENANT),
    ("delivery", "show", TENANT, "d-1"),
    ("delivery", "replay", TENANT, "--dry-run"),
    ("job", "show", TENANT, "00000000-0000-0000-0000-000000000000", "--secret", "s"),
    ("publish", TENANT, "OrderPlaced", "v01", "--secret", "s", "--data", "{}"),
]


@pytest.fixture(scope="module")
def refusing_port() -> Iterator[int]:
    """A port bound but never listening: every connection to it is refused at once."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as bound:
        bound.bind(("127.0.0.1", 0))
        yield bound.getsockname()[1]


@pytest.fixture(scope="module")
def environment(refusing_port: int) -> dict[str, str]:
    unreachable = f"http://127.0.0.1:{refusing_port}"
    inherited = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AWS_", "EVENTRELAY_", "POWERTOOLS_"))
    }
    return {
        **inherited,
        "AWS_ENDPOINT_URL": unreachable,
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "EVENTRELAY_CONFIG_TABLE": "config",
        "EVENTRELAY_LIMITS_TABLE": "limits",
        "EVENTRELAY_DELIVERIES_TABLE": "deliveries",
        "EVENTRELAY_EVENTS_QUEUE_URL": f"{unreachable}/000000000000/events",
        "EVENTRELAY_JOBS_QUEUE_URL": f"{unreachable}/000000000000/jobs",
        "EVENTRELAY_SECRET_PREFIX": "eventrelay/",
        "EVENTRELAY_API_URL": unreachable,
    }


@pytest.fixture(scope="module")
def results(
    environment: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> dict[tuple[str, ...], subprocess.CompletedProcess[str]]:
    # Away from a developer's running local stack (its .eventrelay/local.json would be the target).
    workdir = tmp_path_factory.mktemp("unreachable")

    def run(argv: tuple[str, ...]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(EVENTRELAY), *argv],
            cwd=workdir,
            env=environment,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(zip(COMMANDS, pool.map(run, COMMANDS), strict=True))


def test_every_resource_has_its_list_and_show_here() -> None:
    groups = {argv[0] for argv in COMMANDS}
    assert {"tenant", "event", "limits", "connector", "action", "rule", "delivery", "job"} <= groups
    for group in ("tenant", "event", "connector", "action", "rule", "delivery"):
        assert (group, "list") in {argv[:2] for argv in COMMANDS}


@pytest.mark.parametrize("argv", COMMANDS, ids=" ".join)
def test_one_line_and_exit_1(
    argv: tuple[str, ...], results: dict[tuple[str, ...], subprocess.CompletedProcess[str]]
) -> None:
    completed = results[argv]
    assert "Traceback" not in completed.stderr + completed.stdout
    lines = completed.stderr.splitlines()
    assert len(lines) == 1, completed.stderr
    assert lines[0].startswith("error: "), lines[0]
    assert completed.returncode == 1, completed.stderr
    assert completed.stdout == ""


def test_json_anywhere_gives_the_same_failure(environment: dict[str, str], tmp_path: Path) -> None:
    def run(*argv: str) -> tuple[int, str, str]:
        completed = subprocess.run(
            [str(EVENTRELAY), *argv],
            cwd=tmp_path,
            env=environment,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        return completed.returncode, completed.stdout, completed.stderr

    assert run("--json", "rule", "list", TENANT) == run("rule", "list", TENANT, "--json")
