"""Client coverage: what the example client exercised, from the journal and from a HAR."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from examples.pipeline_client import PixxelClient, run_pipeline

from .helpers import URBAN, WF_MANY

INCIDENT = Path(__file__).with_name("data") / "incident.har"


def test_coverage_lists_exactly_what_the_example_client_exercised(
    pixxel_mock, tmp_path: Path
) -> None:
    pixxel_mock.apply_scenario("throttled")
    client = PixxelClient(pixxel_mock.url, pixxel_mock.keys["beta"], poll_delay=0)
    run_pipeline(client, WF_MANY, URBAN, tmp_path / "job.zip")
    report = pixxel_mock.coverage()
    operations = report.document["operations"]
    journal = [e for e in pixxel_mock.requests() if e["operation_id"] in operations]
    packages = [e for e in pixxel_mock.requests() if e["operation_id"] == "getPackage"]
    assert report.document["unmatched_requests"] == len(packages) == 1  # the signed URL
    expected: dict[str, Counter[int]] = {}
    for entry in journal:
        expected.setdefault(entry["operation_id"], Counter())[entry["status"]] += 1
    assert (
        report.called()
        == set(expected)
        == {
            "getWorkflowCostEstimate",
            "createJob",
            "getJob",
            "downloadJob",
        }
    )
    for operation, statuses in expected.items():
        row = operations[operation]
        assert row["seen"] == sorted(statuses) and row["calls"] == sum(statuses.values())
        assert not set(row["never_seen"]) & {str(s) for s in statuses}
    assert "403" in operations["getJob"]["never_seen"]
    report.assert_seen(statuses=[200, 429])
    with pytest.raises(AssertionError, match=r"never received \[403\] from getJob"):
        report.assert_seen(statuses=[403], operation="getJob")


def test_coverage_of_a_hand_written_har_lists_states_and_faults() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mock_server", "coverage", "--json", str(INCIDENT)],
        capture_output=True,
        text=True,
        check=True,
    )
    report = json.loads(result.stdout)
    assert report["operations"]["getJob"]["seen"] == [200, 500]
    assert report["operations"]["downloadJob"]["seen"] == [200]
    assert report["states"]["jobs"] == ["running", "failed"]
    assert report["states"]["downloads"] == ["pending", "ready"]
    assert report["operations"]["listProjects"]["calls"] == 0
    table = subprocess.run(
        [sys.executable, "-m", "mock_server", "coverage", str(INCIDENT)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "jobs states seen: running, failed" in table
