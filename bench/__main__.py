"""`python -m bench`: throughput, latency, scale, start-up and suite time, in one run.

Prints markdown tables and writes bench/results/latest.json (and .md). Installs what
it needs itself: wrk (Debian package) and Prism (npm, pinned in bench/prism). Every
load runs on 127.0.0.1 only, bounded in duration.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from examples.insight_client import POLYGON, InsightClient
from pixxel_mock.contract.live import LiveMock
from pixxel_mock.server.spec.resources import API_SPEC

from .loads import (
    ARCHIVE_SEARCH,
    CATALOG_SESSION,
    UNIQUE,
    WORKLOADS,
    Workload,
    lua_script,
    parse_wrk,
)
from .measures import (
    archive_scale_run,
    cpu_seconds,
    lifecycle_cost,
    scale_run,
    startup_seconds,
)

BENCH = Path(__file__).parent
REPO = BENCH.parent
PRISM = BENCH / "prism" / "node_modules" / ".bin" / "prism"
ALPHA, BETA = "pxm_demo_alpha", "pxm_demo_beta"
AGRI = "9531985d-5d9d-49f8-9818-e811892f902b"
URBAN = "6b0d549b-6f03-475a-9600-a35a099950d8"
WF_LINEAR = "0fd630f1-f29d-4da9-953f-48f1a09f76b5"
WF_FANOUT = "0cb1e29c-658c-4a14-95e6-0af593bd04cf"
WF_MANY = "6b4cb242-4a23-4596-a217-beaddbc496cb"
SPEED = 20  # a 21-task job runs ~32 s of real time: long enough for one wrk run


@dataclass
class Target:
    name: str
    url: str
    pid: int  # the server's process: its tree's CPU time is measured around each run
    mock: Mock | None = None  # a mock gets a fresh running job before each GET-job run
    recorded: dict[str, str] | None = None  # the bare app and Prism: the recorded paths

    def paths(self) -> dict[str, str]:
        if self.mock is not None:
            return paths(self.mock)
        assert self.recorded is not None
        return self.recorded


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_http(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=1).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{url} did not answer")


def ensure_tools(with_prism: bool) -> None:
    if shutil.which("wrk") is None:
        print("installing wrk (Debian package)...", flush=True)
        subprocess.run(["apt-get", "update", "-qq"], check=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True)
    if with_prism and not PRISM.exists():
        print("installing Prism 5.14.2 (npm)...", flush=True)
        subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=BENCH / "prism",
            check=True,
        )


class Mock:
    """A running mock (on any server) with the jobs the loads need."""

    def __init__(self, name: str, url: str, pid: int) -> None:
        self.name = name
        self.url = url
        self.pid = pid
        done = self.create(WF_LINEAR, AGRI, ALPHA)
        for _ in range(5):
            self.create(WF_FANOUT, AGRI, ALPHA)
        requests.post(f"{self.url}/__mock/clock/advance", json={"seconds": 100_000}, timeout=10)
        self.done_job = done
        self.running_job = self.fresh_job()
        requests.put(self.download_path(), headers={"Authorization": ALPHA}, timeout=10)
        self.analysis = analysis_paths(url)
        self.catalogs = seed_catalog(url)

    def create(self, workflow: str, project: str, key: str) -> str:
        response = requests.post(
            f"{self.url}/v0/workflows/{workflow}/jobs?project_id={project}",
            headers={"Authorization": key},
            timeout=10,
        )
        response.raise_for_status()
        return response.json()["id"]

    def fresh_job(self) -> str:
        self.running_job = self.create(WF_MANY, URBAN, BETA)
        time.sleep(0.2)  # out of the queue: running
        return self.running_job

    def download_path(self) -> str:
        return f"{self.url}/v0/workflows/{WF_LINEAR}/jobs/{self.done_job}/download"

    def target(self) -> Target:
        return Target(self.name, self.url, self.pid, mock=self)


def serve_mock(stack: ExitStack, name: str, *args: str) -> Mock:
    """`pixxel-mock serve` as a user starts it (gunicorn), at the benchmark's clock speed."""
    live = stack.enter_context(LiveMock(["--speed", str(SPEED), *args]))
    return Mock(name, live.url, live.process.pid)


def seed_catalog(url: str, orders: int = 4, items: int = 5) -> int:
    """Archive orders fulfilled in the catalog search's namespace, so that the search
    has entries to find and page: the number of catalog entries made."""
    field = json.loads(ARCHIVE_SEARCH)["intersects"]
    found = requests.post(
        f"{url}/v0/archives/search",
        json={"intersects": field, "limit": orders * items},
        headers=CATALOG_SESSION,
        timeout=10,
    ).json()["features"]
    ids = [feature["id"] for feature in found]
    geometry = {"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": field}]}
    for start in range(0, len(ids), items):
        item = {"project_id": AGRI, "usecase": "agriculture", "name": f"bench {start}"}
        body = {
            "order_items": [{**item, "geometry": geometry, "item_ids": ids[start : start + items]}]
        }
        requests.post(f"{url}/v0/orders", json=body, headers=CATALOG_SESSION, timeout=10)
    advance = {"seconds": 30 * 86400}  # paid, fulfilled and catalogued
    requests.post(f"{url}/__mock/clock/advance", json=advance, headers=CATALOG_SESSION, timeout=10)
    search = {"query": {"usecase": {"eq": "agriculture"}}, "limit": 100}
    catalogs = requests.post(
        f"{url}/v0/catalogs/search", json=search, headers=CATALOG_SESSION, timeout=10
    ).json()["catalogs"]
    assert catalogs, "the catalog search's namespace has no catalog entry to find"
    return len(catalogs)


def analysis_paths(url: str) -> dict[str, str]:
    """An AOI over a field and its NDVI visualization, both finished: the paths and bodies
    of the AOI, PNG and insight loads (made by the example client, as a user would)."""
    client = InsightClient(url, ALPHA, poll_delay=0.0)
    satellite_id, item_ids = client.find_items(POLYGON)
    aoi_body = {
        "name": "bench field",
        "description": "bench",
        "provider": "pixxel",
        "satellite_id": satellite_id,
        "project_id": AGRI,
        "geometry": POLYGON,
        "item_ids": item_ids,
    }
    aoi_id = client.create_aoi(AGRI, "bench field", POLYGON)["aoi_id"]
    requests.post(f"{url}/__mock/clock/advance", json={"seconds": 100_000}, timeout=10)
    ndvi = client.index(satellite_id, "NDVI")
    assert ndvi is not None, "the bench needs the NDVI preset of the field's satellite"
    made = client.visualize(aoi_id, ndvi["id"], deadline=60.0)
    date = min(
        a["date"].replace("-", "_")
        for a in client.assets(aoi_id)
        if a["visualization_id"] == made["id"]
    )
    png_body = {"index_id": ndvi["id"], "date": date, "visualization_mode": "dynamic"}
    insight_body = client.insight_body("crop-classification", client.best_asset(aoi_id))
    return {
        "aois": "/v0/aois",
        "aoi_body": json.dumps({**aoi_body, "name": f"bench field {UNIQUE}"}),
        "png": f"/v0/aois/{aoi_id}/visualizations/{made['id']}/png",
        "png_body": json.dumps(png_body),
        "insights": f"/v0/aoi/{aoi_id}/insights",
        "insight_body": json.dumps(insight_body),
    }


def paths(mock: Mock) -> dict[str, str]:
    return {
        "job": f"/v0/workflows/{WF_MANY}/jobs/{mock.running_job}",
        "list": f"/v0/workflows/{WF_FANOUT}/jobs",
        "create": f"/v0/workflows/{WF_LINEAR}/jobs?project_id={AGRI}",
        "download": f"/v0/workflows/{WF_LINEAR}/jobs/{mock.done_job}/download",
        "archive_search": "/v0/archives/search",
        **mock.analysis,
    }


def record_bodies(mock: Mock, workloads: list[Workload], where: Path) -> Path:
    """What the mock answers to each request of the loads, for the bare app to replay."""
    recorded = {}
    for workload in workloads:
        for request in workload.requests(paths(mock)):
            response = requests.request(
                request.method,
                mock.url + request.path,
                headers=request.headers,
                data=request.body or None,
                timeout=10,
            )
            recorded[f"{request.method} {request.path}"] = {
                "status": response.status_code,
                "body": response.text,
            }
    where.write_text(json.dumps(recorded))
    return where


def start_bare(stack: ExitStack, bodies: Path, server: str, recorded: dict[str, str]) -> Target:
    port = free_port()
    env = {**os.environ, "BENCH_BARE_BODIES": str(bodies), "PYTHONPATH": str(REPO)}
    if server == "granian":
        command = [
            sys.executable, "-m", "granian", "--interface", "wsgi", "--workers", "2",
            "--blocking-threads", "4", "--host", "127.0.0.1", "--port", str(port),
            "--factory", "bench.bare_app:create_bare_app",
        ]  # fmt: skip
    else:
        command = [sys.executable, "-m", "bench.serve_bare", "--port", str(port)]
    process = subprocess.Popen(
        command, env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    stack.callback(_stop, process)
    url = f"http://127.0.0.1:{port}"
    wait_http(f"{url}/ping")
    return Target(f"bare Flask ({server})", url, process.pid, recorded=recorded)


def start_mock_on_granian(stack: ExitStack, state: Path) -> Target:
    port = free_port()
    env = {**os.environ, "PIXXEL_MOCK_STATE": str(state), "PIXXEL_MOCK_SPEED": str(SPEED)}
    command = [
        sys.executable, "-m", "granian", "--interface", "wsgi", "--workers", "2",
        "--blocking-threads", "4", "--host", "127.0.0.1", "--port", str(port),
        "--factory", "bench.granian_app:create",
    ]  # fmt: skip
    process = subprocess.Popen(
        command, env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    stack.callback(_stop, process)
    url = f"http://127.0.0.1:{port}"
    wait_http(f"{url}/ping")
    return Mock("pixxel-mock (granian)", url, process.pid).target()


def start_prism(stack: ExitStack, silent: bool, recorded: dict[str, str]) -> Target:
    port = free_port()
    command = [str(PRISM), "mock", "-h", "127.0.0.1", "-p", str(port), str(API_SPEC)]
    if silent:
        command += ["-v", "silent"]
    log = open(os.devnull, "w")  # noqa: SIM115 - closed with the process
    process = subprocess.Popen(command, stdout=log, stderr=log)
    stack.callback(_stop, process)
    stack.callback(log.close)
    url = f"http://127.0.0.1:{port}"
    wait_http(f"{url}/ping")
    return Target(
        "Prism 5.14.2" + (" -v silent" if silent else " (default logging)"),
        url,
        process.pid,
        recorded=recorded,
    )


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()


def run_wrk(
    target: Target,
    workload: Workload,
    path_map: dict[str, str],
    args: argparse.Namespace,
    scripts: Path,
) -> dict[str, Any]:
    script = scripts / f"{workload.name}.lua"
    script.write_text(lua_script(workload.requests(path_map)))
    command = [
        "wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{args.duration}s",
        "--latency", "-s", str(script), target.url,
    ]  # fmt: skip
    cpu_before = cpu_seconds(target.pid)
    output = subprocess.run(
        command, capture_output=True, text=True, timeout=args.duration + 60
    ).stdout
    result = parse_wrk(output)
    result["cpu_us"] = (cpu_seconds(target.pid) - cpu_before) * 1e6 / max(result["requests"], 1)
    return result


def throughput(args: argparse.Namespace, stack: ExitStack, scratch: Path) -> list[dict[str, Any]]:
    mock = serve_mock(stack, "pixxel-mock (serve)")
    validating = serve_mock(stack, "pixxel-mock --validate-responses", "--validate-responses")
    targets = [mock.target(), validating.target()]
    workloads = [w for w in WORKLOADS if not args.workloads or w.name in args.workloads]
    bodies = record_bodies(mock, workloads, scratch / "bodies.json")
    recorded = paths(mock)  # the bare app answers exactly these, as the mock did
    targets.append(start_bare(stack, bodies, "gunicorn", recorded))
    if args.granian:
        targets.append(start_mock_on_granian(stack, scratch / "granian.sqlite"))
        targets.append(start_bare(stack, bodies, "granian", recorded))
    if not args.skip_prism:
        targets += [start_prism(stack, False, recorded), start_prism(stack, True, recorded)]
    rows = []
    for workload in workloads:
        runs: dict[str, list[dict[str, Any]]] = {t.name: [] for t in targets}
        for _ in range(args.runs):
            for target in targets:
                if workload.needs_running_job and target.mock is not None:
                    target.mock.fresh_job()
                runs[target.name].append(run_wrk(target, workload, target.paths(), args, scratch))
        for target in targets:
            samples = runs[target.name]
            rows.append(
                {
                    "workload": workload.name,
                    "target": target.name,
                    "rps": statistics.median(s["rps"] for s in samples),
                    "p50_ms": statistics.median(s["p50_ms"] for s in samples),
                    "p99_ms": statistics.median(s["p99_ms"] for s in samples),
                    "non_2xx": sum(s["non_2xx"] for s in samples),
                    "cpu_us": statistics.median(s["cpu_us"] for s in samples),
                    "runs": [s["rps"] for s in samples],
                }
            )
            print(
                f"  {workload.name:>14} {target.name:<36} {rows[-1]['rps']:>9.0f} req/s", flush=True
            )
    return rows


MOCK, BARE, SILENT = "pixxel-mock (serve)", "bare Flask (gunicorn)", "Prism 5.14.2 -v silent"
# the goals of issue 14, per workload: (min ratio to Prism silent, min ratio to bare, max p99 ms)
GOALS = {
    "get_job": (1.5, 0.85, 20.0),
    "list_jobs": (1.5, None, 20.0),
    "create_job": (1.5, 0.5, 20.0),
    "put_download": (1.5, None, 20.0),
    "polling_client": (1.5, None, 20.0),
    "archive_search": (2.0, None, None),  # issue 27
    "create_aoi": (2.0, None, None),  # issue 27
    "index_png": (1.0, None, None),  # issue 28: at least at Prism's speed
    "create_insight": (2.0, None, None),  # issue 28
    "submit_order": (2.0, None, None),  # issue 29
    "catalog_search": (2.0, None, None),  # issue 29
}


def _down(ratio: float) -> float:
    """Two decimals, rounded down: a ratio shown as meeting an "at least" goal meets it."""
    return math.floor(ratio * 100) / 100


def ratios(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for workload in dict.fromkeys(r["workload"] for r in rows):
        by = {r["target"]: r["rps"] for r in rows if r["workload"] == workload}
        p99 = {r["target"]: r["p99_ms"] for r in rows if r["workload"] == workload}
        cpu = {r["target"]: r.get("cpu_us") for r in rows if r["workload"] == workload}
        mock = by.get(MOCK)
        if not mock:
            continue
        errors = sum(
            r["non_2xx"] for r in rows if r["workload"] == workload and r["target"] == MOCK
        )
        entry: dict[str, Any] = {
            "workload": workload,
            "mock p99 ms": math.ceil(p99[MOCK] * 10) / 10,  # up: "at most" goals
            "mock non-2xx": errors,
        }
        if cpu.get(MOCK) and cpu.get(BARE):  # the same ratio in server CPU, load-proof
            entry["mock/bare by CPU"] = _down(cpu[BARE] / cpu[MOCK])
        for name, label in (
            (BARE, "mock/bare"),
            ("Prism 5.14.2 (default logging)", "mock/Prism default"),
            (SILENT, "mock/Prism silent"),
        ):
            if by.get(name):
                entry[label] = _down(mock / by[name])
        if by.get("pixxel-mock (granian)") and by.get("bare Flask (granian)"):
            entry["granian mock/bare"] = _down(
                by["pixxel-mock (granian)"] / by["bare Flask (granian)"]
            )
            entry["granian/gunicorn mock"] = _down(by["pixxel-mock (granian)"] / mock)
            if by.get(SILENT):
                entry["granian mock/Prism silent"] = _down(by["pixxel-mock (granian)"] / by[SILENT])
        out.append(entry)
    return out


def goals(ratio_rows: list[dict[str, Any]]) -> list[str]:
    """One markdown row per workload: each goal with its figure and met/missed."""

    def judged(value: float | None, goal: float | None, at_least: bool, errors: int = 0) -> str:
        if goal is None or value is None:
            return "-"
        if errors:  # answers that are refusals measure nothing the goal is about
            return f"{value} (**not judged**: {errors} non-2xx answers)"
        met = value >= goal if at_least else value <= goal
        sign = ">=" if at_least else "<="
        return f"{value} ({'met' if met else '**missed**'}: {sign} {goal})"

    lines = [
        "| workload | mock/Prism silent | mock/bare | mock/bare by CPU | mock p99 ms |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in ratio_rows:
        silent, bare, p99 = GOALS.get(r["workload"], (None, None, None))
        errors = r.get("mock non-2xx", 0)
        bare_texts = [
            judged(r.get(key), bare, True, errors) if bare else str(r.get(key, "-"))
            for key in ("mock/bare", "mock/bare by CPU")
        ]
        lines.append(
            f"| {r['workload']} | {judged(r.get('mock/Prism silent'), silent, True, errors)}"
            f" | {' | '.join(bare_texts)} | {judged(r['mock p99 ms'], p99, False)} |"
        )
    return lines


def contract_seconds() -> float:
    with tempfile.TemporaryDirectory() as reports:
        started = time.monotonic()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pixxel_mock.server",
                "contract",
                f"--report-dir={reports}",
                f"--junit-xml={reports}/j.xml",
            ],
            capture_output=True,
            check=False,
            cwd=REPO,
        )
        return time.monotonic() - started


def markdown(results: dict[str, Any]) -> str:
    lines = ["### Throughput and latency (medians of runs)", ""]
    lines += [
        "| workload | target | req/s | p50 ms | p99 ms | server CPU µs/request | non-2xx |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in results["throughput"]:
        cpu = f"{r['cpu_us']:.0f}" if r.get("cpu_us") is not None else "-"
        lines.append(
            f"| {r['workload']} | {r['target']} | {r['rps']:.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {cpu} | {r['non_2xx']} |"
        )
    lines += ["", "### Goals (issue 14), `pixxel-mock serve`", "", *goals(results["ratios"])]
    lines += ["", "### Ratios (req/s)", ""]
    keys = sorted({k for r in results["ratios"] for k in r if k != "workload"})
    lines += ["| workload | " + " | ".join(keys) + " |", "|---|" + "---:|" * len(keys)]
    for r in results["ratios"]:
        lines.append(f"| {r['workload']} | " + " | ".join(str(r.get(k, "")) for k in keys) + " |")
    if results.get("scale"):
        lines += ["", "### Scale: GET job with N stored jobs", ""]
        lines += [
            "| stored jobs | req/s | p50 ms | p99 ms | single-client p50 ms | RSS KiB | state file bytes/job |",
            "|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for r in results["scale"]["runs"]:
            lines.append(
                f"| {r['jobs']} | {r['rps']:.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['single_p50_ms']:.2f} | {r['rss_kib']} | {r['file_bytes_per_job']:.0f} |"
            )
        lines.append(
            f"\nResident memory per stored job: {results['scale']['rss_bytes_per_job']:.1f} bytes; p50 at 100,000 jobs vs 10: {results['scale']['p50_ratio']:.2f}x"
        )
    if results.get("archive_scale"):
        scale = results["archive_scale"]
        lines += ["", "### Scale: archive search with N items (issue 27)", ""]
        lines += [
            "| items | req/s | p50 ms | p99 ms | single-client p50 ms | index build s |",
            "|---:|---:|---:|---:|---:|---:|",
        ]
        for r in scale["runs"]:
            lines.append(
                f"| {r['items']} | {r['rps']:.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['single_p50_ms']:.2f} | {r['build_s']:.1f} |"
            )
        met = "met" if scale["p50_ratio"] <= 1.5 else "**missed**"
        lines.append(
            f"\nSingle-client p50 at {scale['runs'][-1]['items']:,} items vs {scale['runs'][0]['items']:,}: {scale['p50_ratio']:.2f}x ({met}: <= 1.5)"
        )
    if results.get("lifecycle"):
        lines += [
            "",
            "### Lifecycle evaluation cost",
            "",
            "| tasks | plan µs | evaluate µs |",
            "|---:|---:|---:|",
        ]
        lines += [
            f"| {r['tasks']} | {r['plan_us']:.0f} | {r['evaluate_us']:.0f} |"
            for r in results["lifecycle"]
        ]
    if results.get("startup_s") is not None:
        lines.append(
            f"\nStart-up to first 200 on /ping: {results['startup_s'] * 1000:.0f} ms (median of 5)"
        )
    if results.get("contract_s") is not None:
        lines.append(f"\nFull in-process contract suite: {results['contract_s']:.1f} s")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--runs", type=int, default=3, help="runs per load and target (median)")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument(
        "--workloads",
        nargs="*",
        default=[],
        help="subset of: " + ", ".join(w.name for w in WORKLOADS),
    )
    parser.add_argument("--skip-prism", action="store_true")
    parser.add_argument(
        "--no-granian", dest="granian", action="store_false", help="skip the granian comparison"
    )
    parser.add_argument(
        "--skip",
        nargs="*",
        default=[],
        choices=["throughput", "scale", "archive_scale", "lifecycle", "startup", "contract"],
    )
    parser.add_argument("--out", type=Path, default=BENCH / "results" / "latest.json")
    args = parser.parse_args(argv)
    ensure_tools(with_prism=not args.skip_prism and "throughput" not in args.skip)
    results: dict[str, Any] = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "wrk": f"-t{args.threads} -c{args.connections} -d{args.duration}s, {args.runs} runs, medians",
        },
        "at": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    with tempfile.TemporaryDirectory() as scratch, ExitStack() as stack:
        if "throughput" not in args.skip:
            print("throughput and latency:", flush=True)
            results["throughput"] = throughput(args, stack, Path(scratch))
            results["ratios"] = ratios(results["throughput"])
    if "scale" not in args.skip:
        print("scale...", flush=True)
        results["scale"] = scale_run(args.duration)
    if "archive_scale" not in args.skip:
        print("archive scale...", flush=True)
        results["archive_scale"] = archive_scale_run(args.duration)
    if "lifecycle" not in args.skip:
        results["lifecycle"] = lifecycle_cost()
    if "startup" not in args.skip:
        results["startup_s"] = startup_seconds()
    if "contract" not in args.skip:
        print("contract suite...", flush=True)
        results["contract_s"] = contract_seconds()
    results.setdefault("throughput", [])
    results.setdefault("ratios", [])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    text = markdown(results)
    args.out.with_suffix(".md").write_text(text)
    print(text)
    print(f"written: {args.out} and {args.out.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
