"""The contract generates a typed SDK: openapi-python-client's models have `Any` only where
the documentation says "any", and a typed journey with the client passes mypy and runs
against `pixxel-mock serve` over real HTTP."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pixxel_mock.contract.live import LiveMock
from pixxel_mock.server.spec.resources import API_SPEC

from .helpers import REPO

BIN = Path(sys.executable).parent
JOURNEY = REPO / "tests" / "data" / "sdk_journey.py"
# The only values the documentation leaves open: the error envelope's `details`.
DOCUMENTED_ANY = {"ErrorError.details"}


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding the generated `pixxel_client` package and the journey."""
    folder = tmp_path_factory.mktemp("sdk")
    subprocess.run(
        [
            *(BIN / "openapi-python-client", "generate", "--path", API_SPEC, "--meta", "none"),
            *("--output-path", folder / "pixxel_client"),
        ],
        check=True,
        capture_output=True,
        env={**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"},  # its ruff
        timeout=120,
    )
    shutil.copy(JOURNEY, folder)
    return folder


def _has_any(node: ast.AST) -> bool:
    return any(isinstance(n, ast.Name) and n.id == "Any" for n in ast.walk(node))


def untyped_fields(package: Path) -> set[str]:
    """Model fields and operation parameters the generator typed as `Any`."""
    found = set()
    for path in (package / "models").glob("*.py"):
        for cls in ast.parse(path.read_text()).body:
            if isinstance(cls, ast.ClassDef):
                found |= {
                    f"{cls.name}.{field.target.id}"
                    for field in cls.body
                    if isinstance(field, ast.AnnAssign)
                    and isinstance(field.target, ast.Name)
                    and field.target.id != "additional_properties"  # open objects' extras
                    and _has_any(field.annotation)
                }
    for path in (package / "api").rglob("*.py"):
        for function in ast.parse(path.read_text()).body:
            if isinstance(function, ast.FunctionDef) and function.name == "sync":
                arguments = function.args.args + function.args.kwonlyargs
                found |= {
                    f"{path.stem}({argument.arg})"
                    for argument in arguments
                    if argument.annotation is not None and _has_any(argument.annotation)
                }
    return found


def test_any_only_where_the_documentation_says_any(generated: Path) -> None:
    assert untyped_fields(generated / "pixxel_client") == DOCUMENTED_ANY


def test_the_typed_journey_passes_mypy(generated: Path) -> None:
    check = subprocess.run(
        [
            *(BIN / "mypy", "--strict", "--follow-imports=silent", "--no-error-summary"),
            *("--cache-dir", generated / ".mypy_cache", generated / "sdk_journey.py"),
        ],
        cwd=generated,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert check.returncode == 0, check.stdout + check.stderr


def test_the_typed_journey_runs_green_against_the_mock(generated: Path) -> None:
    with LiveMock(["--clock", "polls"]) as mock:
        journey = subprocess.run(
            [sys.executable, generated / "sdk_journey.py", mock.url],
            cwd=generated,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert journey.returncode == 0, journey.stdout + journey.stderr
    assert "completed;" in journey.stdout and "403 forbidden" in journey.stdout
