"""Checking a client: the `pixxel_mock` fixture and the example client."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest
import requests

from examples.pipeline_client import PixxelClient, PixxelError, run_pipeline
from pixxel_mock.server.spec.resources import FIXTURES_DIR

from .helpers import AGRI, KEYS, URBAN, WF_FANOUT, WF_LINEAR, WF_MANY


def test_example_client_finishes_its_job_without_violations(pixxel_mock, tmp_path: Path) -> None:
    client = PixxelClient(pixxel_mock.url, pixxel_mock.keys["alpha"], poll_delay=0)
    out = tmp_path / "job.zip"
    job = run_pipeline(client, WF_FANOUT, AGRI, out)
    assert job["status"] == "completed" and job["progress"] == "100%"
    assert "manifest.json" in zipfile.ZipFile(out).namelist()
    pixxel_mock.assert_no_violations()


def test_example_client_reports_a_revoked_key_cleanly(pixxel_mock, tmp_path: Path) -> None:
    client = PixxelClient(pixxel_mock.url, pixxel_mock.keys["revoked"], poll_delay=0)
    with pytest.raises(PixxelError) as refused:
        run_pipeline(client, WF_LINEAR, AGRI, tmp_path / "job.zip")
    assert refused.value.status == 403 and refused.value.code == "forbidden"
    pixxel_mock.assert_no_violations()  # a revoked key is a valid request, refused


def test_a_client_that_breaks_the_contract_is_shown_its_violations(pixxel_mock) -> None:
    headers = {"Authorization": pixxel_mock.keys["alpha"]}
    requests.get(f"{pixxel_mock.url}/v0/workflows?limit=0", headers=headers)
    requests.post(f"{pixxel_mock.url}/v0/workflows/{WF_LINEAR}/jobs", headers=headers)
    requests.get(f"{pixxel_mock.url}/v0/workflows")
    with pytest.raises(AssertionError) as failed:
        pixxel_mock.assert_no_violations()
    message = str(failed.value)
    assert "3 time(s)" in message
    assert 'GET /v0/workflows?limit=0 -> 400: Query parameter "limit"' in message
    assert '"project_id" is required' in message
    assert "missing Authorization header" in message


def test_fixture_is_cleared_between_tests_and_controls_the_clock(pixxel_mock) -> None:
    assert pixxel_mock.requests() == []  # the previous test's traffic is gone
    before = pixxel_mock.set_clock(mode="manual")["epoch"]
    assert pixxel_mock.advance(600)["epoch"] == pytest.approx(before + 600)


@pytest.mark.parametrize("scenario", ["throttled", "flaky-gateway"])
def test_example_client_finishes_under_faults(pixxel_mock, tmp_path: Path, scenario: str) -> None:
    pixxel_mock.apply_scenario(scenario)
    client = PixxelClient(pixxel_mock.url, pixxel_mock.keys["beta"], poll_delay=0)
    job = run_pipeline(client, WF_MANY, URBAN, tmp_path / "job.zip")  # 21 tasks: many polls
    assert job["status"] == "completed"
    faults = [e for e in pixxel_mock.requests() if e["status"] in (429, 502, 503)]
    assert faults, "the scenario produced no fault: the test proves nothing"
    pixxel_mock.assert_no_violations()


def test_example_client_reports_a_key_revoked_mid_run(pixxel_mock, tmp_path: Path) -> None:
    pixxel_mock.apply_scenario("revoked-key")
    pixxel_mock.advance(600)
    client = PixxelClient(pixxel_mock.url, pixxel_mock.keys["alpha"], poll_delay=0)
    with pytest.raises(PixxelError) as refused:
        run_pipeline(client, WF_LINEAR, AGRI, tmp_path / "job.zip")
    assert refused.value.status == 403


def test_the_plugin_loads_nothing_heavy_into_a_foreign_run() -> None:
    """pytest loads the plugin in every run of the environment; the harness waits until a
    test asks for a fixture (bench.plugin_overhead times it). A conftest.py that names
    MockSettings loads nothing more."""
    heavy = ("schemathesis", "hypothesis", "requests", "flask", "pixxel_mock.server", "yaml")
    probe = (
        "import sys, pixxel_mock.contract.plugin; from pixxel_mock.contract import MockSettings;"
        f" print([m for m in {heavy!r} if m in sys.modules])"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    assert loaded.strip() == "[]"


def run_pytest(project: Path, *args: str, files: dict[str, str]) -> subprocess.CompletedProcess:
    """pytest in a foreign project (cwd and rootdir: `project`), as a user runs it."""
    for name, text in files.items():
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text(textwrap.dedent(text))
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_foreign_run_gets_three_fixtures_and_no_option(tmp_path: Path) -> None:
    listed = run_pytest(tmp_path, "--fixtures", files={"test_nothing.py": "def test_x(): pass\n"})
    ours = set(re.findall(r"^((?:pixxel|contract)\w*)", listed.stdout, re.MULTILINE))
    assert ours == {"pixxel_mock", "pixxel_mock_server", "pixxel_mock_settings"}, listed.stdout
    helped = run_pytest(tmp_path, "--help", files={})
    assert helped.returncode == 0 and "--pixxel" not in helped.stdout


def test_the_fixture_in_a_project_with_packages_named_like_the_repositorys(
    tmp_path: Path,
) -> None:
    """A project of its own `contract_tests` and `mock_server` (the folder names of this
    repository) still gets the installed pixxel_mock."""
    result = run_pytest(
        tmp_path,
        "-q",
        files={
            "contract_tests/__init__.py": "",
            "contract_tests/suite.py": "CHECKS = ['mine']\n",
            "mock_server/__init__.py": "",
            "mock_server/app.py": "def create_app():\n    return 'mine'\n",
            "tests/test_client.py": """
                import requests

                from contract_tests.suite import CHECKS
                from mock_server.app import create_app


                def test_my_packages_and_the_mock(pixxel_mock):
                    assert (CHECKS, create_app()) == (["mine"], "mine")
                    assert requests.get(f"{pixxel_mock.url}/ping").status_code == 200
                    key = {"Authorization": pixxel_mock.keys["alpha"]}
                    assert requests.get(f"{pixxel_mock.url}/v0/projects", headers=key).ok
            """,
        },
    )
    assert result.returncode == 0, result.stdout[-3000:]
    assert "1 passed" in result.stdout


def test_a_conftest_overriding_the_settings_is_served(tmp_path: Path) -> None:
    """The mock the session gets is started as the user's `pixxel_mock_settings` say: its
    clock, its scenario, its own fixtures folder (whose keys `pixxel_mock.keys` lists),
    and a reset between tests goes back to those settings."""
    keys = (FIXTURES_DIR / "keys.yaml").read_text().replace(KEYS["beta"], "team_gamma")
    shutil.copytree(FIXTURES_DIR, tmp_path / "fixtures")
    (tmp_path / "fixtures" / "keys.yaml").write_text(keys)
    test_file = """
        import requests


        def clock_mode(pixxel_mock):
            return requests.get(f"{pixxel_mock.url}/__mock/clock").json()["mode"]


        def test_the_settings_are_served(pixxel_mock):
            assert clock_mode(pixxel_mock) == "manual"
            assert [(r["id"], r["scope"]) for r in pixxel_mock.faults()] == [
                ("throttled.every-third", "server")
            ]
            assert "beta" not in pixxel_mock.keys
            key = {"Authorization": pixxel_mock.keys["gamma"]}
            assert requests.get(f"{pixxel_mock.url}/v0/projects", headers=key).ok
            pixxel_mock.set_clock(mode="wall")


        def test_a_reset_goes_back_to_them(pixxel_mock):
            assert clock_mode(pixxel_mock) == "manual"
    """
    conftest = """
        from pathlib import Path

        import pytest

        from pixxel_mock.contract import MockSettings


        @pytest.fixture(scope="session")
        def pixxel_mock_settings():
            here = Path(__file__).parent
            return MockSettings(clock="manual", scenarios=("throttled",), fixtures=here / "fixtures")
    """
    result = run_pytest(tmp_path, "-q", files={"conftest.py": conftest, "test_it.py": test_file})
    assert result.returncode == 0, result.stdout[-3000:]
    assert "2 passed" in result.stdout
