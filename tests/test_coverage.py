"""Client coverage: what the example client exercised, from the journal and from a HAR."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import requests
import yaml

from examples.pipeline_client import PixxelClient, run_pipeline
from pixxel_mock.contract.live import LiveMock
from pixxel_mock.server.model.coverage import STATE_OF, states_in_body
from pixxel_mock.server.state.clock import Clock
from pixxel_mock.server.state.database import StateFileError
from pixxel_mock.server.state.schema import SCHEMA_VERSION
from pixxel_mock.server.state.store import Store

from .conftest import advance
from .helpers import ALPHA, BETA, COAST, REPO, URBAN, WF_FAILING, WF_MANY

INCIDENT = Path(__file__).with_name("data") / "incident.har"


def test_coverage_lists_exactly_what_the_example_client_exercised(
    pixxel_mock, tmp_path: Path
) -> None:
    pixxel_mock.apply_scenario("throttled")
    failing = yaml.safe_load((REPO / "fixtures" / "scenarios" / "failed-task.yaml").read_text())
    pixxel_mock.apply_scenario(failing)
    client = PixxelClient(pixxel_mock.url, pixxel_mock.keys["beta"], poll_delay=0)
    assert run_pipeline(client, WF_MANY, URBAN, tmp_path / "job.zip")["status"] == "failed"
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
    # polls mode: the job moves on at each read, so the client meets every state
    states = report.document["states"]
    assert states["jobs"] == ["queued", "running", "failed"]
    assert {"created", "inprogress", "completed", "failed"} == set(states["tasks"])
    assert states["downloads"] == ["pending", "ready"]
    assert report.document["faults"] == ["throttled.every-third"]
    report.assert_seen(statuses=[429], states=["failed", "ready"])
    for entry in journal:  # what the report is made of: each entry's fault and states
        assert (entry["fault"] == "throttled.every-third") == (entry["status"] == 429)
        shows_states = entry["status"] == 200 and entry["operation_id"] in STATE_OF
        assert (entry["states"] is not None) == shows_states


def test_coverage_of_a_hand_written_har_lists_states_and_faults() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pixxel_mock.server", "coverage", "--json", str(INCIDENT)],
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
        [sys.executable, "-m", "pixxel_mock.server", "coverage", str(INCIDENT)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "jobs states seen: running, failed" in table


def test_the_journal_notes_the_states_a_body_shows_without_parsing_it(client) -> None:
    """Handlers note states from the model, `Prefer` answers from their body: both must
    say what the body says, so a live report equals one made from a recording."""
    job = client.post(f"/v0/workflows/{WF_FAILING}/jobs?project_id={COAST}", headers=ALPHA)
    path = f"/v0/workflows/{WF_FAILING}/jobs/{job.json['id']}"
    advance(client, 3600)
    finished = client.get(path, headers=ALPHA)
    task = next(t for t in finished.json["tasks"] if t["status"] == "completed")
    answers = [
        job,
        finished,
        client.get(path, headers={**ALPHA, "Prefer": "example=running"}),
        client.put(path + "/download", headers=ALPHA),
        client.put(f"{path}/tasks/{task['id']}/download", headers=ALPHA),
    ]
    entries = [e for e in client.get("/__mock/requests").json["requests"] if e["operation_id"]]
    assert [e["fault"] for e in entries] == [None, None, "prefer", None, None]
    assert finished.json["status"] == "failed"
    for entry, answer in zip(entries, answers, strict=True):
        expected = states_in_body(entry["operation_id"], answer.status_code, answer.data)
        assert expected is not None
        assert entry["states"] == json.loads(json.dumps(expected)), entry["operation_id"]
    assert entries[2]["states"] == {"jobs": ["running"], "tasks": ["completed", "inprogress"]}


def test_a_version_1_state_file_is_migrated_and_keeps_its_jobs_and_journal(
    tmp_path: Path,
) -> None:
    state = tmp_path / "state.sqlite"
    with sqlite3.connect(state) as conn:  # written by pixxel-mock before this change
        conn.executescript((Path(__file__).with_name("data") / "state-v1.sql").read_text())
    with LiveMock(
        ["--state-file", str(state), "--clock", "manual", "--validate-responses"]
    ) as live:
        old = requests.get(f"{live.url}/__mock/requests").json()["requests"]
        assert [(e["operation_id"], e["fault"], e["states"]) for e in old] == [
            ("createJob", None, None),
            ("getJob", None, None),
            ("listWorkflows", None, None),
        ]
        job = requests.get(f"{live.url}{old[1]['path']}", headers=BETA)
        assert job.status_code == 200
        entry = requests.get(f"{live.url}/__mock/requests").json()["requests"][-1]
        assert entry["states"]["jobs"] == [job.json()["status"]]
        replay = requests.post(f"{live.url}/__mock/replay", json={"file": str(INCIDENT)})
        assert replay.status_code == 200  # the recordings table came with the migration
    with sqlite3.connect(state) as conn:
        assert conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone() == (
            str(SCHEMA_VERSION),
        )
        conn.execute("UPDATE meta SET value='99' WHERE key='schema_version'")
    with pytest.raises(
        StateFileError, match=f"has schema 99, this pixxel-mock reads {SCHEMA_VERSION}"
    ):
        Store(state, Clock("manual", 1.0, 0.0, 0.0))


def test_a_migrated_version_1_file_has_the_tables_of_a_new_one(tmp_path: Path) -> None:
    """The schema's steps build a new file and bring an old one to the same columns."""
    old, new = tmp_path / "old.sqlite", tmp_path / "new.sqlite"
    with sqlite3.connect(old) as conn:
        conn.executescript((Path(__file__).with_name("data") / "state-v1.sql").read_text())
    for path in (old, new):
        Store(path, Clock("manual", 1.0, 0.0, 0.0)).close()

    def layout(path: Path) -> dict[str, list[tuple[str, str]]]:
        with sqlite3.connect(path) as conn:
            names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master ORDER BY name")]
            return {
                name: [(c[1], c[2]) for c in conn.execute(f"PRAGMA table_xinfo('{name}')")]
                for name in names
            }

    assert layout(old) == layout(new)
    assert "recordings" in layout(new)
