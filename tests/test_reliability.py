"""Concurrency, crash durability, bounded state and the control plane's reach."""

from __future__ import annotations

import json
import random
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import requests
from flask.testing import FlaskClient

from pixxel_mock.contract.live import LiveMock
from pixxel_mock.server import create_app
from pixxel_mock.server.app.factory import instance_of

from .helpers import (
    AGRI,
    ALPHA,
    BETA,
    JOURNEYS,
    URBAN,
    WF_LINEAR,
    WF_MANY,
    check_progression,
    sized,
)

FIGURES = Path(__file__).resolve().parent.parent / "reports" / "reliability.json"


def record_figure(name: str, value: Any) -> None:
    """Keep the last run's figures for docs/reliability.md."""
    FIGURES.parent.mkdir(exist_ok=True)
    figures = json.loads(FIGURES.read_text()) if FIGURES.exists() else {}
    figures[name] = value
    FIGURES.write_text(json.dumps(figures, indent=2, sort_keys=True))


def test_32_concurrent_clients_over_several_workers(tmp_path: Path) -> None:
    state = tmp_path / "state.sqlite"
    server = LiveMock(
        [
            "--workers",
            "3",
            "--threads",
            "4",
            "--speed",
            "3000",
            # A URL lives 3600 simulated s by default: 1.2 real s at 3000x, less than 32
            # clients on 2 cores may take between a PUT and its GET. Outliving the test
            # keeps a 403 meaning what this test looks for: workers disagreeing.
            "--url-ttl",
            str(10**9),
            "--journal-size",
            "300",
            "--state-file",
            str(state),
        ]
    )
    created: list[tuple[str, str]] = []
    checks = {"responses": 0, "packages": 0}
    errors: list[str] = []
    lock = threading.Lock()
    deadline = time.monotonic() + 8

    def client(index: int) -> None:
        session = requests.Session()
        workflow, project, headers, _ = JOURNEYS[index % len(JOURNEYS)]
        try:
            while time.monotonic() < deadline:
                job = session.post(
                    f"{server.url}/v0/workflows/{workflow}/jobs?project_id={project}",
                    headers=headers,
                ).json()
                with lock:
                    created.append((workflow, job["id"]))
                previous = None
                while time.monotonic() < deadline + 20:
                    current = session.get(
                        f"{server.url}/v0/workflows/{workflow}/jobs/{job['id']}", headers=headers
                    ).json()
                    check_progression(previous, current)
                    previous = current
                    with lock:
                        checks["responses"] += 1
                    if current["status"] in ("completed", "failed"):
                        break
                    time.sleep(0.01)
                path = f"{server.url}/v0/workflows/{workflow}/jobs/{job['id']}/download"
                for _ in range(200):
                    download = session.put(path, headers=headers).json()
                    assert (download["signed_url"] != "") == (download["status"] == "ready")
                    if download["status"] == "ready":
                        assert session.get(download["signed_url"]).status_code == 200
                        with lock:
                            checks["packages"] += 1
                        break
                    time.sleep(0.01)
        except Exception as exc:
            errors.append(f"client {index}: {exc!r}")

    threads = [threading.Thread(target=client, args=(i,)) for i in range(32)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    try:
        assert not errors, errors[:5]
        listed = set()
        for workflow, _, headers, _ in JOURNEYS:
            jobs = requests.get(
                f"{server.url}/v0/workflows/{workflow}/jobs", headers=headers
            ).json()["jobs"]
            ids = [job["id"] for job in jobs]
            assert len(ids) == len(set(ids))  # none duplicated
            listed |= {(workflow, job_id) for job_id in ids}
        assert listed == set(created)  # none lost
        assert len(created) == len(set(created))
    finally:
        assert server.stop() == 0
    with sqlite3.connect(state) as conn:
        (journal_rows,) = conn.execute("SELECT COUNT(*) FROM journal").fetchone()
    assert journal_rows <= 300
    record_figure(
        "concurrency",
        {
            "clients": 32,
            "workers": 3,
            "jobs": len(created),
            "reads_checked": checks["responses"],
            "packages": checks["packages"],
            "journal_rows": journal_rows,
        },
    )
    assert checks["packages"] > 32


class Acknowledged:
    """What the server answered 200 to: it must survive any crash."""

    def __init__(self) -> None:
        self.jobs: dict[str, tuple[str, str]] = {}  # job id -> (workflow, created_at)
        self.downloads: dict[str, str] = {}  # job id (linear workflow) -> download id
        self.lock = threading.Lock()


def _load(url: str, acknowledged: Acknowledged, stop: threading.Event, seed: float) -> None:
    """Create jobs and start downloads until stopped or the server dies."""
    rng = random.Random(seed)
    session = requests.Session()
    while not stop.is_set():
        workflow, project, headers = (
            (WF_LINEAR, AGRI, ALPHA) if rng.random() < 0.7 else (WF_MANY, URBAN, BETA)
        )
        try:
            response = session.post(
                f"{url}/v0/workflows/{workflow}/jobs?project_id={project}",
                headers=headers,
                timeout=5,
            )
            if response.status_code == 200:
                job = response.json()
                with acknowledged.lock:
                    acknowledged.jobs[job["id"]] = (workflow, job["created_at"])
            with acknowledged.lock:
                linear = [
                    job_id
                    for job_id, (wf, _) in list(acknowledged.jobs.items())[-50:]
                    if wf == WF_LINEAR
                ]
            if linear:
                job_id = rng.choice(linear)
                put = session.put(
                    f"{url}/v0/workflows/{WF_LINEAR}/jobs/{job_id}/download",
                    headers=ALPHA,
                    timeout=5,
                )
                if put.status_code == 200:
                    with acknowledged.lock:
                        acknowledged.downloads[job_id] = put.json()["id"]
        except requests.RequestException:
            return  # the server died under us: expected


def _verify(
    url: str, acknowledged: Acknowledged, job_ids: list[str], download_job_ids: list[str]
) -> None:
    session = requests.Session()
    for job_id in job_ids:
        workflow, created_at = acknowledged.jobs[job_id]
        headers = ALPHA if workflow == WF_LINEAR else BETA
        response = session.get(f"{url}/v0/workflows/{workflow}/jobs/{job_id}", headers=headers)
        assert response.status_code == 200, (job_id, response.text)
        job = response.json()
        assert job["created_at"] == created_at
        check_progression(None, job)
    for job_id in download_job_ids:
        response = session.put(
            f"{url}/v0/workflows/{WF_LINEAR}/jobs/{job_id}/download", headers=ALPHA
        )
        assert response.json()["id"] == acknowledged.downloads[job_id]


def test_kill_9_under_load_loses_nothing_acknowledged(tmp_path: Path) -> None:
    """20 times (3 in `make test`): load, kill -9 at a random moment, restart, check what
    was acknowledged.

    Each restart checks everything acknowledged since the last crash and a sample of
    the earlier rounds; the last one checks every job and download of all rounds.
    """
    state = tmp_path / "state.sqlite"
    acknowledged = Acknowledged()
    rng = random.Random(7)
    rounds = sized(3, 20)
    for round_number in range(rounds):
        before = set(acknowledged.jobs)
        server = LiveMock(["--state-file", str(state), "--workers", "2", "--speed", "5000"])
        stop = threading.Event()
        threads = [
            threading.Thread(target=_load, args=(server.url, acknowledged, stop, rng.random()))
            for _ in range(4)
        ]
        for thread in threads:
            thread.start()
        time.sleep(rng.uniform(0.2, 0.6))
        server.kill()  # kill -9, master and workers, mid-load
        stop.set()
        for thread in threads:
            thread.join(10)
        last = round_number == rounds - 1
        new = [job_id for job_id in acknowledged.jobs if job_id not in before]
        earlier = list(before) if last else rng.sample(sorted(before), min(30, len(before)))
        downloads = (
            list(acknowledged.downloads)
            if last
            else rng.sample(sorted(acknowledged.downloads), min(20, len(acknowledged.downloads)))
        )
        with LiveMock(["--state-file", str(state), "--workers", "1"]) as restarted:
            _verify(restarted.url, acknowledged, new + earlier, downloads)
    record_figure(
        "crash_durability",
        {
            "kills": rounds,
            "jobs_checked": len(acknowledged.jobs),
            "downloads_checked": len(acknowledged.downloads),
        },
    )
    assert len(acknowledged.jobs) > rounds and acknowledged.downloads


def test_only_a_kept_state_file_is_synced_to_disk(tmp_path: Path) -> None:
    """A checkpoint's fsync stalls the commits around it; a temporary file is not kept
    past its server, so it is never synced. Neither is needed to survive kill -9."""
    temporary = create_app({"clock_mode": "manual"})  # its file goes with the app
    kept = create_app({"state_file": str(tmp_path / "kept.sqlite")})
    synchronous = "PRAGMA synchronous"
    assert instance_of(temporary).store.database.connection().execute(synchronous).fetchone() == (
        0,
    )
    assert instance_of(kept).store.database.connection().execute(synchronous).fetchone() == (1,)


def test_namespaces_are_capped_and_the_oldest_evicted() -> None:
    app = create_app({"clock_mode": "manual", "max_namespaces": 3})
    client = app.test_client()
    jobs = {}
    for name in ("one", "two", "three"):
        headers = {**ALPHA, "X-Mock-Session": name}
        jobs[name] = client.post(
            f"/v0/workflows/{WF_LINEAR}/jobs?project_id={AGRI}", headers=headers
        ).json["id"]
    assert (
        client.get(
            f"/v0/workflows/{WF_LINEAR}/jobs/{jobs['one']}",
            headers={**ALPHA, "X-Mock-Session": "one"},
        ).status_code
        == 403
    )
    for name in ("two", "three"):
        headers = {**ALPHA, "X-Mock-Session": name}
        assert (
            client.get(f"/v0/workflows/{WF_LINEAR}/jobs/{jobs[name]}", headers=headers).status_code
            == 200
        )
    default = client.post(f"/v0/workflows/{WF_LINEAR}/jobs?project_id={AGRI}", headers=ALPHA).json[
        "id"
    ]
    for name in ("four", "five", "six"):
        client.post(
            f"/v0/workflows/{WF_LINEAR}/jobs?project_id={AGRI}",
            headers={**ALPHA, "X-Mock-Session": name},
        )
    assert (
        client.get(f"/v0/workflows/{WF_LINEAR}/jobs/{default}", headers=ALPHA).status_code == 200
    )  # never evicted


def _some_state(client: FlaskClient) -> str:
    return client.post(f"/v0/workflows/{WF_LINEAR}/jobs?project_id={AGRI}", headers=ALPHA).json[
        "id"
    ]


def test_no_control_route_is_reachable_through_the_api_paths() -> None:
    app = create_app({"clock_mode": "manual"})
    client = app.test_client()
    job = _some_state(client)
    remote = {"REMOTE_ADDR": "203.0.113.7"}
    tricks = [
        "/v0/../__mock/reset",
        "/v0/%2e%2e/__mock/reset",
        "//__mock/reset",
        "/v0/workflows/..%2F..%2F__mock%2Freset",
        "/__MOCK/reset",
        "/__mock/reset/",
        "/__mock//reset",
        "/__mock/reset%00",
        "/v0/workflows/__mock/reset",
    ]
    for path in tricks:
        for environ in (remote, {}):
            response = client.post(path, headers=ALPHA, environ_base=environ)
            assert 400 <= response.status_code < 500, (path, response.status_code)
    assert client.post("/__mock/reset", environ_base=remote).status_code == 403
    assert (
        client.get(f"/v0/workflows/{WF_LINEAR}/jobs/{job}", headers=ALPHA).status_code == 200
    )  # nothing reset


def test_the_control_token_must_match_exactly() -> None:
    app = create_app({"clock_mode": "manual", "control_token": "correct-horse-battery"})
    client = app.test_client()
    remote = {"REMOTE_ADDR": "203.0.113.7"}
    for token in (
        "",
        "correct-horse-batterx",
        "correct-horse",
        "correct-horse-battery ",
        "CORRECT-HORSE-BATTERY",
    ):
        response = client.get("/__mock/clock", headers={"X-Mock-Token": token}, environ_base=remote)
        assert response.status_code == 403
    ok = client.get(
        "/__mock/clock", headers={"X-Mock-Token": "correct-horse-battery"}, environ_base=remote
    )
    assert ok.status_code == 200
