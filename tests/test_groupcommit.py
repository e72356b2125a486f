"""createJob's group commit: the inserts of one loop turn in one transaction."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from pixxel_mock.server import create_app
from pixxel_mock.server.app.factory import instance_of
from pixxel_mock.server.model.lifecycle import JobRecord
from pixxel_mock.server.serving.bridge import InlineBridge, never_waits
from pixxel_mock.server.serving.groupcommit import GroupCommit
from pixxel_mock.server.state.records import JobTable

from .helpers import AGRI, WF_LINEAR


async def _post_job(bridge: InlineBridge, session: str) -> tuple[int, dict[str, Any]]:
    """One createJob through the bridge, as gunicorn's worker calls it."""
    scope = {
        "type": "http",
        "method": "POST",
        "path": f"/v0/workflows/{WF_LINEAR}/jobs",
        "raw_path": f"/v0/workflows/{WF_LINEAR}/jobs".encode(),
        "query_string": f"project_id={AGRI}".encode(),
        "headers": [(b"authorization", b"pxm_demo_alpha"), (b"x-mock-session", session.encode())],
        "scheme": "http",
        "http_version": "1.1",
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await bridge(scope, receive, send)
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return sent[0]["status"], json.loads(body)


def test_requests_of_one_loop_turn_share_one_transaction(tmp_path: Path) -> None:
    app = create_app({"clock_mode": "manual", "state_file": str(tmp_path / "state.sqlite")})
    jobs = instance_of(app).jobs.records
    batches: list[int] = []
    insert_many = jobs.insert_many

    def observed(requests: list[Any]) -> list[JobRecord | Exception]:
        batches.append(len(requests))
        return insert_many(requests)

    jobs.insert_many = observed  # type: ignore[method-assign]
    jobs.route_inserts(GroupCommit(jobs).insert)
    bridge = InlineBridge(app, never_waits, 1, 1 << 20)

    async def turn() -> list[tuple[int, dict[str, Any]]]:
        sessions = ["a", "b", "a", "a", "b"]
        return await asyncio.gather(*(_post_job(bridge, name) for name in sessions))

    answers = asyncio.run(turn())
    assert [status for status, _ in answers] == [200] * 5
    assert batches == [5]  # five requests, one transaction
    for session, count in (("a", 3), ("b", 2)):
        listed = jobs.listing(session)
        assert [job.seq for job in listed] == list(range(count, 0, -1))  # numbered in turn
    by_id = {job.id: job for session in "ab" for job in jobs.listing(session)}
    assert {body["id"] for _, body in answers} == set(by_id)  # each answer names its own job
    assert all(body["status"] == "queued" for _, body in answers)

    assert asyncio.run(_post_job(bridge, "a"))[0] == 200
    assert batches == [5, 1]  # a request alone commits alone, in the next turn


def test_a_build_that_fails_fails_its_own_job_only(tmp_path: Path) -> None:
    app = create_app({"clock_mode": "manual", "state_file": str(tmp_path / "state.sqlite")})
    jobs: JobTable[JobRecord] = instance_of(app).jobs.records
    template = JobRecord(
        namespace="",
        id="",
        seq=0,
        workflow_id=WF_LINEAR,
        project_id=AGRI,
        created_by="someone",
        created_at=0.0,
    )

    def build(namespace: str) -> Any:
        return lambda seq: replace(template, namespace=namespace, id=f"{namespace}-{seq}", seq=seq)

    def broken(seq: int) -> JobRecord:
        raise ValueError(f"no job {seq}")

    outcomes = jobs.insert_many(
        [("x", build("x")), ("y", build("y")), ("x", broken), ("x", build("x"))]
    )
    assert [getattr(o, "id", None) for o in outcomes] == ["x-1", "y-1", None, "x-2"]
    assert isinstance(outcomes[2], ValueError)
    assert [job.id for job in jobs.listing("x")] == ["x-2", "x-1"]  # no number skipped
    with pytest.raises(ValueError, match="no job 3"):
        jobs.insert("x", broken)
    assert [job.id for job in jobs.listing("x")] == ["x-2", "x-1"]
