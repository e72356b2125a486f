"""The upstream schemathesis CLI, run as a user would, with the shipped schemathesis.toml,
against `pixxel-mock serve` over real HTTP."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from pixxel_mock.contract.live import LiveMock
from pixxel_mock.server.spec.resources import API_SPEC

from .helpers import LONG_PROFILE, REPO, sized

SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"


@pytest.fixture(scope="module")
def server() -> Iterator[LiveMock]:
    mock = LiveMock()
    yield mock
    mock.stop()


def _run(url: str, config: Path, folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The CLI in `folder` (it writes its `.schemathesis/` cache there, not in the checkout)."""
    command = [str(SCHEMATHESIS), "--config-file", str(config), "run", str(API_SPEC)]
    return subprocess.run(
        [*command, "--url", url, "--seed", "1", "--no-color", *args],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=600,
    )


def _tuned_operations(config: Path) -> list[str]:
    """The operations the shipped file tunes, and the stateful phase's jobs: where its
    settings are read. `make long` runs every operation."""
    tuned = tomllib.loads(config.read_text())["operations"]
    named = [name for entry in tuned for name in entry["include-operation-id"]]
    return [*named, "createJob", "getJob", "listWorkflows"]


def test_every_check_passes_with_the_shipped_configuration(
    server: LiveMock, tmp_path: Path
) -> None:
    config = REPO / "schemathesis.toml"
    only = [] if LONG_PROFILE else _tuned_operations(config)
    selection = [arg for name in only for arg in ("--include-operation-id", name)]
    examples = str(sized(3, 25))
    run = _run(
        server.url, config, tmp_path, "--checks", "all", "--max-examples", examples, *selection
    )
    assert f"Configuration:    {config}" in run.stdout
    assert run.returncode == 0, run.stdout[-4000:]
    assert "passed" in run.stdout and "failure" not in run.stdout.split("SUMMARY")[-1]


def test_without_the_hooks_a_missing_key_is_expected_to_get_401(
    server: LiveMock, tmp_path: Path
) -> None:
    # The control: the one check the hooks replace does run, and fails on our 403.
    config = tmp_path / "schemathesis.toml"
    shipped = (REPO / "schemathesis.toml").read_text()
    config.write_text("\n".join(line for line in shipped.splitlines() if "hooks" not in line))
    run = _run(
        server.url, config, tmp_path, "--checks", "missing_required_header", "--phases", "coverage"
    )
    assert run.returncode == 1, run.stdout[-4000:]
    assert "when missing required 'Authorization' header, expected 401" in run.stdout
