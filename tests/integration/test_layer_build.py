"""The CommonLayer that `sam build` produces: the runtime package and its locked dependencies only,
no AWS SDK (the Lambda runtime's is used), within the size budget, with python3.13 bytecode.

Reads the build CI made (EVENTRELAY_SAM_BUILD_DIR, see .ci/run) or runs `make build` itself, which
needs SAM CLI (`make install-sam`) and a python3.13 (scripts/find-python3.13 says how to get one).
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.paths import REPO_ROOT

pytestmark = pytest.mark.slow

MAX_UNPACKED_BYTES = 20 * 1000 * 1000
NEVER_IN_THE_LAYER = ("boto3", "botocore", "s3transfer", "yaml", "eventrelay_cli", "moto", "click", "jwt")


@pytest.fixture(scope="module")
def layer_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The built layer's python/ folder (what Lambda puts on sys.path from /opt/python)."""
    given = os.environ.get("EVENTRELAY_SAM_BUILD_DIR")
    build_dir = Path(given) if given else tmp_path_factory.mktemp("sam") / "build"
    if not given:
        completed = subprocess.run(
            ["make", "--no-print-directory", "build", f"BUILD_DIR={build_dir}"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=1200,
            check=False,
        )
        assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    site = build_dir / "CommonLayer" / "python"
    assert site.is_dir(), f"{site} missing: was the build made from this checkout?"
    return site


@pytest.fixture(scope="module")
def python313_magic() -> bytes:
    """The first four bytes of every .pyc that python3.13 writes."""
    interpreter = subprocess.run(
        [str(REPO_ROOT / "scripts/find-python3.13")], capture_output=True, text=True, check=True
    ).stdout.strip()
    magic = subprocess.run(
        [interpreter, "-c", "import importlib.util; print(importlib.util.MAGIC_NUMBER.hex())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    return bytes.fromhex(magic)


def files_under(folder: Path) -> Iterator[Path]:
    return (path for path in folder.rglob("*") if path.is_file())


def test_the_layer_fits_the_size_budget(layer_site: Path) -> None:
    unpacked = sum(path.stat().st_size for path in files_under(layer_site.parent))
    assert unpacked <= MAX_UNPACKED_BYTES, f"{unpacked / 1e6:.1f} MB unpacked"


def test_the_layer_holds_no_sdk_and_nothing_of_the_admin_side(layer_site: Path) -> None:
    top_level = {path.name.removesuffix(".pyc").removesuffix(".py") for path in layer_site.iterdir()}
    assert "eventrelay" in top_level
    assert "aws_lambda_powertools" in top_level
    assert sorted(top_level & set(NEVER_IN_THE_LAYER)) == []
    assert not list(layer_site.glob("boto*.dist-info"))
    assert not list(layer_site.rglob("swagger-ui*.js"))


def test_the_layer_holds_exactly_the_locked_versions(layer_site: Path) -> None:
    requirements = (REPO_ROOT / "layers/common/requirements.txt").read_text(encoding="utf-8")
    locked = {
        (re.sub(r"[-_.]+", "_", name).lower(), version)
        for name, version in re.findall(r"^([A-Za-z0-9_.-]+)==([^\s;\\]+)", requirements, flags=re.MULTILINE)
    }
    installed = set()
    for info in layer_site.glob("*.dist-info"):
        name, version = info.name.removesuffix(".dist-info").rsplit("-", 1)
        installed.add((re.sub(r"[-_.]+", "_", name).lower(), version))
    assert installed == locked


def test_the_runtime_package_ships_with_its_sources_and_python313_bytecode(
    layer_site: Path, python313_magic: bytes
) -> None:
    sources = sorted((layer_site / "eventrelay").rglob("*.py"))
    assert sources
    for source in sources:
        compiled = source.parent / "__pycache__" / f"{source.stem}.cpython-313.pyc"
        assert compiled.is_file(), compiled
        assert compiled.read_bytes()[:4] == python313_magic, compiled


def test_the_dependencies_ship_as_python313_bytecode(layer_site: Path, python313_magic: bytes) -> None:
    dependencies = [
        path for path in files_under(layer_site) if "eventrelay" not in path.relative_to(layer_site).parts
    ]
    compiled = [path for path in dependencies if path.suffix == ".pyc"]
    assert len(compiled) > 100
    assert [path for path in dependencies if path.suffix == ".py"] == []
    assert {path.read_bytes()[:4] for path in compiled} == {python313_magic}
