"""The harness: green on the mock, and it reports each kind of broken server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest
import requests

from pixxel_mock.server.spec.document import ApiSpec
from pixxel_mock.server.spec.resources import API_SPEC

from .helpers import ALPHA, REPO, sized

OPERATIONS = len(ApiSpec.load(API_SPEC).operations)  # every one is a row of the summary


def run_contract(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None, cwd: Path = REPO
) -> tuple[int, dict, str]:
    reports = tmp_path / "reports"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pixxel_mock.server",
            "contract",
            f"--report-dir={reports}",
            f"--junit-xml={reports / 'junit.xml'}",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=cwd,
        env=env,
    )
    results = json.loads((reports / "results.json").read_text())
    return result.returncode, results, result.stdout + result.stderr


def test_full_contract_run_is_green_on_the_mock(tmp_path: Path) -> None:
    examples = sized(3, 25)  # hypothesis' generation is most of the run's time
    code, results, output = run_contract(tmp_path, f"--max-examples={examples}")
    assert code == 0, output
    assert results["failures"] == []
    operations = {row for row in results["cases"] if row != "lifecycle"}
    assert len(operations) == OPERATIONS  # every operation, the writes included in-process
    assert results["applied"]["lifecycle"] == ["lifecycle_properties"]
    stateful = results["cases"]["POST /v0/workflows/{workflow_id}/jobs"]
    assert stateful > examples
    junit = ElementTree.parse(tmp_path / "reports" / "junit.xml").getroot()
    suite = junit if junit.tag == "testsuite" else junit[0]
    assert int(suite.get("tests")) > 30 and int(suite.get("failures")) == 0
    summary = (tmp_path / "reports" / "summary.md").read_text()
    assert "no failure" in summary and "missing_required_header" in summary


def test_a_parallel_run_merges_its_workers_and_leaves_the_working_directory_alone(
    tmp_path: Path,
) -> None:
    """The options reach every pytest-xdist worker and their results come back together;
    hypothesis' files go to a temporary folder, the reports to --report-dir, so the folder
    the command ran in stays as it was (no .hypothesis/, .schemathesis/ or .pytest_cache/)."""
    work = tmp_path / "work"
    work.mkdir()
    asked = ["createJob", "getJob", "searchArchive"]
    code, results, output = run_contract(
        tmp_path,
        "--max-examples=3",
        "--workers=2",
        *(f"--operation={operation}" for operation in asked),
        cwd=work,
    )
    assert code == 0, output[-3000:]
    assert len([row for row in results["cases"] if row != "lifecycle"]) == len(asked)
    assert results["applied"]["lifecycle"] == ["lifecycle_properties"]
    assert list(work.iterdir()) == []


# The operations each broken server breaks (tests/broken_servers.py): the whole contract
# is run green on the mock above; here a run need only reach the fault.
JOB_OPERATIONS = ("--operation=createJob", "--operation=getJob")


@pytest.mark.parametrize(
    ("variant", "checks", "operations"),
    [
        ("wrong_field_type", {"response_schema_conformance"}, JOB_OPERATIONS),
        ("missing_required_field", {"response_schema_conformance"}, JOB_OPERATIONS),
        ("server_error", {"not_a_server_error"}, ("--operation=getWorkflowCostEstimate",)),
        # the suite's own 403 rule, and schemathesis' check of its own
        ("ignored_auth", {"keys_enforced_403", "ignored_auth"}, ("--operation=listWorkflows",)),
        ("lifecycle_backwards", {"lifecycle_properties"}, JOB_OPERATIONS),
    ],
)
def test_each_broken_server_is_reported(
    tmp_path: Path, variant: str, checks: set[str], operations: tuple[str, ...]
) -> None:
    code, results, output = run_contract(
        tmp_path, "--max-examples=3", f"--app=tests.broken_servers:{variant}()", *operations
    )
    assert code != 0, output
    reported = {name for failure in results["failures"] for name in failure["checks"]}
    assert checks <= reported, (reported, output[-3000:])
    curls = [f["curl"] for f in results["failures"] if checks & set(f["checks"]) and f["curl"]]
    if checks != {"lifecycle_properties"}:
        assert curls and curls[0].startswith("curl ")
    assert "FAIL" in (tmp_path / "reports" / "summary.md").read_text()


def test_contract_against_a_live_mock_is_read_only_by_default(tmp_path: Path) -> None:
    from pixxel_mock.contract.live import LiveMock

    with LiveMock(["--workers", "1", "--speed", "100000"]) as live:
        code, results, output = run_contract(
            tmp_path,
            f"--base-url={live.url}",
            "--max-examples=5",
            "--operation=createJob",
            "--operation=getJob",
            "--operation=listJobs",
            "--rate-limit=2000/s",
            env={**os.environ, "PIXXEL_API_KEY": ALPHA["Authorization"]},
        )
        journal = requests.get(f"{live.url}/__mock/requests?all=true&limit=10000").json()[
            "requests"
        ]
    assert code == 0, output[-3000:]
    assert "operation createJob" in results["skipped"]
    assert "POST /v0/workflows/{workflow_id}/jobs" not in results["cases"]
    assert results["applied"]["lifecycle"] == ["lifecycle_properties"]  # a mock: it ran
    created = [
        e for e in journal if e["operation_id"] == "createJob" and e["namespace"] == "default"
    ]
    assert created == []  # no job was created outside the lifecycle's own namespace


def test_contract_stays_green_with_faults_on(tmp_path: Path) -> None:
    code, results, output = run_contract(
        tmp_path, "--max-examples=2", "--scenario=flaky-gateway", "--scenario=throttled"
    )
    assert code == 0, output[-3000:]
    assert "check ignored_auth" in results["skipped"]
    assert len([row for row in results["cases"] if row != "lifecycle"]) == OPERATIONS


def test_an_unknown_operation_is_refused_before_anything_runs(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pixxel_mock.server", "contract", "--operation=getJobs"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert "no operation getJobs in the contract" in result.stdout
    assert list(tmp_path.iterdir()) == []
