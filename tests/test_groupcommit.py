"""createJob's group commit: the inserts of one loop turn in one transaction."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Coroutine
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import pytest

from pixxel_mock.server import create_app
from pixxel_mock.server.app.factory import instance_of
from pixxel_mock.server.model.lifecycle import JobRecord
from pixxel_mock.server.serving.bridge import InlineBridge, never_waits
from pixxel_mock.server.serving.groupcommit import GroupCommit
from pixxel_mock.server.serving.gunicorn import group_committed
from pixxel_mock.server.state.records import JobTable

from .asgi import asgi_request
from .helpers import AGRI, WF_LINEAR

Answers = TypeVar("Answers")


async def _post_job(bridge: InlineBridge, session: str) -> tuple[int, dict[str, Any]]:
    """One createJob through the bridge, as gunicorn's worker calls it."""
    status, body = await asgi_request(
        bridge,
        "POST",
        f"/v0/workflows/{WF_LINEAR}/jobs",
        f"project_id={AGRI}",
        ((b"authorization", b"pxm_demo_alpha"), (b"x-mock-session", session.encode())),
    )
    return status, json.loads(body)


async def _post_jobs(bridge: InlineBridge, sessions: str) -> list[tuple[int, dict[str, Any]]]:
    """One createJob per letter of `sessions` (its X-Mock-Session), in one loop turn."""
    return await asyncio.gather(*(_post_job(bridge, name) for name in sessions))


def _group_committed(tmp_path: Path) -> tuple[JobTable, InlineBridge]:
    """The app behind the bridge, its inserts gathered by group commits, as served."""
    app = create_app({"clock_mode": "manual", "state_file": str(tmp_path / "state.sqlite")})
    for table in group_committed(instance_of(app)):
        table.route_inserts(GroupCommit(table).insert)
    return instance_of(app).jobs.records, InlineBridge(app, never_waits, 1, 1 << 20)


def _within_a_minute(work: Coroutine[Any, Any, Answers]) -> Answers:
    """A request that is never answered fails the test instead of hanging it."""
    return asyncio.run(asyncio.wait_for(work, 60))


def test_requests_of_one_loop_turn_share_one_transaction(tmp_path: Path) -> None:
    table, bridge = _group_committed(tmp_path)
    batches: list[int] = []
    insert_many = table.insert_many

    def observed(requests: list[Any]) -> list[JobRecord | Exception]:
        batches.append(len(requests))
        return insert_many(requests)

    table.insert_many = observed  # type: ignore[method-assign]

    answers = _within_a_minute(_post_jobs(bridge, "abaab"))
    assert [status for status, _ in answers] == [200] * 5
    assert batches == [5]  # five requests, one transaction
    for session, count in (("a", 3), ("b", 2)):
        jobs = table.listing(session)
        assert [job.seq for job in jobs] == list(range(count, 0, -1))  # numbered in turn
    by_id = {job.id: job for session in "ab" for job in table.listing(session)}
    assert {body["id"] for _, body in answers} == set(by_id)  # each answer names its own job
    assert all(body["status"] == "queued" for _, body in answers)

    assert _within_a_minute(_post_job(bridge, "a"))[0] == 200
    assert batches == [5, 1]  # a request alone commits alone, in the next turn


def test_a_failed_transaction_fails_every_request_of_its_batch(tmp_path: Path) -> None:
    table, bridge = _group_committed(tmp_path)
    insert_many = table.insert_many

    def failing(requests: list[Any]) -> list[JobRecord | Exception]:
        raise sqlite3.OperationalError("disk I/O error")

    table.insert_many = failing  # type: ignore[method-assign]
    answers = _within_a_minute(_post_jobs(bridge, "aab"))
    assert [status for status, _ in answers] == [500] * 3  # each raised where it waited
    assert {body["error"]["code"] for _, body in answers} == {"internal_error"}
    assert table.listing("a") == [] and table.listing("b") == []

    table.insert_many = insert_many  # type: ignore[method-assign]
    status, body = _within_a_minute(_post_job(bridge, "a"))
    assert status == 200 and [job.id for job in table.listing("a")] == [body["id"]]


def test_a_request_cancelled_at_its_insert_leaves_its_batch_answered(tmp_path: Path) -> None:
    table, bridge = _group_committed(tmp_path)

    async def turn() -> list[Any]:
        requests = [asyncio.create_task(_post_job(bridge, name)) for name in "abc"]
        await asyncio.sleep(0)  # each runs to its insert; the commit is queued after this
        requests[0].cancel()  # as gunicorn cancels the request of a client gone
        return await asyncio.gather(*requests, return_exceptions=True)

    cancelled, *answered = _within_a_minute(turn())
    assert isinstance(cancelled, asyncio.CancelledError)
    assert [status for status, _ in answered] == [200, 200]
    assert [body["id"] for _, body in answered] == [table.listing(name)[0].id for name in "bc"]


def test_a_build_that_fails_fails_its_own_job_only(tmp_path: Path) -> None:
    app = create_app({"clock_mode": "manual", "state_file": str(tmp_path / "state.sqlite")})
    table = instance_of(app).jobs.records
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

    outcomes = table.insert_many(
        [("x", build("x")), ("y", build("y")), ("x", broken), ("x", build("x"))]
    )
    assert [getattr(o, "id", None) for o in outcomes] == ["x-1", "y-1", None, "x-2"]
    assert isinstance(outcomes[2], ValueError)
    assert [job.id for job in table.listing("x")] == ["x-2", "x-1"]  # no number skipped
    with pytest.raises(ValueError, match="no job 3"):
        table.insert("x", broken)
    assert [job.id for job in table.listing("x")] == ["x-2", "x-1"]


def _batch_sizes(table: JobTable) -> list[int]:
    """The number of inserts of each transaction of the table, from now on."""
    batches: list[int] = []
    insert_many = table.insert_many

    def observed(requests: list[Any]) -> list[Any]:
        batches.append(len(requests))
        return insert_many(requests)

    table.insert_many = observed  # type: ignore[method-assign]
    return batches


async def _post(bridge: InlineBridge, path: str, body: Any) -> tuple[int, dict[str, Any]]:
    headers = ((b"authorization", b"pxm_demo_alpha"), (b"content-type", b"application/json"))
    status, answer = await asgi_request(
        bridge, "POST", path, "", headers, json.dumps(body).encode()
    )
    return status, json.loads(answer)


def test_the_orders_of_one_loop_turn_are_stored_in_one_transaction(tmp_path: Path) -> None:
    from .test_orders import _tasking

    _, bridge = _group_committed(tmp_path)
    table = instance_of(bridge.app).orders.records
    batches = _batch_sizes(table)

    async def turn() -> list[tuple[int, dict[str, Any]]]:
        names = ("wheat", "rice", "maize")
        window = {"start_date": "2031-01-10T00:00:00Z", "end_date": "2031-01-18T00:00:00Z"}
        bodies = [{"order_items": [_tasking(name=name, **window)]} for name in names]
        return await asyncio.gather(*(_post(bridge, "/v0/orders", body) for body in bodies))

    answers = _within_a_minute(turn())
    assert {status for status, _ in answers} == {201}, answers
    assert batches == [3]
    ids = {answer["id"] for _, answer in answers}
    assert len(ids) == 3 and {r.id for r in table.listing("default")} == ids
    assert sorted(r.seq for r in table.listing("default")) == [1, 2, 3]


def test_an_aoi_named_twice_in_one_batch_is_created_once(tmp_path: Path) -> None:
    """Its name check reads by key on the batch's own connection: the first row of the
    batch is seen by the second build, which answers 409, and the rest are stored."""
    from .test_aois import _body

    _, bridge = _group_committed(tmp_path)
    app = bridge.app
    table = instance_of(app).aois.records
    batches = _batch_sizes(table)

    async def turn() -> list[tuple[int, dict[str, Any]]]:
        names = ("wheat", "rice", "wheat")
        return await asyncio.gather(*(_post(bridge, "/v0/aois", _body(app, name=n)) for n in names))

    answers = _within_a_minute(turn())
    assert batches == [3]  # one transaction
    assert [status for status, _ in answers] == [201, 201, 409]
    assert answers[2][1]["error"]["code"] == "duplicate_name"
    listed = table.listing("default")
    assert sorted(record.name for record in listed) == ["rice", "wheat"]
