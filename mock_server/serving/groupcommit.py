"""The job (and insight) inserts of one event-loop turn, committed in one SQLite transaction.

A createJob served alone takes the cross-process write lock, begins, inserts, commits
and bumps the insert marker, and its transaction reloads the pages the other worker
changed since its last one: most of that is paid per transaction, not per row.
Requests that reach a worker's loop together each run in a greenlet of their own
(`LoopRequests`) up to their insert, and wait there; one callback after them inserts
all their jobs in one transaction, then each request goes on from where it waited.
No answer leaves before its job is committed: a job acknowledged is a job stored.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from greenlet import getcurrent, greenlet

from pixxel_mock.server.state.records import Build, JobTable

Answer = TypeVar("Answer")
R = TypeVar("R")


class _LoopRequest(greenlet):  # type: ignore[misc]
    """Serves requests on the loop's thread, one at a time; it may wait at an insert."""

    def __init__(self) -> None:
        super().__init__(self._serve)

    def _serve(self, work: tuple[Callable[[Any], Any], Any]) -> None:
        while True:  # kept for the next request: a new greenlet costs ~13 µs, a switch ~1
            call, argument = work
            work = self.parent.switch(call(argument))


class LoopRequests:
    """Per worker: runs each request of the loop in a greenlet, kept idle between them."""

    def __init__(self) -> None:
        self._idle: list[_LoopRequest] = []

    async def run(self, call: Callable[[Any], Answer], argument: Any) -> Answer:
        """`call(argument)` on the loop's thread; while it waits for a group commit (it
        hands back the commit's future), the loop serves other requests."""
        request = self._idle.pop() if self._idle else _LoopRequest()
        outcome = request.switch((call, argument))
        while isinstance(outcome, asyncio.Future):
            try:
                record = await outcome
            except BaseException as exc:  # raised where the request waits
                outcome = request.throw(exc)
            else:
                outcome = request.switch(record)
        self._idle.append(request)  # not reached if the call raised: that greenlet is over
        return outcome  # type: ignore[no-any-return]


class GroupCommit(Generic[R]):
    """Per worker and table: `insert` is the table's inserter (JobTable.route_inserts).
    Only for records whose build checks nothing against rows of the same batch (jobs,
    insights): a batch's rows are not visible to its other builds."""

    def __init__(self, jobs: JobTable[R]) -> None:
        self._jobs = jobs
        self._waiting: list[tuple[str, Build[R], asyncio.Future[R]]] = []

    def insert(self, namespace: str, build: Build[R]) -> R:
        request = getcurrent()
        if not isinstance(request, _LoopRequest):  # a pool thread's request, a script
            return self._jobs.insert_one(namespace, build)
        loop = asyncio.get_running_loop()
        if not self._waiting:
            loop.call_soon(self._commit)  # after the requests the loop already has ready
        committed: asyncio.Future[R] = loop.create_future()
        self._waiting.append((namespace, build, committed))
        record: R = request.parent.switch(committed)  # LoopRequests.run resumes it
        return record

    def _commit(self) -> None:
        waiting, self._waiting = self._waiting, []
        try:
            outcomes: list[Any] = self._jobs.insert_many([(ns, build) for ns, build, _ in waiting])
        except Exception as exc:  # every request of the batch answers it
            outcomes = [exc] * len(waiting)
        for (_, _, committed), outcome in zip(waiting, outcomes, strict=True):
            if committed.done():  # cancelled: its client left (gunicorn cancels the request)
                continue
            if isinstance(outcome, Exception):
                committed.set_exception(outcome)
            else:
                committed.set_result(outcome)
