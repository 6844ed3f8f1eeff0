"""The supply chain: every third-party module the runtime imports is declared in pyproject.toml (not
left to arrive through another package), uv.lock matches pyproject.toml, and the requirements the
Lambda artifacts install are the ones exported from uv.lock."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

from tests.support.paths import REPO_ROOT

RUNTIME_SOURCES = [
    *sorted((REPO_ROOT / "layers/common/python/eventrelay").rglob("*.py")),
    *sorted((REPO_ROOT / "functions").glob("*/app.py")),
]
FIRST_PARTY = {"eventrelay", "app"}
UV = Path(sys.executable).parent / "uv"


def _is_type_checking_block(node: ast.AST) -> bool:
    if not isinstance(node, ast.If):
        return False
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imported_top_level_modules(source: Path) -> set[str]:
    """Absolute imports that run (imports only a type checker follows are left out)."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if _is_type_checking_block(node):
            return
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(source.read_text(encoding="utf-8"), filename=str(source)))
    return found


def normalized(distribution: str) -> str:
    return re.sub(r"[-_.]+", "-", distribution).lower()


def declared_runtime_distributions() -> set[str]:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return {
        normalized(re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0])
        for requirement in project["dependencies"]
    }


def test_the_import_walk_sees_through_type_checking_blocks(tmp_path: Path) -> None:
    source = tmp_path / "module.py"
    source.write_text(
        "from typing import TYPE_CHECKING\nimport idna\nfrom urllib3.util import Retry\n"
        "if TYPE_CHECKING:\n    from mypy_boto3_sqs import SQSClient\n"
        "def lazy():\n    import jwt\n",
        encoding="utf-8",
    )
    assert imported_top_level_modules(source) == {"typing", "idna", "urllib3", "jwt"}


def test_every_third_party_module_the_runtime_imports_is_declared() -> None:
    modules = set().union(*(imported_top_level_modules(source) for source in RUNTIME_SOURCES))
    third_party = sorted(modules - set(sys.stdlib_module_names) - FIRST_PARTY - {"__future__"})
    # The runtime builds its clients on botocore alone (one session per process), never boto3.
    assert {"botocore", "idna", "urllib3", "requests"} <= set(third_party)
    assert "boto3" not in third_party
    providers = packages_distributions()
    declared = declared_runtime_distributions()
    undeclared = {
        module: providers.get(module)
        for module in third_party
        if not any(normalized(distribution) in declared for distribution in providers.get(module, []))
    }
    assert undeclared == {}


def test_the_lock_matches_pyproject() -> None:
    completed = subprocess.run(
        [str(UV), "lock", "--check", "--offline"], cwd=REPO_ROOT, capture_output=True, text=True, check=False
    )
    assert completed.returncode == 0, completed.stderr


def test_the_lambda_requirements_are_exported_from_the_lock() -> None:
    completed = subprocess.run(
        ["make", "--no-print-directory", "-s", "check-layer-requirements"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr + "\nrun `make layer-requirements`"


def test_the_layer_requirements_leave_out_the_runtime_sdk_and_pin_every_package_by_hash() -> None:
    text = (REPO_ROOT / "layers/common/requirements.txt").read_text(encoding="utf-8")
    pins = re.findall(r"^([A-Za-z0-9_.-]+)==", text, flags=re.MULTILINE)
    assert "aws-lambda-powertools" in pins
    assert not {"boto3", "botocore", "s3transfer", "pyyaml", "pyjwt", "cryptography"} & set(pins)
    requirements = [block for block in re.split(r"\n(?=[A-Za-z])", text) if re.match(r"[A-Za-z]", block)]
    assert requirements
    assert [block.split()[0] for block in requirements if "--hash=sha256:" not in block] == []
