"""`python -m bench.profile_ops [op ...]`: CPU cost of one request of each workload, in-process.

wrk numbers swing with whatever else the two cores run; the process CPU time a request
costs does not, much. This builds the app with `create_app` as `serve` would (wall clock
at the benchmark's speed, full request validation, lifecycle and journal on), drives N
requests of each workload straight through its WSGI callable (no socket, no server), and
prints µs of process CPU time per request (`time.process_time`: every thread, the
journal flusher included). `bare` is the bench's bare Flask app answering the same
bodies: the floor that Flask itself costs.

`--profile` prints cProfile's top functions per op. `--callgrind` counts instructions
instead, which no other load on the machine can move: each op runs under valgrind's
callgrind at two request counts, and the difference of the totals, divided by the
difference of the counts, is the cost of one request without the start-up (about a
minute per op).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from werkzeug.test import EnvironBuilder

from examples.insight_client import POLYGON
from pixxel_mock.server import MockConfig, create_app

from .loads import ALPHA, JSON_ALPHA, UNIQUE, WORKLOADS, Request, Workload

WF_LINEAR = "0fd630f1-f29d-4da9-953f-48f1a09f76b5"
WF_FANOUT = "0cb1e29c-658c-4a14-95e6-0af593bd04cf"
WF_MANY = "6b4cb242-4a23-4596-a217-beaddbc496cb"
AGRI = "9531985d-5d9d-49f8-9818-e811892f902b"
URBAN = "6b0d549b-6f03-475a-9600-a35a099950d8"
BODY = "bench.body"  # the request's body text, in its environ
SPEED = 20.0  # as in `make bench`
WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class Driver:
    """Calls a WSGI app with prebuilt environs; checks every answer is a 2xx."""

    def __init__(self, app: WsgiApp) -> None:
        self.app = app
        self._status = ""
        self._count = 0

    def _start(self, status: str, headers: list[Any], exc_info: Any = None) -> None:
        self._status = status

    def environ(self, request: Request) -> dict[str, Any]:
        path, _, query = request.path.partition("?")
        builder = EnvironBuilder(
            path=path,
            method=request.method,
            query_string=query,
            headers=request.headers,
            data=request.body,
            environ_base={"REMOTE_ADDR": "127.0.0.1"},
        )
        environ = builder.get_environ()
        environ[BODY] = request.body
        return environ

    def call(self, environ: dict[str, Any], body: bytes = b"") -> bytes:
        env = dict(environ)
        text = env.pop(BODY, "")
        if UNIQUE in text:
            self._count += 1
            text = text.replace(UNIQUE, str(self._count))
        data = text.encode() or body
        env["wsgi.input"] = io.BytesIO(data)
        env["CONTENT_LENGTH"] = str(len(data))
        result = self.app(env, self._start)
        try:
            body = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        if not self._status.startswith("2"):
            raise RuntimeError(f"{self._status}: {body[:300]!r}")
        return body


def mock_paths(driver: Driver) -> dict[str, str]:
    """The jobs the loads need, made as `bench` makes them (through the app itself)."""

    def create(workflow: str, project: str, key: str) -> str:
        request = Request(
            "POST", f"/v0/workflows/{workflow}/jobs?project_id={project}", {"Authorization": key}
        )
        return json.loads(driver.call(driver.environ(request)))["id"]

    done = create(WF_LINEAR, AGRI, "pxm_demo_alpha")
    for _ in range(5):
        create(WF_FANOUT, AGRI, "pxm_demo_alpha")
    advance = EnvironBuilder(
        path="/__mock/clock/advance",
        method="POST",
        json={"seconds": 100_000},
        environ_base={"REMOTE_ADDR": "127.0.0.1"},
    ).get_environ()
    driver.call(advance, advance["wsgi.input"].read())
    running = create(WF_MANY, URBAN, "pxm_demo_beta")
    time.sleep(0.6)  # out of the queue at 20x: running, as in the bench
    paths = {
        "job": f"/v0/workflows/{WF_MANY}/jobs/{running}",
        "list": f"/v0/workflows/{WF_FANOUT}/jobs",
        "create": f"/v0/workflows/{WF_LINEAR}/jobs?project_id={AGRI}",
        "download": f"/v0/workflows/{WF_LINEAR}/jobs/{done}/download",
        "archive_search": "/v0/archives/search",
        "aois": "/v0/aois",
        "aoi_body": aoi_body(driver),
    }
    driver.call(
        driver.environ(Request("PUT", paths["download"], {"Authorization": "pxm_demo_alpha"}))
    )
    return paths


def aoi_body(driver: Driver) -> str:
    """Create AOI's body as the bench sends it: two items of the first satellite over
    the field, a name of its own per request."""
    satellite = json.loads(driver.call(driver.environ(Request("GET", "/v0/satellites", ALPHA))))[
        "satellites"
    ][0]
    query = {
        "start_date": "2020-01-01T00:00:00Z",
        "end_date": "2030-01-01T00:00:00Z",
        "satellites": [
            {"satellite_id": satellite["id"], "collection_id": satellite["collections"][0]["id"]}
        ],
        "geometry": POLYGON,
        "limit": 2,
    }
    found = driver.call(
        driver.environ(Request("POST", "/v0/search", JSON_ALPHA, json.dumps(query)))
    )
    body = {
        "name": f"bench field {UNIQUE}",
        "description": "bench",
        "provider": "pixxel",
        "satellite_id": satellite["id"],
        "project_id": AGRI,
        "geometry": POLYGON,
        "item_ids": list(json.loads(found)["items"]),
    }
    return json.dumps(body)


def bare_driver(mock: Driver, paths: dict[str, str], workloads: list[Workload]) -> Driver:
    """The bench's bare app, answering what the mock answers to the same requests."""
    from .bare_app import create_bare_app

    recorded = {}
    for workload in workloads:
        for request in workload.requests(paths):
            body = mock.call(mock.environ(request))
            recorded[f"{request.method} {request.path}"] = {"status": 200, "body": body.decode()}
    handle, name = tempfile.mkstemp(suffix=".json")
    with os.fdopen(handle, "w") as out:
        json.dump(recorded, out)
    os.environ["BENCH_BARE_BODIES"] = name
    try:
        return Driver(create_bare_app())
    finally:
        os.unlink(name)


def cpu_per_request(driver: Driver, environs: list[dict[str, Any]], count: int) -> float:
    """µs of process CPU per request over `count` requests cycling through `environs`."""
    for index in range(min(count, 50)):  # warm the caches, as a running server has them
        driver.call(environs[index % len(environs)])
    started = time.process_time()
    for index in range(count):
        driver.call(environs[index % len(environs)])
    return (time.process_time() - started) / count * 1e6


def profile(driver: Driver, environs: list[dict[str, Any]], count: int, top: int, sort: str) -> str:
    profiler = cProfile.Profile(time.thread_time)  # CPU, not waits for the GIL
    profiler.enable()
    for index in range(count):
        driver.call(environs[index % len(environs)])
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats(sort).print_stats(top)
    return out.getvalue()


def instructions_per_request(op: str, count: int) -> float:
    """Instructions of one request of `op`, by callgrind, start-up excluded."""

    def total(requests: int) -> int:
        command = [
            "valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
            sys.executable, "-m", "bench.profile_ops", op, "--no-bare", "--repeat", "1",
            "-n", str(requests),
        ]  # fmt: skip
        output = subprocess.run(command, capture_output=True, text=True, check=True).stderr
        match = re.search(r"Collected : (\d+)", output)
        if match is None:
            raise RuntimeError(f"callgrind said:\n{output}")
        return int(match.group(1))

    return (total(3 * count) - total(count)) / (2 * count)


def main(argv: list[str] | None = None) -> int:
    names = [w.name for w in WORKLOADS]
    parser = argparse.ArgumentParser(prog="python -m bench.profile_ops", description=__doc__)
    parser.add_argument("ops", nargs="*", help="subset of: " + ", ".join(names))
    parser.add_argument("-n", "--requests", type=int, default=2000, help="requests per op")
    parser.add_argument("--repeat", type=int, default=3, help="measures per op (median)")
    parser.add_argument("--profile", action="store_true", help="cProfile's top functions too")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument(
        "--sort", default="cumulative", help="cProfile's order: cumulative, tottime..."
    )
    parser.add_argument("--no-bare", dest="bare", action="store_false")
    parser.add_argument(
        "--callgrind", action="store_true", help="instructions per request (valgrind)"
    )
    args = parser.parse_args(argv)
    workloads = [w for w in WORKLOADS if not args.ops or w.name in args.ops]
    if args.callgrind:
        count = min(args.requests, 100)
        print(f"instructions per request (callgrind, {count} vs {3 * count} requests)")
        for workload in workloads:
            cost = instructions_per_request(workload.name, count)
            print(f"{workload.name:>16} {cost / 1e6:>8.2f} M", flush=True)
        return 0
    with tempfile.TemporaryDirectory() as scratch:
        app = create_app(MockConfig(state_file=Path(scratch) / "state.sqlite", speed=SPEED))
        mock = Driver(app)
        paths = mock_paths(mock)
        bare = bare_driver(mock, paths, workloads) if args.bare else None
        print(f"µs of process CPU per request, median of {args.repeat} x {args.requests}")
        print(f"{'op':>16} {'mock':>8} {'bare':>8} {'mock/bare':>9}")
        for workload in workloads:
            requests = workload.requests(paths)
            environs = [mock.environ(r) for r in requests]
            cost = statistics.median(
                cpu_per_request(mock, environs, args.requests) for _ in range(args.repeat)
            )
            floor = (
                statistics.median(
                    cpu_per_request(bare, environs, args.requests) for _ in range(args.repeat)
                )
                if bare
                else float("nan")
            )
            print(
                f"{workload.name:>16} {cost:>8.1f} {floor:>8.1f} {floor / cost:>9.2f}", flush=True
            )
            if args.profile:
                print(profile(mock, environs, args.requests, args.top, args.sort))
        app.extensions["pixxel_mock"].close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
