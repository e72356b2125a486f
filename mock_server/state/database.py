"""The SQLite file every worker process and thread shares: its connections, its write
transactions, its schema, and the cached reads that another process's change makes stale.

Each thread of each process opens its own connection (SQLite connections must not
cross a fork). WAL mode survives a killed process without losing a committed
transaction. A kept file (`--state-file`) is also synced to disk at each checkpoint
(synchronous=NORMAL), so that a power cut can lose its last transactions but not corrupt
it. A temporary one is never synced (synchronous=OFF): it goes with the server anyway,
and on ext4 a checkpoint's fsync stalled the other worker's commits, writing to the
same file system, by up to ~20 ms (createJob's p99).
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol, TypeVar

from pixxel_mock.server.state.epoch import Epoch
from pixxel_mock.server.state.schema import SCHEMA_VERSION, STATE_FORMAT, STEPS
from pixxel_mock.server.state.writegate import WriteGate

log = logging.getLogger("pixxel_mock")
# Checkpoints SQLite would run itself, inside the COMMIT of the request whose write crosses
# this many WAL pages (40 MB, under the write lock): only if no flusher runs.
INLINE_CHECKPOINT_PAGES = 10_000


class StateFileError(RuntimeError):
    """The state file exists but is not one of ours, or is damaged: never reset it silently."""


class Clearable(Protocol):
    def clear(self) -> None: ...


CachedReads = TypeVar("CachedReads", bound=Clearable)


class Database:
    """One state file. Opening it creates, checks or migrates it (see schema.py);
    `initial_meta` is written into a file this call creates."""

    def __init__(self, path: Path, synced: bool, initial_meta: dict[str, str]) -> None:
        self.path = path
        self._synchronous = "NORMAL" if synced else "OFF"
        self._local = threading.local()
        self._write_lock = threading.Lock()  # threads of a process queue here, not in SQLite's
        # busy handler, whose sleeps would add milliseconds to every contended write
        self._write_gate = WriteGate(path.with_name(path.name + ".lock"))  # processes
        self._epoch = Epoch(path.with_name(path.name + ".epoch"))
        self._seen_epoch = -1
        self._cached_reads: list[Clearable] = []
        self._open(initial_meta)

    # -- connections and transactions ----------------------------------------
    def connection(self) -> sqlite3.Connection:
        """This thread's connection (opened on first use, and again after a fork)."""
        conn = getattr(self._local, "conn", None)
        if conn is None or self._local.pid != os.getpid():
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA synchronous={self._synchronous}")
            conn.execute("PRAGMA busy_timeout=30000")
            conn.execute(f"PRAGMA wal_autocheckpoint={INLINE_CHECKPOINT_PAGES}")
            self._local.conn, self._local.pid = conn, os.getpid()
        return conn

    @contextmanager
    def transaction(self, invalidates: bool = False) -> Iterator[sqlite3.Connection]:
        """A write transaction; BEGIN IMMEDIATE serialises writers across processes.

        `invalidates`: the change can make cached reads stale in every process (so can a
        statement inside that calls `invalidate_cached_reads`)."""
        conn = self.connection()
        with self._write_lock, self._write_gate.held():
            self._local.invalidating = invalidates
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            if self._local.invalidating:  # under the lock: the next writer sees it
                self._epoch.bump()

    def invalidate_cached_reads(self) -> None:
        """Inside a transaction: its commit makes every process drop its cached reads."""
        self._local.invalidating = True

    # -- cached reads ----------------------------------------------------------
    def register_cache(self, cache: CachedReads) -> CachedReads:
        """Have `cache` cleared whenever any process may have changed what it holds."""
        self._cached_reads.append(cache)
        return cache

    def drop_stale_reads(self) -> None:
        """Clear this process's cached reads if any process changed something since."""
        epoch = self._epoch.read()
        if epoch != self._seen_epoch:
            for cache in self._cached_reads:
                cache.clear()
            self._seen_epoch = epoch

    # -- the file ----------------------------------------------------------------
    def meta(self, key: str) -> str:
        row = self.connection().execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        if row is None:
            raise StateFileError(f"state file {self.path} lacks meta key {key!r}")
        return row[0]

    def _open(self, initial_meta: dict[str, str]) -> None:
        try:
            conn = self.connection()
            tables = {
                r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
            }
        except sqlite3.DatabaseError as exc:
            raise StateFileError(
                f"state file {self.path} is not a pixxel-mock state file: {exc}"
            ) from exc
        if not tables:
            self._build(initial_meta)
            return
        if "meta" not in tables:
            raise StateFileError(
                f"state file {self.path} belongs to another program (tables: {sorted(tables)})"
            )
        meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        if meta.get("format") != STATE_FORMAT:
            raise StateFileError(f"state file {self.path} is not a pixxel-mock state file")
        if meta.get("schema_version") != str(SCHEMA_VERSION):
            self._build(initial_meta)
            meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        if meta.get("schema_version") != str(SCHEMA_VERSION):
            raise StateFileError(
                f"state file {self.path} has schema {meta.get('schema_version')},"
                f" this pixxel-mock reads {SCHEMA_VERSION}"
            )
        try:
            (check,) = conn.execute("PRAGMA quick_check").fetchone()
        except sqlite3.DatabaseError as exc:
            raise StateFileError(f"state file {self.path} is damaged: {exc}") from exc
        if check != "ok":
            raise StateFileError(f"state file {self.path} is damaged: {check}")

    def _build(self, initial_meta: dict[str, str]) -> None:
        """Run the schema steps the file lacks, one version at a time (all of them for a
        new file); a version it does not know is left for the caller to refuse."""
        with self.transaction() as conn:  # read again under the lock: another process may build
            number = self._version(conn)
            if number is None or number >= len(STEPS):
                return
            for step in STEPS[number:]:
                for statement in step:
                    conn.execute(statement)
            facts = {"format": STATE_FORMAT, **initial_meta} if number == 0 else {}
            facts["schema_version"] = str(SCHEMA_VERSION)
            conn.executemany(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", facts.items()
            )

    @staticmethod
    def _version(conn: sqlite3.Connection) -> int | None:
        """The file's schema version: 0 when it has no tables yet, None when unreadable."""
        if not conn.execute("SELECT 1 FROM sqlite_master WHERE name='meta'").fetchone():
            return 0
        row = conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        return int(row[0]) if row and row[0].isdigit() else None

    def checkpoint(self) -> None:
        """Copy committed pages from the WAL into the database file, outside any request.

        SQLite's own checkpoint runs in the COMMIT that fills INLINE_CHECKPOINT_PAGES pages,
        under the write lock, and fsyncs twice: every writer of every process waits for it
        (in a loop of job inserts, 1-2% took over 2 ms, up to 34 ms). A passive one takes no
        write lock, so writers go on meanwhile; under steady writes it never catches up
        completely, so the WAL (up to 40 MB on disk) restarts at SQLite's own, which finds
        little left to copy. A failure is logged: the next checkpoint tries again."""
        try:
            self.connection().execute("PRAGMA wal_checkpoint(PASSIVE)")
        except sqlite3.Error as exc:
            log.warning("WAL checkpoint failed: %s", exc)

    def close(self) -> None:
        self._write_gate.close()
        self.release_connection()

    def release_connection(self) -> None:
        """Close this thread's connection (the next use opens another): a process that
        forks must not hand an open SQLite connection to its children."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
