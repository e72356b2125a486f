"""The journal is read-your-writes: once a response has arrived, every later read of
the journal includes that exchange, whichever worker process answered it."""

from __future__ import annotations

import os
import threading
import uuid
from pathlib import Path

import requests

from pixxel_mock.contract.live import LiveMock
from pixxel_mock.server.state.barrier import FlushBarrier
from pixxel_mock.server.state.clock import Clock
from pixxel_mock.server.state.journal import JournalEntry
from pixxel_mock.server.state.store import Store

from .helpers import ALPHA, WF_LINEAR, sized

CLIENTS = 8
EXCHANGES = sized(2_000, 10_000)  # in all, each followed by a read of the journal


def test_every_answered_exchange_is_in_the_next_read_under_load() -> None:
    """8 clients over 3 workers: each sends a request, then reads its namespace's journal
    at once on a new connection (so, mostly, on another worker than the one that answered)
    and looks for that very request."""
    misses: list[str] = []
    errors: list[str] = []
    done = [0]
    lock = threading.Lock()
    with LiveMock(["--workers", "3", "--threads", "2", "--journal-size", "100000"]) as server:

        def client(index: int) -> None:
            session = requests.Session()
            headers = {**ALPHA, "X-Mock-Session": f"ryw-{index}"}
            try:
                for _ in range(EXCHANGES // CLIENTS):
                    marker = str(uuid.uuid4())
                    answer = session.get(
                        f"{server.url}/v0/workflows/{WF_LINEAR}/jobs/{marker}", headers=headers
                    )
                    assert answer.status_code == 403, answer.text  # an unknown job id
                    newest = requests.get(
                        f"{server.url}/__mock/requests",
                        params={"limit": 1},
                        headers=headers,
                    ).json()["requests"]
                    if not newest or marker not in newest[-1]["path"]:
                        misses.append(f"client {index}: {marker} not in {newest}")
                    with lock:
                        done[0] += 1
            except Exception as exc:
                errors.append(f"client {index}: {exc!r}")

        threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert not errors, errors[:3]
    assert done[0] == EXCHANGES
    assert not misses, f"{len(misses)} of {EXCHANGES} reads missed their exchange: {misses[:3]}"


def test_a_read_waits_for_another_process_buffer(tmp_path: Path) -> None:
    """A forked writer buffers an entry and acknowledges only when its flusher runs; the
    reader in this process must not return before that entry is in the file."""
    path = tmp_path / "state.sqlite"
    clock = Clock("manual", 1.0, 0.0, 0.0)
    Store(path, clock).close()
    ready_read, ready_write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the writer: one entry, then its flusher does the rest
        try:
            writer = Store(path, clock)
            writer.journal.append(_entry("/written-by-the-child"))
            os.write(ready_write, b"x")
            threading.Event().wait(5)  # stays alive; its flusher thread answers the barrier
        finally:
            os._exit(0)
    try:
        os.read(ready_read, 1)
        reader = Store(path, clock)
        assert [e["path"] for e in reader.journal.entries(None, 10)] == ["/written-by-the-child"]
        reader.close()
    finally:
        os.kill(pid, 9)
        os.waitpid(pid, 0)


def test_dead_and_silent_slots_are_not_waited_for(tmp_path: Path) -> None:
    barrier = FlushBarrier(tmp_path / "b", timeout=0.2)
    assert barrier.register()
    number = barrier.request()
    assert barrier.wait(number)  # only this process holds a slot: nothing to wait for
    barrier._set(barrier._pid_index(5), 2**22 + 12345)  # a pid that no process has
    assert barrier.wait(barrier.request())
    barrier._set(barrier._pid_index(6), os.getppid())  # alive, but never acknowledges
    assert not barrier.wait(barrier.request())
    barrier.clear()
    assert barrier.wait(barrier.request())


def _entry(path: str) -> JournalEntry:
    return JournalEntry(
        namespace="default",
        at=0.0,
        method="GET",
        path=path,
        query="",
        operation_id=None,
        status=200,
        duration_ms=1.0,
        violations=[],
    )


def test_the_request_number_never_falls_back(tmp_path: Path) -> None:
    """Readers raising the number at once, in threads and in processes: each raise counts
    and none stores a smaller number than one already stored (a fallen number makes the
    readers waiting for the larger one time out and miss their exchange)."""
    path = tmp_path / "state.flush"
    FlushBarrier(path).request()  # the file exists before the fork
    per_reader, threads_per_process, processes = 2_000, 4, 2

    def raise_number(barrier: FlushBarrier, fallen: list[int]) -> None:
        last = 0
        for _ in range(per_reader):
            number = barrier.request()
            if number <= last:
                fallen.append(number)
            last = number

    def readers() -> list[int]:
        barrier, fallen = FlushBarrier(path), []
        threads = [
            threading.Thread(target=raise_number, args=(barrier, fallen))
            for _ in range(threads_per_process)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return fallen

    children = []
    for _ in range(processes - 1):
        pid = os.fork()
        if pid == 0:
            os._exit(1 if readers() else 0)
        children.append(pid)
    fallen = readers()
    statuses = [os.waitpid(pid, 0)[1] for pid in children]
    assert not fallen and statuses == [0] * len(children)
    assert FlushBarrier(path).requested() == 1 + per_reader * threads_per_process * processes


def test_closing_a_store_waits_for_a_checkpoint_in_progress(tmp_path: Path) -> None:
    # A flusher still checkpointing while its caller removed the state file crashed a test
    # worker with SIGSEGV; close() must not return before the flusher has stopped.
    others = set(threading.enumerate())
    store = Store(tmp_path / "state.sqlite", Clock("manual", 1.0, 0.0, 0.0))
    entered, release = threading.Event(), threading.Event()
    checkpoint = store.database.checkpoint

    def held_checkpoint() -> None:
        entered.set()
        release.wait(30)
        checkpoint()

    store.database.checkpoint = held_checkpoint  # type: ignore[method-assign]
    store.journal.append(_entry("/starts-the-flusher"))
    assert entered.wait(10), "the flusher never checkpointed"
    closing = threading.Thread(target=store.close)
    closing.start()
    closing.join(0.3)
    still_closing = closing.is_alive()
    release.set()
    closing.join(10)
    assert still_closing, "close() returned while the flusher was inside a checkpoint"
    assert not closing.is_alive()
    assert not set(threading.enumerate()) - others, "the flusher outlived its store"
