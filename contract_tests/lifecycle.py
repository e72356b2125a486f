"""Property tests of the lifecycle through the API: a hypothesis state machine.

It drives a mock (in-process or live, through the control API for the clock):
creates jobs on random workflows, advances time, polls, starts downloads, fetches
signed URLs and tries another tenant's key, and checks after every step that
nothing the docs promise to move forward ever moves back.
"""

from __future__ import annotations

import hashlib
import io
import json
import uuid
import zipfile
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, precondition, rule

from pixxel_mock.contract.keys import client_key, other_tenant_key
from pixxel_mock.contract.transport import Reply, Transport
from pixxel_mock.server.handling import FAULT_HEADER
from pixxel_mock.server.model.catalog import load_catalog
from pixxel_mock.server.spec.resources import FIXTURES_DIR

JOB_RANK = {"queued": 0, "running": 1, "completed": 2, "failed": 2}
TASK_RANK = {"created": 0, "inprogress": 1, "completed": 2, "failed": 2}
TERMINAL = ("completed", "failed")
CATALOG = load_catalog(FIXTURES_DIR)  # the mock's own fixtures: the machine runs on mocks
OWNER_KEY = client_key(CATALOG)
OTHER_TENANT_KEY = other_tenant_key(CATALOG, OWNER_KEY)
FAULT_RETRIES = 20


class LifecycleViolation(AssertionError):
    """A lifecycle property the API broke; the message says which and where."""


def require(condition: bool, message: str) -> None:
    if not condition:
        raise LifecycleViolation(message)


@dataclass
class TrackedJob:
    workflow_id: str
    project_id: str
    id: str
    last: dict[str, Any] | None = None
    download: dict[str, Any] | None = None
    history: list[str] = field(default_factory=list)


def check_job(previous: dict[str, Any] | None, job: dict[str, Any]) -> None:
    """Every per-read and read-to-read property of a job."""
    where = f"job {job.get('id')}"
    progress = int(str(job["progress"]).rstrip("%"))
    require(0 <= progress <= 100, f"{where}: progress {job['progress']} out of range")
    require(
        bool(job["finished_at"]) == (job["status"] in TERMINAL),
        f"{where}: finished_at {job['finished_at']!r} with status {job['status']}",
    )
    tasks = {t["name"]: t for t in job["tasks"]}
    for task in job["tasks"]:
        if task["status"] != "created":
            for dep in task["depends_on"]:
                require(
                    tasks[dep]["status"] == "completed",
                    f"{where}: task {task['name']} started before {dep} completed",
                )
        stamps = [
            task[k] for k in ("recv_time", "send_time", "block_inf_start_time", "finished_at")
        ]
        set_stamps = [s for s in stamps if s]
        require(set_stamps == sorted(set_stamps), f"{where}: task {task['name']} times unordered")
    created, started, finished = job["created_at"], job["exec_created_at"], job["finished_at"]
    require(not started or created <= started, f"{where}: started before it was created")
    require(not finished or started <= finished, f"{where}: finished before it started")
    if previous is None:
        return
    require(
        JOB_RANK[job["status"]] >= JOB_RANK[previous["status"]],
        f"{where}: status went back from {previous['status']} to {job['status']}",
    )
    require(
        previous["status"] not in TERMINAL or job["status"] == previous["status"],
        f"{where}: terminal status {previous['status']} changed to {job['status']}",
    )
    before = int(str(previous["progress"]).rstrip("%"))
    require(progress >= before, f"{where}: progress fell from {before}% to {progress}%")
    old = {t["name"]: t for t in previous["tasks"]}
    for task in job["tasks"]:
        was = old[task["name"]]
        require(
            TASK_RANK[task["status"]] >= TASK_RANK[was["status"]],
            f"{where}: task {task['name']} went back from {was['status']} to {task['status']}",
        )
        require(task["progress"] >= was["progress"], f"{where}: task {task['name']} progress fell")


class LifecycleMachine(RuleBasedStateMachine):
    """Bind `transport` (and optionally `session`) on a subclass before running."""

    transport: Transport
    session: str = "lifecycle"

    jobs = Bundle("jobs")

    def __init__(self) -> None:
        super().__init__()
        self.session_name = f"{self.session}-{uuid.uuid4().hex[:8]}"
        self.headers = {"Authorization": OWNER_KEY, "X-Mock-Session": self.session_name}
        self.tracked: list[TrackedJob] = []
        self.call("PUT", "/__mock/clock", {"mode": "manual"}, control=True)
        listed = self.call("GET", "/v0/workflows")
        require(listed.status == 200, f"list workflows: {listed.status} {listed.body[:300]!r}")
        self.workflows = [(w["id"], w["project_id"]) for w in listed.json()["workflows"]]
        require(bool(self.workflows), "the owner key sees no workflow")

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        control: bool = False,
        key: str | None = None,
    ) -> Reply:
        """One request; a simulated fault (faults on) is retried, as a client would."""
        headers = dict(self.headers)
        if key is not None:
            headers["Authorization"] = key
        if control:
            headers.pop("Authorization")
        for _ in range(FAULT_RETRIES):
            reply = self.transport.request(method, path, headers=headers, body=body)
            if FAULT_HEADER not in reply.headers:
                return reply
        raise LifecycleViolation(
            f"{method} {path}: a simulated fault {FAULT_RETRIES} times in a row"
        )

    def teardown(self) -> None:
        self.call("POST", "/__mock/reset", control=True)

    @rule(target=jobs, choice=st.integers(0, 100))
    def create_job(self, choice: int) -> TrackedJob:
        workflow_id, project_id = self.workflows[choice % len(self.workflows)]
        reply = self.call("POST", f"/v0/workflows/{workflow_id}/jobs?project_id={project_id}")
        require(reply.status == 200, f"create job: {reply.status} {reply.body[:200]!r}")
        job = reply.json()
        check_job(None, job)
        tracked = TrackedJob(workflow_id, project_id, job["id"], last=job)
        self.tracked.append(tracked)
        return tracked

    @rule(seconds=st.sampled_from([1, 5, 30, 60, 120, 300, 900]))
    def advance(self, seconds: int) -> None:
        reply = self.call("POST", "/__mock/clock/advance", {"seconds": seconds}, control=True)
        require(reply.status == 200, f"advance: {reply.status}")

    @rule(job=jobs)
    def poll(self, job: TrackedJob) -> None:
        reply = self.call("GET", f"/v0/workflows/{job.workflow_id}/jobs/{job.id}")
        require(reply.status == 200, f"poll {job.id}: {reply.status}")
        current = reply.json()
        check_job(job.last, current)
        job.last = current
        job.history.append(current["status"])

    @rule(job=jobs)
    def start_download(self, job: TrackedJob) -> None:
        reply = self.call("PUT", f"/v0/workflows/{job.workflow_id}/jobs/{job.id}/download")
        finished = job.last is not None and job.last["status"] in TERMINAL
        if reply.status == 400:
            require(reply.json()["error"]["code"] == "not_finished", "download refused oddly")
            require(not finished, f"download of finished job {job.id} refused")
            return
        require(reply.status == 200, f"download {job.id}: {reply.status}")
        download = reply.json()
        require(
            (download["signed_url"] != "") == (download["status"] == "ready"),
            f"download {download['id']}: signed_url {download['signed_url']!r} with {download['status']}",
        )
        if job.download is not None:
            require(download["id"] == job.download["id"], "a repeated PUT made a new download")
            require(
                not (job.download["status"] == "ready" and download["status"] == "pending"),
                f"download {download['id']} went from ready back to pending",
            )
        job.download = download

    @precondition(
        lambda self: any(j.download and j.download["status"] == "ready" for j in self.tracked)
    )
    @rule(data=st.data())
    def fetch_package(self, data: st.DataObject) -> None:
        ready = [j for j in self.tracked if j.download and j.download["status"] == "ready"]
        job = data.draw(st.sampled_from(ready))
        assert job.download is not None
        reply = self.transport.request("GET", job.download["signed_url"])
        if reply.status == 403:  # the URL may have expired on the mock's clock
            return
        require(reply.status == 200, f"package of {job.id}: {reply.status}")
        archive = zipfile.ZipFile(io.BytesIO(reply.body))
        manifest = json.loads(archive.read("manifest.json"))
        final = self.call("GET", f"/v0/workflows/{job.workflow_id}/jobs/{job.id}").json()
        require(manifest["job_id"] == job.id, "manifest names another job")
        require(
            [(t["id"], t["status"]) for t in manifest["tasks"]]
            == [(t["id"], t["status"]) for t in final["tasks"]],
            f"manifest tasks differ from job {job.id}",
        )
        for entry in manifest["files"]:
            content = archive.read(entry["path"])
            require(
                entry["sha256"] == hashlib.sha256(content).hexdigest(), f"{entry['path']} sha256"
            )

    @rule(job=jobs)
    def other_tenant_is_refused(self, job: TrackedJob) -> None:
        base = f"/v0/workflows/{job.workflow_id}/jobs"
        attempts = [
            ("GET", f"{base}/{job.id}"),
            ("PUT", f"{base}/{job.id}/download"),
            ("GET", base),
        ]
        if job.last and job.last["tasks"]:
            attempts.append(("PUT", f"{base}/{job.id}/tasks/{job.last['tasks'][0]['id']}/download"))
        for method, path in attempts:
            reply = self.call(method, path, key=OTHER_TENANT_KEY)
            require(reply.status == 403, f"another tenant got {reply.status} on {method} {path}")

    @invariant()
    def journal_holds_no_response_violation(self) -> None:
        reply = self.call("GET", "/__mock/requests?limit=20", control=True)
        require(reply.status == 200, f"journal: {reply.status} {reply.body[:200]!r}")
        broken = [
            v for e in reply.json()["requests"] for v in e["violations"] if v.startswith("response")
        ]
        require(not broken, f"responses broke the spec: {broken}")
