"""Shared constants and small helpers of the test suite."""

from __future__ import annotations

import io
import json
import os
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from examples.pipeline_client import PixxelError
from pixxel_mock.contract.explore import ClientRun
from pixxel_mock.contract.keys import named_keys
from pixxel_mock.contract.strategies import BehaviourSpace, server_behaviours
from pixxel_mock.server.model.catalog import load_catalog
from pixxel_mock.server.spec.resources import FIXTURES_DIR

REPO = Path(__file__).resolve().parent.parent  # the checkout: node_modules, reports/
# `make long` (PIXXEL_PROFILE=long): the load, crash and fuzz tests at full size; `make test`
# runs them smaller, to stay within its few minutes.
LONG_PROFILE = os.environ.get("PIXXEL_PROFILE") == "long"


def sized(quick: int, long: int) -> int:
    """How many rounds, requests or examples a test makes in this profile."""
    return long if LONG_PROFILE else quick


KEYS = named_keys(load_catalog(FIXTURES_DIR))  # the demo keys: alpha, beta, revoked
ALPHA = {"Authorization": KEYS["alpha"]}
BETA = {"Authorization": KEYS["beta"]}
REVOKED = {"Authorization": KEYS["revoked"]}
AGRI = "9531985d-5d9d-49f8-9818-e811892f902b"
COAST = "36f675cc-81e7-4ef5-a8e2-5d940ed90475"
URBAN = "6b0d549b-6f03-475a-9600-a35a099950d8"
WF_LINEAR = "0fd630f1-f29d-4da9-953f-48f1a09f76b5"
WF_FANOUT = "0cb1e29c-658c-4a14-95e6-0af593bd04cf"
WF_FAILING = "8e81973e-0bec-47b0-b898-d190f9ebdacc"
WF_MANY = "6b4cb242-4a23-4596-a217-beaddbc496cb"
# (workflow, project, headers, expected final status)
JOURNEYS = [
    (WF_LINEAR, AGRI, ALPHA, "completed"),
    (WF_FANOUT, AGRI, ALPHA, "completed"),
    (WF_FAILING, COAST, ALPHA, "failed"),
    (WF_MANY, URBAN, BETA, "completed"),
]
JOB_ORDER = {"queued": 0, "running": 1, "completed": 2, "failed": 2}
TASK_ORDER = {"created": 0, "inprogress": 1, "completed": 2, "failed": 2}


def explore_example(
    pixxel_mock: Any,
    operations: Sequence[str],
    client: Callable[[str, str], object],
    check: Callable[[ClientRun], None],
    allowed_exceptions: tuple[type[BaseException], ...] = (PixxelError,),
) -> None:
    """Let explore attack an example client with the behaviours of the operations it
    calls (15 examples: enough to meet each outcome, quick enough for every run)."""
    pixxel_mock.explore(
        client,
        behaviours=server_behaviours(space=BehaviourSpace.derive(operations=list(operations))),
        allowed_exceptions=allowed_exceptions,
        check=check,
        max_examples=15,
    )


def open_zip(content: bytes) -> tuple[dict[str, Any], dict[str, bytes]]:
    """The manifest and every other file of a package."""
    archive = zipfile.ZipFile(io.BytesIO(content))
    assert archive.testzip() is None
    files = {name: archive.read(name) for name in archive.namelist()}
    return json.loads(files.pop("manifest.json")), files


def percent(progress: str) -> int:
    assert progress.endswith("%"), progress
    return int(progress[:-1])


def check_progression(previous: dict[str, Any] | None, job: dict[str, Any]) -> None:
    """Lifecycle invariants between two reads of the same job."""
    assert percent(job["progress"]) in range(101)
    assert bool(job["finished_at"]) == (job["status"] in ("completed", "failed"))
    by_name = {t["name"]: t for t in job["tasks"]}
    for task in job["tasks"]:
        if task["status"] != "created":
            for dep in task["depends_on"]:
                assert by_name[dep]["status"] == "completed", (task["name"], dep)
                assert by_name[dep]["finished_at"] <= task["recv_time"]
        stamps = [task[k] for k in ("recv_time", "send_time", "block_inf_start_time")]
        set_stamps = [s for s in stamps if s]
        assert set_stamps == sorted(set_stamps)
        assert bool(task["finished_at"]) == (task["status"] in ("completed", "failed"))
    if previous is None:
        return
    assert JOB_ORDER[job["status"]] >= JOB_ORDER[previous["status"]]
    if previous["status"] in ("completed", "failed"):
        assert job["status"] == previous["status"]
    assert percent(job["progress"]) >= percent(previous["progress"])
    before = {t["name"]: t for t in previous["tasks"]}
    for task in job["tasks"]:
        old = before[task["name"]]
        assert TASK_ORDER[task["status"]] >= TASK_ORDER[old["status"]]
        assert task["progress"] >= old["progress"]


HAR_BASE = "https://api.pixxel.space"


def har_entry(method: str, path: str, headers: dict, status: int, body: bytes) -> dict:
    url = HAR_BASE + path
    query = [
        {"name": k, "value": v}
        for k, _, v in (p.partition("=") for p in path.partition("?")[2].split("&") if p)
    ]
    return {
        "startedDateTime": "2026-03-06T10:00:00.000Z",
        "time": 12,
        "request": {
            "method": method,
            "url": url,
            "httpVersion": "HTTP/1.1",
            "headers": [{"name": k, "value": v} for k, v in headers.items()],
            "queryString": query,
            "cookies": [],
            "headersSize": -1,
            "bodySize": 0,
        },
        "response": {
            "status": status,
            "statusText": "",
            "httpVersion": "HTTP/1.1",
            "headers": [{"name": "Content-Type", "value": "application/json"}],
            "cookies": [],
            "content": {"size": len(body), "mimeType": "application/json", "text": body.decode()},
            "redirectURL": "",
            "headersSize": -1,
            "bodySize": len(body),
        },
        "cache": {},
        "timings": {"send": 1, "wait": 10, "receive": 1},
    }


def har(entries: list[dict]) -> dict:
    return {
        "log": {"version": "1.2", "creator": {"name": "test", "version": "1"}, "entries": entries}
    }
