"""Checking a client: the `pixxel_mock` fixture and the example client."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import requests

from examples.pipeline_client import PixxelClient, PixxelError, run_pipeline

from .helpers import AGRI, URBAN, WF_FANOUT, WF_LINEAR, WF_MANY


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
    test asks for a fixture (bench.plugin_overhead times it)."""
    heavy = ("schemathesis", "hypothesis", "requests", "flask", "pixxel_mock.server", "yaml")
    probe = f"import sys, pixxel_mock.contract.plugin; print([m for m in {heavy!r} if m in sys.modules])"
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    assert loaded.strip() == "[]"
