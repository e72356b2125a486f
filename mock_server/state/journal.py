"""The request journal (the control API's `/__mock/requests`): buffered per process,
written by a flusher thread, read by any process as soon as an answer has left."""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from pixxel_mock.server.state.barrier import FlushBarrier
from pixxel_mock.server.state.database import Database

log = logging.getLogger("pixxel_mock")
JOURNAL_BATCH = 500  # entries buffered at most before an inline write
JOURNAL_FLUSH_SECONDS = 0.005  # how often the flusher looks for a reader waiting
JOURNAL_WRITE_SECONDS = 0.1  # how often it writes when no reader waits (one write transaction
# per 5 ms per process took the write lock 200 times a second from createJob's inserts)
CHECKPOINT_SECONDS = 0.1  # how often the flusher copies the WAL into the database file
FLUSHER_STOP_SECONDS = 35.0  # a checkpoint or write may wait out busy_timeout (30 s)


@dataclass(slots=True)
class JournalEntry:
    """One request as the journal keeps it (the control API's `/__mock/requests`)."""

    namespace: str
    method: str
    path: str
    query: str
    operation_id: str | None
    status: int
    duration_ms: float
    violations: list[str]
    fault: str | None = None
    states: str | None = None  # JSON already (model.coverage.encoded_states)
    at: float = field(default_factory=time.time)


class Journal:
    """The journal of one state file; at most `size` entries are kept."""

    def __init__(self, database: Database, size: int) -> None:
        self._database = database
        self.size = size
        self._buffer: list[tuple[Any, ...]] = []
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()  # held from taking the buffer until it is written
        self._flusher_pid = 0
        self._write_through = False  # no barrier slot was free: write each entry at once
        path = database.path
        self._barrier = FlushBarrier(path.with_name(path.name + ".flush"))
        self._closed = threading.Event()
        self._flusher: threading.Thread | None = None

    def append(self, entry: JournalEntry) -> None:
        """Buffer an entry; a thread of this process writes the buffer every few ms.

        The caller appends before its response leaves, so a later `entries()` sees it."""
        row = (
            entry.namespace,
            entry.at,
            entry.method,
            entry.path,
            entry.query,
            entry.operation_id,
            entry.status,
            entry.duration_ms,
            json.dumps(entry.violations) if entry.violations else "[]",
            entry.fault,
            entry.states,  # JSON already (model.coverage.encoded_states)
        )
        if self._flusher_pid != os.getpid():
            self._start_flusher()  # before the first entry: readers must wait for this process
        with self._lock:
            self._buffer.append(row)
            full = self._write_through or len(self._buffer) >= JOURNAL_BATCH
        if full:
            self._flush_quietly()

    def _start_flusher(self) -> None:
        with self._lock:
            if self._flusher_pid == os.getpid():
                return
            self._flusher_pid = os.getpid()
            self._buffer = []  # a forked copy of the parent's is not ours to write
            self._write_through = not self._barrier.register()
        self._flusher = threading.Thread(
            target=self._flush_forever, name="journal-flusher", daemon=True
        )
        self._flusher.start()

    def _flush_forever(self) -> None:
        """The flusher: writes the buffer when a reader waits or every so often, and
        checkpoints the WAL outside any request (Database.checkpoint)."""
        acknowledged, written = self._barrier.requested(), time.monotonic()
        checkpointed = written
        try:
            while not self._closed.wait(JOURNAL_FLUSH_SECONDS):
                if time.monotonic() - checkpointed >= CHECKPOINT_SECONDS:
                    self._database.checkpoint()
                    checkpointed = time.monotonic()
                requested = self._barrier.requested()
                if requested == acknowledged and time.monotonic() - written < JOURNAL_WRITE_SECONDS:
                    continue
                self._flush_quietly()
                self._barrier.acknowledge(requested)
                acknowledged, written = requested, time.monotonic()
        finally:
            self._database.release_connection()  # this thread's own

    def _flush_quietly(self) -> None:
        """The journal is diagnostic: a failed write is logged, never raised into a request."""
        try:
            self.flush()
        except sqlite3.Error as exc:
            log.warning("journal entries not written: %s", exc)

    def flush(self) -> None:
        """Write this process's buffered entries; keep at most `size` in the file.

        Returns once entries taken by a concurrent flush of this process are written too."""
        with self._flush_lock:
            with self._lock:
                rows, self._buffer = self._buffer, []
            if not rows:
                return
            with self._database.transaction() as conn:
                conn.executemany(
                    "INSERT INTO journal (namespace, at, method, path, query, operation_id,"
                    " status, duration_ms, violations, fault, states)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    rows,
                )
                conn.execute(
                    "DELETE FROM journal WHERE id <= (SELECT MAX(id) FROM journal) - ?",
                    (self.size,),
                )

    def sync(self) -> None:
        """Make every entry buffered by any process before this call visible in the file."""
        number = self._barrier.request()
        self.flush()
        self._barrier.wait(number)

    def forget_writers(self) -> None:
        """At server start, before the workers fork (see FlushBarrier.clear)."""
        self._barrier.clear()

    def entries(self, namespace: str | None, limit: int) -> list[dict[str, Any]]:
        """The newest entries, oldest first, including every exchange answered before."""
        self.sync()
        query = "SELECT * FROM journal"
        args: tuple[Any, ...] = ()
        if namespace is not None:
            query, args = query + " WHERE namespace=?", (namespace,)
        rows = (
            self._database.connection()
            .execute(query + " ORDER BY id DESC LIMIT ?", (*args, min(limit, self.size)))
            .fetchall()
        )
        keys = ("id", "namespace", "at", "method", "path", "query", "operation_id")
        entries = []
        for row in reversed(rows):
            entry = dict(zip(keys, row[:7], strict=True))
            entry.update(status=row[7], duration_ms=row[8], violations=json.loads(row[9]))
            entry.update(fault=row[10], states=json.loads(row[11]) if row[11] else None)
            entries.append(entry)
        return entries

    def clear(self, namespace: str | None) -> None:
        self.sync()
        with self._database.transaction() as conn:
            if namespace is None:
                conn.execute("DELETE FROM journal")
            else:
                conn.execute("DELETE FROM journal WHERE namespace=?", (namespace,))

    def close(self) -> None:
        """Stop the flusher and wait for it, then write the buffer: a checkpoint still running
        while the caller removes the state file crashed the process (SIGSEGV in SQLite)."""
        self._closed.set()
        flusher = self._flusher
        if (
            flusher is not None
            and self._flusher_pid == os.getpid()  # a forked child has the object, not the thread
            and flusher is not threading.current_thread()  # closed by a finalizer it ran
        ):
            flusher.join(FLUSHER_STOP_SECONDS)
        self._flush_quietly()
        self._barrier.release()
