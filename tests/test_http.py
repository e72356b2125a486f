"""Integration over real HTTP: `pixxel-mock serve` as a subprocess on 127.0.0.1.

Each server runs in test mode (--validate-responses): a response that breaks the
spec comes back as a 500, which fails the status assertions here, and is listed
in the journal, which every test checks at the end.
"""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from pixxel_mock.contract.live import LiveMock
from pixxel_mock.server.spec.resources import FIXTURES_DIR

from .helpers import AGRI, ALPHA, JOURNEYS, WF_FAILING, WF_LINEAR, check_progression, open_zip

Tick = Callable[[], None]


def start(*args: str) -> LiveMock:
    return LiveMock(["--validate-responses", "--workers", "2", "--threads", "4", *args])


@pytest.fixture(scope="module", params=["wall", "manual", "polls"])
def server(request: pytest.FixtureRequest) -> Iterator[tuple[LiveMock, Tick]]:
    mode = request.param
    live = start("--clock", mode, "--speed", "3000", "--seed", "3")

    def tick() -> None:
        if mode == "wall":
            time.sleep(0.02)
        elif mode == "manual":
            requests.post(f"{live.url}/__mock/clock/advance", json={"seconds": 45}, timeout=10)

    yield live, tick
    journal = requests.get(f"{live.url}/__mock/requests?all=true&limit=10000", timeout=10).json()
    assert live.stop() == 0, "".join(live.output)
    broken = [v for e in journal["requests"] for v in e["violations"] if v.startswith("response")]
    assert not broken, broken


def poll_job(base: str, headers: dict[str, str], workflow: str, job: str, tick: Tick) -> dict:
    previous = None
    for _ in range(400):
        response = requests.get(f"{base}/v0/workflows/{workflow}/jobs/{job}", headers=headers)
        assert response.status_code == 200, response.text
        current = response.json()
        check_progression(previous, current)
        previous = current
        if current["status"] in ("completed", "failed"):
            return current
        tick()
    raise AssertionError(f"job {job} did not finish: {previous}")


def ready_download(url: str, headers: dict[str, str], tick: Tick) -> dict[str, Any]:
    first = requests.put(url, headers=headers)
    assert first.status_code == 200, first.text
    for _ in range(200):
        body = requests.put(url, headers=headers).json()
        assert body["status"] in ("pending", "ready")
        assert (body["signed_url"] != "") == (body["status"] == "ready")
        if body["status"] == "ready":
            return body
        tick()
    raise AssertionError(f"download {url} never became ready")


def fetch_package(signed_url: str) -> tuple[dict[str, Any], dict[str, bytes]]:
    response = requests.get(signed_url)  # no Authorization: the URL is the credential
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "application/zip"
    manifest, files = open_zip(response.content)
    for entry in manifest["files"]:
        content = files[entry["path"]]
        assert entry["size"] == len(content)
        assert entry["sha256"] == hashlib.sha256(content).hexdigest()
    assert {e["path"] for e in manifest["files"]} == set(files)
    return manifest, files


@pytest.mark.parametrize(("workflow", "project", "headers", "final"), JOURNEYS)
def test_whole_journey(
    server: tuple[LiveMock, Tick],
    workflow: str,
    project: str,
    headers: dict[str, str],
    final: str,
) -> None:
    live, tick = server
    base = live.url
    listed = requests.get(f"{base}/v0/workflows?project_id={project}", headers=headers).json()
    assert workflow in [w["id"] for w in listed["workflows"]]
    estimate = requests.get(f"{base}/v0/workflows/{workflow}/estimate", headers=headers).json()
    created = requests.post(
        f"{base}/v0/workflows/{workflow}/jobs?project_id={project}", headers=headers
    )
    assert created.status_code == 200, created.text
    job = created.json()
    assert job["cost"] == estimate["estimated_cost"]

    done = poll_job(base, headers, workflow, job["id"], tick)
    assert done["status"] == final
    assert done["finished_at"] >= done["exec_created_at"] >= done["created_at"]
    jobs = requests.get(f"{base}/v0/workflows/{workflow}/jobs", headers=headers).json()["jobs"]
    assert job["id"] in [j["id"] for j in jobs]

    job_url = f"{base}/v0/workflows/{workflow}/jobs/{job['id']}/download"
    download = ready_download(job_url, headers, tick)
    assert download["workflowId"] == workflow
    manifest, files = fetch_package(download["signed_url"])
    assert manifest["job_id"] == job["id"] and manifest["job_status"] == final
    assert [(t["id"], t["status"]) for t in manifest["tasks"]] == [
        (t["id"], t["status"]) for t in done["tasks"]
    ]
    completed = [t for t in done["tasks"] if t["status"] == "completed"]
    outputs = {p.split("/")[1] for p in files if p.startswith("outputs/")}
    assert outputs == {t["name"] for t in completed}

    task = completed[-1]
    task_url = f"{base}/v0/workflows/{workflow}/jobs/{job['id']}/tasks/{task['id']}/download"
    task_download = ready_download(task_url, headers, tick)
    assert (task_download["id"], task_download["job_id"]) == (task["id"], job["id"])
    task_manifest, task_files = fetch_package(task_download["signed_url"])
    assert task_manifest["kind"] == "task" and [t["id"] for t in task_manifest["tasks"]] == [
        task["id"]
    ]
    assert all(p.startswith(f"outputs/{task['name']}/") for p in task_files)
    for result in task["result"]:
        assert any(p.endswith(result["value"].rsplit("/", 1)[1]) for p in task_files)

    if final == "failed":
        failed = next(t for t in done["tasks"] if t["status"] == "failed")
        assert failed["failure_type"] == "runtime_exception" and failed["err_msg"]
        url = f"{base}/v0/workflows/{workflow}/jobs/{job['id']}/tasks/{failed['id']}/download"
        refused = requests.put(url, headers=headers)
        assert refused.status_code == 400 and refused.json()["error"]["code"] == "not_finished"


def test_documented_errors_over_http(server: tuple[LiveMock, Tick]) -> None:
    base = server[0].url
    cases = [
        ("GET", "/v0/workflows", {}, 403),
        ("GET", "/v0/workflows", {"Authorization": "pxm_demo_revoked"}, 403),
        ("GET", f"/v0/workflows/{WF_FAILING}?project_id={AGRI}", ALPHA, 403),
        ("GET", "/v0/workflows/xyz/jobs", ALPHA, 400),
        ("POST", f"/v0/workflows/{WF_LINEAR}/jobs", ALPHA, 400),
        ("GET", "/v0/blocks/ndvi/versions/0.0.1", ALPHA, 404),
        ("GET", "/v0/unknown", ALPHA, 404),
        ("PATCH", f"/v0/workflows/{WF_LINEAR}/jobs", ALPHA, 405),
    ]
    for method, path, headers, status in cases:
        response = requests.request(method, base + path, headers=headers)
        assert response.status_code == status, (method, path, response.text)
        assert set(response.json()["error"]) == {"code", "message", "details"}


def test_state_file_survives_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "state.sqlite"
    with start("--state-file", str(state), "--clock", "manual") as first:
        job = requests.post(
            f"{first.url}/v0/workflows/{WF_LINEAR}/jobs?project_id={AGRI}", headers=ALPHA
        ).json()
        requests.post(f"{first.url}/__mock/clock/advance", json={"seconds": 120})
        before = requests.get(
            f"{first.url}/v0/workflows/{WF_LINEAR}/jobs/{job['id']}", headers=ALPHA
        )
    with start("--state-file", str(state), "--clock", "manual") as second:
        after = requests.get(
            f"{second.url}/v0/workflows/{WF_LINEAR}/jobs/{job['id']}", headers=ALPHA
        )
        assert after.status_code == 200
        assert after.json() == before.json()


def test_a_foreign_or_corrupt_state_file_is_refused_at_start(tmp_path: Path) -> None:
    foreign = tmp_path / "other.sqlite"
    with sqlite3.connect(foreign) as conn:
        conn.execute("CREATE TABLE customers (id INTEGER)")
    corrupt = tmp_path / "corrupt.sqlite"
    corrupt.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4000)
    for path in (foreign, corrupt):
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "pixxel_mock.server",
                "serve",
                "--port",
                "0",
                "--state-file",
                str(path),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 2
        assert result.stderr.startswith(f"pixxel-mock: state file {path}"), result.stderr
    assert foreign.stat().st_size > 0  # never reset silently


def test_ctrl_c_stops_cleanly_and_the_banner_tells_what_to_use() -> None:
    live = start("--clock", "manual")
    banner = "".join(live.output)
    for expected in ("pxm_demo_alpha", "pxm_demo_beta", "pxm_demo_revoked", "clock: manual"):
        assert expected in banner
    assert requests.get(f"{live.url}/ping").json() == "pong"
    assert live.stop() == 0


def test_the_banner_names_the_keys_of_the_fixtures_served(tmp_path: Path) -> None:
    fixtures = tmp_path / "fixtures"
    shutil.copytree(FIXTURES_DIR, fixtures)
    keys = fixtures / "keys.yaml"
    keys.write_text(keys.read_text().replace("pxm_demo_alpha", "pxm_team_key"))
    live = start("--clock", "manual", "--fixtures", str(fixtures))
    banner = "".join(live.output)
    assert "pxm_team_key (" in banner and "pxm_demo_alpha" not in banner
    assert "curl -H 'Authorization: pxm_team_key'" in banner
    assert live.stop() == 0
