"""Scale, memory, lifecycle cost and start-up measurements of the benchmark."""

from __future__ import annotations

import math
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

import requests

from pixxel_mock.contract.live import LiveMock
from pixxel_mock.server.model.archive import Archive, load_archive_fixtures
from pixxel_mock.server.model.catalog import TaskTemplate, load_catalog
from pixxel_mock.server.model.ids import derived_uuid
from pixxel_mock.server.model.jobs import JOBS
from pixxel_mock.server.model.lifecycle import JobOverrides, JobRecord, evaluate, plan_job
from pixxel_mock.server.spec.resources import FIXTURES_DIR
from pixxel_mock.server.state.clock import Clock
from pixxel_mock.server.state.records import JobTable
from pixxel_mock.server.state.schema import STATE_FORMAT
from pixxel_mock.server.state.snapshot import SNAPSHOT_VERSION, restore
from pixxel_mock.server.state.store import Store

from .loads import ARCHIVE_SEARCH, BETA, JSON_ALPHA, Request, lua_script, parse_wrk

WF_MANY = "6b4cb242-4a23-4596-a217-beaddbc496cb"
URBAN = "6b0d549b-6f03-475a-9600-a35a099950d8"
SA_BETA = "90c192cf-d3ac-44af-8f21-ddb66cad4a26"
START = 1_772_791_200.0
# the console script beside this interpreter: `make bench` runs .venv/bin/python without
# .venv/bin on PATH
PROGRAM = str(Path(sys.executable).with_name("pixxel-mock"))


def process_tree(pid: int) -> list[int]:
    """A process and all its descendants (gunicorn's master and workers, say)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            children.setdefault(int(fields[1]), []).append(int(entry))
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo += children.get(current, [])
    return tree


def rss_kib(pid: int) -> int:
    """Resident memory of a process and all its descendants."""
    total = 0
    for current in process_tree(pid):
        try:
            status = Path(f"/proc/{current}/status").read_text()
        except OSError:
            continue
        total += next(
            (int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0
        )
    return total


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its live descendants: what serving cost,
    whatever else the machine runs (wall-clock rates move with the load; this barely)."""
    ticks = 0
    for current in process_tree(pid):
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def _state_with_jobs(path: Path, count: int) -> list[str]:
    """A state file holding `count` running jobs of the 21-task workflow."""
    store = Store(path, Clock("manual", 1.0, START, time.time()))
    job_ids = [derived_uuid("bench", index) for index in range(count)]
    snapshot = {
        "format": STATE_FORMAT,
        "schema_version": SNAPSHOT_VERSION,
        "namespaces": [
            {
                "namespace": "default",
                "mode": "manual",
                "speed": 1.0,
                "sim_anchor": START,
                "real_anchor": time.time(),
            }
        ],
        "jobs": [
            {
                "namespace": "default",
                "id": job_id,
                "seq": index + 1,
                "workflow_id": WF_MANY,
                "project_id": URBAN,
                "created_by": SA_BETA,
                "created_at": START - 100,
                "polls": 0,
                "overrides": JobOverrides().to_json(),
            }
            for index, job_id in enumerate(job_ids)
        ],
        "downloads": [],
    }
    store.register(JobTable(store.database, JOBS, store.namespaces))
    restore(store, snapshot)
    store.close()
    return job_ids


def archive_scale_run(duration: int, sizes: tuple[int, ...] = (1_000, 100_000)) -> dict[str, Any]:
    """The archive search of the loads (bench/loads.py) with N items in the archive; each
    index is built here first (as `serve` builds it before forking), then served."""
    runs = []
    search = Request("POST", "/v0/archives/search", JSON_ALPHA, ARCHIVE_SEARCH)
    with tempfile.TemporaryDirectory() as scratch_dir:
        scratch = Path(scratch_dir)
        for size in sizes:
            state = scratch / f"state-{size}.sqlite"
            started = time.monotonic()
            archive = Archive(
                load_archive_fixtures(FIXTURES_DIR),
                0,
                size,
                state.with_name(state.name + ".archive"),
            )
            archive.index.prepare()
            build = time.monotonic() - started
            with LiveMock(["--state-file", str(state), "--archive-items", str(size)]) as live:
                loaded = _wrk(live.url, search, 32, 2, duration, scratch)
                single = _wrk(live.url, search, 1, 1, max(duration // 2, 2), scratch)
            runs.append(
                {
                    "items": size,
                    "rps": loaded["rps"],
                    "p50_ms": loaded["p50_ms"],
                    "p99_ms": loaded["p99_ms"],
                    "single_p50_ms": single["p50_ms"],
                    "non_2xx": loaded["non_2xx"] + single["non_2xx"],
                    "build_s": build,
                }
            )
            print(
                f"  {size:>7} items: {loaded['rps']:.0f} req/s, single p50 {single['p50_ms']:.2f} ms",
                flush=True,
            )
    return {"runs": runs, "p50_ratio": runs[-1]["single_p50_ms"] / runs[0]["single_p50_ms"]}


def _wrk(
    url: str,
    request: str | Request,
    connections: int,
    threads: int,
    duration: int,
    scratch: Path,
) -> dict[str, Any]:
    """wrk on one request (a GET of a path, as the key BETA sends it, or any Request)."""
    script = scratch / "scale.lua"
    if isinstance(request, str):
        request = Request("GET", request, BETA)
    script.write_text(lua_script([request]))
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{duration}s",
        "--latency",
        "-s",
        str(script),
        url,
    ]
    return parse_wrk(
        subprocess.run(command, capture_output=True, text=True, timeout=duration + 60).stdout
    )


def scale_run(
    duration: int, sizes: tuple[int, ...] = (10, 1_000, 100_000), touched: int = 2_000
) -> dict[str, Any]:
    """GET job with N stored jobs; resident memory after reading `touched` distinct jobs."""
    runs = []
    with tempfile.TemporaryDirectory() as scratch_dir:
        scratch = Path(scratch_dir)
        for size in sizes:
            state = scratch / f"state-{size}.sqlite"
            job_ids = _state_with_jobs(state, size)
            with LiveMock(["--state-file", str(state)]) as live:
                path = f"/v0/workflows/{WF_MANY}/jobs/{job_ids[0]}"
                loaded = _wrk(live.url, path, 32, 2, duration, scratch)
                single = _wrk(live.url, path, 1, 1, max(duration // 2, 2), scratch)
                session = requests.Session()
                for job_id in job_ids[:touched]:
                    session.get(
                        f"{live.url}/v0/workflows/{WF_MANY}/jobs/{job_id}", headers=BETA, timeout=10
                    )
                rss = rss_kib(live.process.pid)
            runs.append(
                {
                    "jobs": size,
                    "rps": loaded["rps"],
                    "p50_ms": loaded["p50_ms"],
                    "p99_ms": loaded["p99_ms"],
                    "single_p50_ms": single["p50_ms"],
                    "rss_kib": rss,
                    "file_bytes_per_job": state.stat().st_size / size,
                }
            )
            print(
                f"  {size:>7} jobs: {loaded['rps']:.0f} req/s, single p50 {single['p50_ms']:.2f} ms, RSS {rss} KiB",
                flush=True,
            )
    first, last = runs[0], runs[-1]
    return {
        "runs": runs,
        "rss_bytes_per_job": (last["rss_kib"] - first["rss_kib"])
        * 1024
        / (last["jobs"] - first["jobs"]),
        "p50_ratio": last["single_p50_ms"] / first["single_p50_ms"],
    }


def lifecycle_cost(sizes: tuple[int, ...] = (5, 50, 500)) -> list[dict[str, Any]]:
    """plan_job and evaluate for layered DAGs of N tasks (in-process, no HTTP)."""
    catalog = load_catalog(FIXTURES_DIR)
    base = catalog.workflows[WF_MANY]
    block = base.tasks[0].block
    results = []
    for size in sizes:
        width = max(1, int(math.sqrt(size)))
        tasks = []
        for index in range(size):
            layer_start = (index // width - 1) * width
            deps = tuple(
                f"t{d}"
                for d in (layer_start, layer_start + 1)
                if 0 <= d < index and d // width == index // width - 1
            )
            tasks.append(TaskTemplate(f"t{index}", block, deps, {}))
        workflow = replace(base, tasks=tuple(tasks))
        record = JobRecord("bench", "job", 1, workflow.id, workflow.project_id, "sa", START)
        plan = plan_job(record, workflow, 0, 10)
        middle = (plan.started_at + plan.finished_at) / 2
        repeats = max(10, 2000 // size)
        plan_us = _microseconds(partial(plan_job, record, workflow, 0, 10), repeats)
        evaluate_us = _microseconds(partial(evaluate, plan, middle), repeats)
        results.append({"tasks": size, "plan_us": plan_us, "evaluate_us": evaluate_us})
    return results


def _microseconds(call: Any, repeats: int) -> float:
    return timeit.timeit(call, number=repeats) / repeats * 1e6


def startup_seconds(runs: int = 5) -> float:
    """From launching `pixxel-mock serve` to its first 200 on /ping."""
    samples = []
    for _ in range(runs):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        started = time.monotonic()
        process = subprocess.Popen(
            [PROGRAM, "serve", "--port", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            while True:
                try:
                    if requests.get(f"http://127.0.0.1:{port}/ping", timeout=1).status_code == 200:
                        break
                except requests.RequestException:  # not listening yet, or a worker still starting
                    time.sleep(0.005)
            samples.append(time.monotonic() - started)
        finally:
            process.terminate()
            process.wait(10)
    return statistics.median(samples)
