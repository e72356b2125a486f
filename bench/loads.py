"""The loads the benchmark sends, as wrk Lua scripts, and the reading of wrk's report."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

ALPHA = {"Authorization": "pxm_demo_alpha"}
BETA = {"Authorization": "pxm_demo_beta"}
JSON_ALPHA = {**ALPHA, "Content-Type": "application/json"}
# what an imagery client asks most: low-cloud scenes over a field (a 0.2-degree square in
# Punjab) since a date, newest first, a page of 10
ARCHIVE_SEARCH = json.dumps(
    {
        "intersects": {
            "type": "Polygon",
            "coordinates": [[[75.3, 30.3], [75.5, 30.3], [75.5, 30.5], [75.3, 30.5], [75.3, 30.3]]],
        },
        "datetime": "2024-06-01T00:00:00Z/..",
        "query": {"eo:cloud_cover": {"lt": 30}},
        "limit": 10,
    },
    separators=(",", ":"),
)
# an order of one tasking item over the same square, its capture window years ahead (so
# it stays valid at any clock speed); and a catalog search by use case, newest first
SUBMIT_ORDER = json.dumps(
    {
        "order_items": [
            {
                "project_id": "9531985d-5d9d-49f8-9818-e811892f902b",
                "usecase": "agriculture",
                "geometry": {
                    "type": "FeatureCollection",
                    "features": [
                        {"type": "Feature", "geometry": json.loads(ARCHIVE_SEARCH)["intersects"]}
                    ],
                },
                "bandset": {"bandset_id": "2d1b6a3e-52f4-4f0e-9d0c-6a1f3c2b7e10"},
                "recurrence": "ONCE",
                "start_date": "2031-01-10T00:00:00Z",
                "end_date": "2031-01-18T00:00:00Z",
            }
        ]
    },
    separators=(",", ":"),
)
CATALOG_SEARCH = json.dumps(
    {"query": {"usecase": {"eq": "agriculture"}}, "limit": 10}, separators=(",", ":")
)
# catalog searches run in a namespace of their own, apart from the orders submitted
CATALOG_SESSION = {**JSON_ALPHA, "X-Mock-Session": "bench-catalog"}


UNIQUE = "@N@"  # in a body: replaced per request by a number no other request gets


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""


@dataclass(frozen=True)
class Workload:
    name: str
    needs_running_job: bool
    build: Callable[[dict[str, str]], list[Request]]

    def requests(self, paths: dict[str, str]) -> list[Request]:
        return self.build(paths)


WORKLOADS = [
    Workload("get_job", True, lambda p: [Request("GET", p["job"], BETA)]),
    Workload("list_jobs", False, lambda p: [Request("GET", p["list"], ALPHA)]),
    Workload("create_job", False, lambda p: [Request("POST", p["create"], ALPHA)]),
    Workload("put_download", False, lambda p: [Request("PUT", p["download"], ALPHA)]),
    Workload(
        "polling_client",  # what a pipeline does: mostly polls, sometimes lists and downloads
        True,
        lambda p: (
            [Request("GET", p["job"], BETA)] * 8
            + [Request("GET", p["list"], ALPHA), Request("PUT", p["download"], ALPHA)]
        ),
    ),
    Workload(
        "archive_search",
        False,
        lambda p: [Request("POST", p["archive_search"], JSON_ALPHA, ARCHIVE_SEARCH)],
    ),
    # an AOI of two items over a field, named anew each time (a name is unique in a project)
    Workload(
        "create_aoi", False, lambda p: [Request("POST", p["aois"], JSON_ALPHA, p["aoi_body"])]
    ),
    Workload("index_png", False, lambda p: [Request("POST", p["png"], JSON_ALPHA, p["png_body"])]),
    Workload(
        "create_insight",
        False,
        lambda p: [Request("POST", p["insights"], JSON_ALPHA, p["insight_body"])],
    ),
    Workload(
        "submit_order",
        False,
        lambda p: [Request("POST", "/v0/orders", JSON_ALPHA, SUBMIT_ORDER)],
    ),
    Workload(
        "catalog_search",
        False,
        lambda p: [Request("POST", "/v0/catalogs/search", CATALOG_SESSION, CATALOG_SEARCH)],
    ),
]


def _lua_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def lua_script(requests: list[Request]) -> str:
    """A wrk script cycling through the requests. A body holding UNIQUE is formatted per
    request, with the run's start (a second: each run is longer), the thread's number (set
    by `setup`) and a counter of its own, so that no two runs of a load repeat a name."""
    lines = [
        "local run = os.time()",
        "local requests = {}",
        "local index = 0",
        "local counter = 0",
        "local threads = 0",
        "setup = function(thread)",
        "  threads = threads + 1",
        '  thread:set("thread_number", threads)',
        "end",
        "init = function(args)",
    ]
    for number, request in enumerate(requests, start=1):
        headers = ", ".join(
            f"[{_lua_string(k)}] = {_lua_string(v)}" for k, v in request.headers.items()
        )
        parts = f"{_lua_string(request.method)}, {_lua_string(request.path)}, {{{headers}}}"
        if UNIQUE in request.body:
            lines.append(f"  requests[{number}] = {{{parts}, {_lua_string(request.body)}}}")
            continue
        body = f", {_lua_string(request.body)}" if request.body else ""
        lines.append(f"  requests[{number}] = wrk.format({parts}{body})")
    lines += [
        "end",
        "request = function()",
        "  index = index % #requests + 1",
        "  local r = requests[index]",
        '  if type(r) == "string" then return r end',
        "  counter = counter + 1",
        '  local unique = run .. "-" .. thread_number .. "-" .. counter',
        f'  return wrk.format(r[1], r[2], r[3], (r[4]:gsub("{UNIQUE}", unique)))',
        "end",
    ]
    return "\n".join(lines) + "\n"


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _milliseconds(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    if not match:
        raise ValueError(f"unreadable wrk latency {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse_wrk(output: str) -> dict[str, Any]:
    """Requests/s, p50 and p99 (ms), non-2xx answers and requests sent, from `wrk --latency`."""
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    p50 = re.search(r"^\s+50%\s+(\S+)", output, re.MULTILINE)
    p99 = re.search(r"^\s+99%\s+(\S+)", output, re.MULTILINE)
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    total = re.search(r"(\d+) requests in", output)
    if not (rps and p50 and p99 and total):
        raise RuntimeError(f"wrk said:\n{output}")
    return {
        "rps": float(rps.group(1)),
        "p50_ms": _milliseconds(p50.group(1)),
        "p99_ms": _milliseconds(p99.group(1)),
        "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
        "requests": int(total.group(1)),
    }
