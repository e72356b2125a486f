"""Mutable state in one SQLite file, shared by every worker process and thread.

Only what cannot be derived is stored: job and download records, the clock of
each namespace, the request journal and a few facts about the file itself. Each
thread of each process opens its own connection (SQLite connections must not
cross a fork). WAL mode survives a killed process without losing a committed
transaction. A kept file (`--state-file`) is also synced to disk at each checkpoint
(synchronous=NORMAL), so that a power cut can lose its last transactions but not corrupt
it. A temporary one is never synced (synchronous=OFF): it goes with the server anyway,
and on ext4 a checkpoint's fsync stalled the other worker's commits, writing to the
same file system, by up to ~20 ms (createJob's p99).
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pixxel_mock.server.model.lifecycle import JobOverrides, JobRecord
from pixxel_mock.server.state.barrier import FlushBarrier
from pixxel_mock.server.state.cache import BoundedCache
from pixxel_mock.server.state.clock import Clock
from pixxel_mock.server.state.epoch import Epoch
from pixxel_mock.server.state.writegate import WriteGate

log = logging.getLogger("pixxel_mock")
STATE_FORMAT = "pixxel-mock-state"
DEFAULT_NAMESPACE = "default"  # never evicted
JOURNAL_BATCH = 500  # entries buffered at most before an inline write
JOURNAL_FLUSH_SECONDS = 0.005  # how often the flusher looks for a reader waiting
JOURNAL_WRITE_SECONDS = 0.1  # how often it writes when no reader waits (one write transaction
# per 5 ms per process took the write lock 200 times a second from createJob's inserts)
CHECKPOINT_SECONDS = 0.1  # how often the flusher copies the WAL into the database file
# Checkpoints SQLite would run itself, inside the COMMIT of the request whose write crosses
# this many WAL pages (40 MB, under the write lock): only if no flusher runs.
INLINE_CHECKPOINT_PAGES = 10_000
_NAMESPACE_COLUMNS = ("namespace", "mode", "speed", "sim_anchor", "real_anchor", "rules_version")
SCHEMA_VERSION = 2
SNAPSHOT_VERSION = 1  # exports hold no journal; recordings are an optional part
MAX_RECORDINGS = 64  # loaded recordings kept; a namespace whose recording went replays nothing
_RECORDINGS = "CREATE TABLE IF NOT EXISTS recordings (id TEXT PRIMARY KEY, document TEXT NOT NULL)"
# How a file of each older version becomes the next one (an existing --state-file keeps working).
_MIGRATIONS = {
    1: (
        "ALTER TABLE journal ADD COLUMN fault TEXT",
        "ALTER TABLE journal ADD COLUMN states TEXT",
        _RECORDINGS,
    ),
}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS namespaces (
    namespace TEXT PRIMARY KEY, mode TEXT NOT NULL, speed REAL NOT NULL,
    sim_anchor REAL NOT NULL, real_anchor REAL NOT NULL,
    rules_version INTEGER NOT NULL DEFAULT 0,
    faults TEXT NOT NULL DEFAULT '[]', scenario TEXT NOT NULL DEFAULT '{}');
CREATE TABLE IF NOT EXISTS fault_counts (
    namespace TEXT NOT NULL, rule_id TEXT NOT NULL, count INTEGER NOT NULL,
    PRIMARY KEY (namespace, rule_id));
CREATE TABLE IF NOT EXISTS jobs (
    namespace TEXT NOT NULL, id TEXT NOT NULL, seq INTEGER NOT NULL,
    workflow_id TEXT NOT NULL, project_id TEXT NOT NULL, created_by TEXT NOT NULL,
    created_at REAL NOT NULL, polls INTEGER NOT NULL DEFAULT 0,
    overrides TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (namespace, id));
CREATE INDEX IF NOT EXISTS jobs_by_workflow ON jobs (namespace, workflow_id, seq);
CREATE INDEX IF NOT EXISTS jobs_by_seq ON jobs (namespace, seq);
CREATE TABLE IF NOT EXISTS downloads (
    namespace TEXT NOT NULL, id TEXT NOT NULL, workflow_id TEXT NOT NULL,
    job_id TEXT NOT NULL, task_id TEXT NOT NULL, created_at REAL NOT NULL,
    polls INTEGER NOT NULL DEFAULT 0,
    ready_after_seconds REAL NOT NULL, ready_after_polls INTEGER NOT NULL,
    PRIMARY KEY (namespace, id));
CREATE TABLE IF NOT EXISTS journal (
    id INTEGER PRIMARY KEY AUTOINCREMENT, namespace TEXT NOT NULL, at REAL NOT NULL,
    method TEXT NOT NULL, path TEXT NOT NULL, query TEXT NOT NULL,
    operation_id TEXT, status INTEGER NOT NULL, duration_ms REAL NOT NULL,
    violations TEXT NOT NULL, fault TEXT, states TEXT);
"""


BuildJob = Callable[[int], JobRecord]


class StateFileError(RuntimeError):
    """The state file exists but is not one of ours, or is damaged: never reset it silently."""


@dataclass(frozen=True)
class DownloadRecord:
    namespace: str
    id: str
    workflow_id: str
    job_id: str
    task_id: str  # "" for a job package
    created_at: float
    polls: int
    ready_after_seconds: float  # fixed at creation, so a ready package never turns pending
    ready_after_polls: int

    def is_ready(self, now: float) -> bool:
        return now >= self.created_at + self.ready_after_seconds or (
            self.polls >= self.ready_after_polls
        )


@dataclass(frozen=True)
class NamespaceRow:
    """What each request reads once: the clock, and the version of the rules."""

    clock: Clock
    rules_version: int


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


class Store:
    """SQLite-backed state. One instance per app; connections are per thread and process."""

    def __init__(
        self,
        path: Path,
        initial_clock: Clock,
        journal_size: int = 10_000,
        job_cache_size: int = 10_000,
        max_namespaces: int = 1_000,
        synced: bool = True,
    ) -> None:
        self.path = Path(path)
        self._synchronous = "NORMAL" if synced else "OFF"
        self.journal_size = journal_size
        self.max_namespaces = max(max_namespaces, 2)
        self._local = threading.local()
        self._initial_clock = initial_clock
        self._initial: Clock | None = None
        self._journal_buffer: list[tuple[Any, ...]] = []
        self._journal_lock = threading.Lock()
        self._flush_lock = threading.Lock()  # held from taking the buffer until it is written
        self._flusher_pid = 0
        self._write_through = False  # no barrier slot was free: write each entry at once
        self._barrier = FlushBarrier(self.path.with_name(self.path.name + ".flush"))
        self._closed = threading.Event()
        self._epoch = Epoch(self.path.with_name(self.path.name + ".epoch"))
        self._seen_epoch = -1
        self._namespaces: BoundedCache[str, NamespaceRow] = BoundedCache(1024)
        self._jobs: BoundedCache[tuple[str, str], JobRecord] = BoundedCache(job_cache_size)
        self._downloads: BoundedCache[tuple[str, str], DownloadRecord] = BoundedCache(
            job_cache_size
        )
        # lists of jobs, valid while no process inserted one (a second marker: an insert
        # must not drop every other cached read) and nothing else changed (epoch)
        self._inserted = Epoch(self.path.with_name(self.path.name + ".jobs"))
        self._job_lists: BoundedCache[tuple[str, str | None], tuple[int, list[JobRecord]]] = (
            BoundedCache(64)
        )
        self._stored_namespaces: set[str] = set()  # have a row; a reset or eviction bumps epoch
        self._write_lock = threading.Lock()  # threads of a process queue here, not in SQLite's
        # busy handler, whose sleeps would add milliseconds to every contended write
        self._write_gate = WriteGate(self.path.with_name(self.path.name + ".lock"))  # processes
        self._job_inserter = self.insert_one
        self._check_and_init()

    # -- connections -------------------------------------------------------
    def _connection(self) -> sqlite3.Connection:
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

        `invalidates`: the change can make cached reads stale in every process.
        """
        conn = self._connection()
        with self._write_lock, self._write_gate.held():
            self._local.evicted = False
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            if invalidates or self._local.evicted:  # under the lock: the next writer sees it
                self._epoch.bump()

    def _fresh(self) -> None:
        """Drop this process's cached reads if any process changed something since."""
        epoch = self._epoch.read()
        if epoch != self._seen_epoch:
            self._namespaces.clear()
            self._jobs.clear()
            self._downloads.clear()
            self._job_lists.clear()
            self._stored_namespaces.clear()
            self._seen_epoch = epoch

    def _check_and_init(self) -> None:
        try:
            conn = self._connection()
            tables = {
                r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
            }
        except sqlite3.DatabaseError as exc:
            raise StateFileError(
                f"state file {self.path} is not a pixxel-mock state file: {exc}"
            ) from exc
        if tables and "meta" not in tables:
            raise StateFileError(
                f"state file {self.path} belongs to another program (tables: {sorted(tables)})"
            )
        if tables:
            meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
            if meta.get("format") != STATE_FORMAT:
                raise StateFileError(f"state file {self.path} is not a pixxel-mock state file")
            if meta.get("schema_version") != str(SCHEMA_VERSION):
                self._migrate()
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
            return
        with self.transaction() as conn:
            for statement in [*filter(str.strip, _SCHEMA.split(";")), _RECORDINGS]:
                conn.execute(statement)
            conn.executemany(
                "INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)",
                [
                    ("format", STATE_FORMAT),
                    ("schema_version", str(SCHEMA_VERSION)),
                    ("secret", secrets.token_hex(32)),
                    ("initial_clock", json.dumps(self._initial_clock.__dict__)),
                ],
            )

    def _migrate(self) -> None:
        """Bring a file of an older schema version to this one, one version at a time."""
        with self.transaction() as conn:  # read again under the lock: another process may migrate
            version = conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
            number = int(version[0]) if version and version[0].isdigit() else None
            while number in _MIGRATIONS:
                for statement in _MIGRATIONS[number]:
                    conn.execute(statement)
                number += 1
                conn.execute("UPDATE meta SET value=? WHERE key='schema_version'", (str(number),))

    # -- meta --------------------------------------------------------------
    def meta(self, key: str) -> str:
        row = self._connection().execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        if row is None:
            raise StateFileError(f"state file {self.path} lacks meta key {key!r}")
        return row[0]

    def initial_clock(self) -> Clock:
        """The clock a namespace starts with; fixed when the state file was created."""
        if self._initial is None:
            self._initial = Clock(**json.loads(self.meta("initial_clock")))
        return self._initial

    # -- namespaces: clock and rules ---------------------------------------
    def namespace(self, namespace: str) -> NamespaceRow:
        self._fresh()
        cached = self._namespaces.get(namespace)
        if cached is None:
            cached = self._namespaces.put(namespace, self._read_namespace(namespace))
        return cached

    def _read_namespace(self, namespace: str) -> NamespaceRow:
        row = (
            self._connection()
            .execute(
                "SELECT mode, speed, sim_anchor, real_anchor, rules_version FROM namespaces"
                " WHERE namespace=?",
                (namespace,),
            )
            .fetchone()
        )
        if row is None:
            return NamespaceRow(self.initial_clock(), 0)
        return NamespaceRow(Clock(*row[:4]), row[4])

    def clock(self, namespace: str) -> Clock:
        return self.namespace(namespace).clock

    def _ensure_namespace(self, conn: sqlite3.Connection, namespace: str) -> None:
        """Every namespace that holds state has a row; past the cap the oldest are evicted."""
        clock = self.initial_clock()
        created = conn.execute(
            "INSERT OR IGNORE INTO namespaces (namespace, mode, speed, sim_anchor, real_anchor)"
            " VALUES (?, ?, ?, ?, ?)",
            (namespace, clock.mode, clock.speed, clock.sim_anchor, clock.real_anchor),
        ).rowcount
        if not created:
            return
        evicted = [
            row[0]
            for row in conn.execute(
                "SELECT namespace FROM namespaces WHERE namespace NOT IN (?, ?)"
                " ORDER BY rowid DESC LIMIT -1 OFFSET ?",
                (DEFAULT_NAMESPACE, namespace, self.max_namespaces - 2),
            )
        ]
        for old in evicted:
            for table in ("jobs", "downloads", "fault_counts", "journal", "namespaces"):
                conn.execute(f"DELETE FROM {table} WHERE namespace=?", (old,))
        if evicted:  # a batch of inserts may create several namespaces
            self._local.evicted = True

    def set_clock(self, namespace: str, clock: Clock) -> None:
        with self.transaction(invalidates=True) as conn:
            self._ensure_namespace(conn, namespace)
            conn.execute(
                "UPDATE namespaces SET mode=?, speed=?, sim_anchor=?, real_anchor=?"
                " WHERE namespace=?",
                (clock.mode, clock.speed, clock.sim_anchor, clock.real_anchor, namespace),
            )

    def rules(self, namespace: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """(fault rules, scenario) of the namespace."""
        row = (
            self._connection()
            .execute("SELECT faults, scenario FROM namespaces WHERE namespace=?", (namespace,))
            .fetchone()
        )
        return (json.loads(row[0]), json.loads(row[1])) if row else ([], {})

    def set_rules(
        self,
        namespace: str,
        faults: list[dict[str, Any]] | None = None,
        scenario: dict[str, Any] | None = None,
    ) -> None:
        """Replace the namespace's fault rules and/or scenario; counts of dropped rules go."""
        with self.transaction(invalidates=True) as conn:
            self._ensure_namespace(conn, namespace)
            if faults is not None:
                conn.execute(
                    "UPDATE namespaces SET faults=? WHERE namespace=?",
                    (json.dumps(faults), namespace),
                )
                kept = [f["id"] for f in faults]
                conn.execute(
                    "DELETE FROM fault_counts WHERE namespace=? AND rule_id NOT IN"
                    f" ({','.join('?' * len(kept))})",
                    (namespace, *kept),
                )
            if scenario is not None:
                conn.execute(
                    "UPDATE namespaces SET scenario=? WHERE namespace=?",
                    (json.dumps(scenario), namespace),
                )
            conn.execute(
                "UPDATE namespaces SET rules_version=? WHERE namespace=?",
                (time.time_ns(), namespace),
            )

    def count_match(self, namespace: str, rule_id: str) -> int:
        """Count one more match of a rule in a namespace; return the new count."""
        with self.transaction() as conn:
            (count,) = conn.execute(
                "INSERT INTO fault_counts VALUES (?, ?, 1) ON CONFLICT (namespace, rule_id)"
                " DO UPDATE SET count = count + 1 RETURNING count",
                (namespace, rule_id),
            ).fetchone()
        return int(count)

    # -- recordings (replay) ------------------------------------------------
    def put_recording(self, recording_id: str, document: str) -> None:
        """Keep a recording's text under its content id; the oldest past MAX_RECORDINGS go."""
        with self.transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO recordings (id, document) VALUES (?, ?)",
                (recording_id, document),
            )
            conn.execute(
                "DELETE FROM recordings WHERE rowid <= (SELECT MAX(rowid) FROM recordings) - ?",
                (MAX_RECORDINGS,),
            )

    def recording(self, recording_id: str) -> str | None:
        row = (
            self._connection()
            .execute("SELECT document FROM recordings WHERE id=?", (recording_id,))
            .fetchone()
        )
        return row[0] if row else None

    def match_counts(self, namespace: str) -> dict[str, int]:
        rows = (
            self._connection()
            .execute("SELECT rule_id, count FROM fault_counts WHERE namespace=?", (namespace,))
            .fetchall()
        )
        return dict(rows)

    # -- jobs --------------------------------------------------------------
    def insert_job(self, namespace: str, build: BuildJob) -> JobRecord:
        """Insert the job that `build(seq)` returns, seq being the namespace's next number.

        Through `route_job_inserts`, the server may gather the inserts of several requests
        into one transaction (serving/groupcommit.py); it returns once the job is committed."""
        return self._job_inserter(namespace, build)

    def route_job_inserts(self, inserter: Callable[[str, BuildJob], JobRecord]) -> None:
        self._job_inserter = inserter

    def insert_one(self, namespace: str, build: BuildJob) -> JobRecord:
        outcome = self.insert_jobs([(namespace, build)])[0]
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def insert_jobs(self, requests: list[tuple[str, BuildJob]]) -> list[JobRecord | Exception]:
        """Insert a job for each (namespace, build) in one transaction: one lock, one
        commit and one reload of pages another process changed, for all of them.

        A build that raises fails its own job only; a failed transaction fails them all."""
        outcomes: list[JobRecord | Exception] = []
        next_seq: dict[str, int] = {}
        with self.transaction() as conn:
            self._fresh()  # under the write lock: sees any reset or eviction committed before
            for namespace, build in requests:
                seq = (
                    next_seq.get(namespace)
                    or conn.execute(
                        "SELECT COALESCE(MAX(seq), 0) + 1 FROM jobs WHERE namespace=?", (namespace,)
                    ).fetchone()[0]
                )
                try:
                    record = build(seq)
                except Exception as exc:  # handed to its own request
                    outcomes.append(exc)
                    continue
                if namespace not in self._stored_namespaces and namespace not in next_seq:
                    self._ensure_namespace(conn, namespace)
                conn.execute(
                    "INSERT INTO jobs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", _job_row(record)
                )
                next_seq[namespace] = seq + 1
                outcomes.append(record)
        if not self._local.evicted:
            self._stored_namespaces.update(next_seq)
        self._inserted.bump()  # before the answers leave: every worker lists the jobs at once
        return outcomes

    def job(self, namespace: str, job_id: str) -> JobRecord | None:
        """A job record; records only change through polls, reset and import (epoch)."""
        self._fresh()
        cached = self._jobs.get((namespace, job_id))
        if cached is not None:
            return cached
        row = (
            self._connection()
            .execute("SELECT * FROM jobs WHERE namespace=? AND id=?", (namespace, job_id))
            .fetchone()
        )
        return self._jobs.put((namespace, job_id), _job_from_row(row)) if row else None

    def poll_job(self, namespace: str, job_id: str) -> JobRecord | None:
        """Count one read of the job (polls clock mode) and return the updated record."""
        with self.transaction(invalidates=True) as conn:
            conn.execute(
                "UPDATE jobs SET polls = polls + 1 WHERE namespace=? AND id=?", (namespace, job_id)
            )
            row = conn.execute(
                "SELECT * FROM jobs WHERE namespace=? AND id=?", (namespace, job_id)
            ).fetchone()
        return _job_from_row(row) if row else None

    def jobs(self, namespace: str, workflow_id: str | None = None) -> list[JobRecord]:
        """The namespace's jobs (of one workflow, if given), newest first.

        Cached until a process inserts a job or changes any (the marker is read before
        the query, so an insert racing with it only costs a reload on the next call)."""
        self._fresh()
        inserted = self._inserted.read()
        cached = self._job_lists.get((namespace, workflow_id))
        if cached is not None and cached[0] == inserted:
            return list(cached[1])
        query, args = "SELECT * FROM jobs WHERE namespace=?", (namespace,)
        if workflow_id is not None:
            query, args = query + " AND workflow_id=?", (namespace, workflow_id)
        rows = self._connection().execute(query + " ORDER BY seq DESC", args).fetchall()
        records = [_job_from_row(row) for row in rows]
        self._job_lists.put((namespace, workflow_id), (inserted, records))
        return list(records)

    def downloads(self, namespace: str) -> list[DownloadRecord]:
        rows = (
            self._connection()
            .execute("SELECT * FROM downloads WHERE namespace=?", (namespace,))
            .fetchall()
        )
        return [DownloadRecord(*row) for row in rows]

    def namespaces(self) -> list[str]:
        """`default` first, then every other namespace that holds state, by name."""
        rows = self._connection().execute("SELECT namespace FROM namespaces").fetchall()
        return [DEFAULT_NAMESPACE, *sorted({r[0] for r in rows} - {DEFAULT_NAMESPACE})]

    # -- downloads ---------------------------------------------------------
    def open_download(self, record: DownloadRecord, count_poll: bool) -> DownloadRecord:
        """Create the download on the first PUT; count each later one as a poll if asked.

        A repeated PUT outside polls mode writes nothing: the record never changes then.
        """
        if not count_poll:
            existing = self.download(record.namespace, record.id)
            if existing is not None:
                return existing
        with self.transaction(invalidates=count_poll) as conn:
            created = conn.execute(
                "INSERT OR IGNORE INTO downloads VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?)",
                (
                    record.namespace,
                    record.id,
                    record.workflow_id,
                    record.job_id,
                    record.task_id,
                    record.created_at,
                    record.ready_after_seconds,
                    record.ready_after_polls,
                ),
            ).rowcount
            if count_poll and not created:  # the first PUT opens it; polls are the PUTs after
                conn.execute(
                    "UPDATE downloads SET polls = polls + 1 WHERE namespace=? AND id=?",
                    (record.namespace, record.id),
                )
            row = conn.execute(
                "SELECT * FROM downloads WHERE namespace=? AND id=?", (record.namespace, record.id)
            ).fetchone()
        return DownloadRecord(*row)

    def download(self, namespace: str, download_id: str) -> DownloadRecord | None:
        """A download record; like jobs, cached until a poll, reset or import (epoch)."""
        self._fresh()
        cached = self._downloads.get((namespace, download_id))
        if cached is not None:
            return cached
        row = (
            self._connection()
            .execute("SELECT * FROM downloads WHERE namespace=? AND id=?", (namespace, download_id))
            .fetchone()
        )
        return self._downloads.put((namespace, download_id), DownloadRecord(*row)) if row else None

    # -- journal -----------------------------------------------------------
    def journal_append(self, entry: JournalEntry) -> None:
        """Buffer an entry; a thread of this process writes the buffer every few ms.

        The caller appends before its response leaves, so a later `journal()` sees it."""
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
        with self._journal_lock:
            self._journal_buffer.append(row)
            full = self._write_through or len(self._journal_buffer) >= JOURNAL_BATCH
        if full:
            self._flush_quietly()

    def _start_flusher(self) -> None:
        with self._journal_lock:
            if self._flusher_pid == os.getpid():
                return
            self._flusher_pid = os.getpid()
            self._journal_buffer = []  # a forked copy of the parent's is not ours to write
            self._write_through = not self._barrier.register()
        threading.Thread(target=self._flush_forever, name="journal-flusher", daemon=True).start()

    def _flush_forever(self) -> None:
        acknowledged, written = self._barrier.requested(), time.monotonic()
        checkpointed = written
        while not self._closed.wait(JOURNAL_FLUSH_SECONDS):
            if time.monotonic() - checkpointed >= CHECKPOINT_SECONDS:
                self._checkpoint_quietly()
                checkpointed = time.monotonic()
            requested = self._barrier.requested()
            if requested == acknowledged and time.monotonic() - written < JOURNAL_WRITE_SECONDS:
                continue
            self._flush_quietly()
            self._barrier.acknowledge(requested)
            acknowledged, written = requested, time.monotonic()

    def _checkpoint_quietly(self) -> None:
        """Copy committed pages from the WAL into the database file, outside any request.

        SQLite's own checkpoint runs in the COMMIT that fills 1,000 pages, under the write
        lock, and fsyncs twice: every writer of every process waits for it (in a loop of job
        inserts, 1-2% took over 2 ms, up to 34 ms). A passive one takes no write lock, so
        writers go on meanwhile; under steady writes it never catches up completely, so the
        WAL (up to 40 MB on disk) restarts at SQLite's own, which finds little left to copy."""
        try:
            self._connection().execute("PRAGMA wal_checkpoint(PASSIVE)")
        except sqlite3.Error as exc:
            log.warning("WAL checkpoint failed: %s", exc)

    def _flush_quietly(self) -> None:
        """The journal is diagnostic: a failed write is logged, never raised into a request."""
        try:
            self.flush_journal()
        except sqlite3.Error as exc:
            log.warning("journal entries not written: %s", exc)

    def flush_journal(self) -> None:
        """Write this process's buffered entries; keep at most `journal_size` in the file.

        Returns once entries taken by a concurrent flush of this process are written too."""
        with self._flush_lock:
            with self._journal_lock:
                rows, self._journal_buffer = self._journal_buffer, []
            if not rows:
                return
            with self.transaction() as conn:
                conn.executemany(
                    "INSERT INTO journal (namespace, at, method, path, query, operation_id,"
                    " status, duration_ms, violations, fault, states)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    rows,
                )
                conn.execute(
                    "DELETE FROM journal WHERE id <= (SELECT MAX(id) FROM journal) - ?",
                    (self.journal_size,),
                )

    def sync_journal(self) -> None:
        """Make every entry buffered by any process before this call visible in the file."""
        number = self._barrier.request()
        self.flush_journal()
        self._barrier.wait(number)

    def forget_journal_writers(self) -> None:
        """At server start, before the workers fork (see FlushBarrier.clear)."""
        self._barrier.clear()

    def journal(self, namespace: str | None, limit: int) -> list[dict[str, Any]]:
        """The newest entries, oldest first, including every exchange answered before."""
        self.sync_journal()
        query = "SELECT * FROM journal"
        args: tuple[Any, ...] = ()
        if namespace is not None:
            query, args = query + " WHERE namespace=?", (namespace,)
        rows = (
            self._connection()
            .execute(query + " ORDER BY id DESC LIMIT ?", (*args, min(limit, self.journal_size)))
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

    def clear_journal(self, namespace: str | None) -> None:
        self.sync_journal()
        with self.transaction() as conn:
            if namespace is None:
                conn.execute("DELETE FROM journal")
            else:
                conn.execute("DELETE FROM journal WHERE namespace=?", (namespace,))

    # -- whole state -------------------------------------------------------
    def reset(self, namespace: str | None) -> None:
        """Forget jobs, downloads, clock changes, rules and journal (of one namespace, or all)."""
        self.sync_journal()
        with self.transaction(invalidates=True) as conn:
            for table in ("jobs", "downloads", "namespaces", "fault_counts", "journal"):
                if namespace is None:
                    conn.execute(f"DELETE FROM {table}")
                else:
                    conn.execute(f"DELETE FROM {table} WHERE namespace=?", (namespace,))

    def export(self) -> dict[str, Any]:
        conn = self._connection()
        return {
            "format": STATE_FORMAT,
            "schema_version": SNAPSHOT_VERSION,
            "exported_at": time.time(),
            "namespaces": [
                {
                    **dict(zip(_NAMESPACE_COLUMNS, r[:6], strict=True)),
                    "faults": json.loads(r[6]),
                    "scenario": json.loads(r[7]),
                }
                for r in conn.execute("SELECT * FROM namespaces ORDER BY namespace")
            ],
            "recordings": [
                {"id": r[0], "document": r[1]}
                for r in conn.execute("SELECT id, document FROM recordings ORDER BY rowid")
            ],
            "fault_counts": [
                {"namespace": r[0], "rule_id": r[1], "count": r[2]}
                for r in conn.execute("SELECT * FROM fault_counts ORDER BY namespace, rule_id")
            ],
            "jobs": [
                _job_to_json(_job_from_row(r))
                for r in conn.execute("SELECT * FROM jobs ORDER BY namespace, seq")
            ],
            "downloads": [
                DownloadRecord(*r).__dict__
                for r in conn.execute("SELECT * FROM downloads ORDER BY namespace, id")
            ],
        }

    def import_(self, snapshot: dict[str, Any]) -> None:
        """Replace every job, download and namespace (clock, rules) by a snapshot's, atomically."""
        namespaces = [
            (
                n["namespace"],
                n["mode"],
                float(n["speed"]),
                float(n["sim_anchor"]),
                float(n["real_anchor"]),
                time.time_ns(),  # a new version: every worker reloads the rules
                json.dumps(n.get("faults", [])),
                json.dumps(n.get("scenario", {})),
            )
            for n in snapshot["namespaces"]
        ]
        counts = [
            (c["namespace"], c["rule_id"], int(c["count"]))
            for c in snapshot.get("fault_counts", [])
        ]
        jobs = [_job_row(_job_from_json(j)) for j in snapshot["jobs"]]
        downloads = [tuple(DownloadRecord(**d).__dict__.values()) for d in snapshot["downloads"]]
        with self.transaction(invalidates=True) as conn:
            for table in ("jobs", "downloads", "namespaces", "fault_counts"):
                conn.execute(f"DELETE FROM {table}")
            conn.executemany("INSERT INTO namespaces VALUES (?, ?, ?, ?, ?, ?, ?, ?)", namespaces)
            conn.executemany("INSERT INTO fault_counts VALUES (?, ?, ?)", counts)
            conn.executemany("INSERT INTO jobs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", jobs)
            conn.executemany("INSERT INTO downloads VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", downloads)
            conn.executemany(  # added to those kept (a --replay recording stays)
                "INSERT OR REPLACE INTO recordings (id, document) VALUES (?, ?)",
                [(r["id"], r["document"]) for r in snapshot.get("recordings", [])],
            )

    def close(self) -> None:
        """Write the journal's buffer, stop the flusher, close this thread's connection."""
        self._closed.set()
        self._flush_quietly()
        self._barrier.release()
        self._write_gate.close()
        self.release_connection()

    def release_connection(self) -> None:
        """Close this thread's connection (the next use opens another): a process that
        forks must not hand an open SQLite connection to its children."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


def _job_row(record: JobRecord) -> tuple[Any, ...]:
    return (
        record.namespace,
        record.id,
        record.seq,
        record.workflow_id,
        record.project_id,
        record.created_by,
        record.created_at,
        record.polls,
        _NO_OVERRIDES_JSON
        if record.overrides == _NO_OVERRIDES
        else _overrides_json(record.overrides),
    )


def _overrides_json(overrides: JobOverrides) -> str:
    return json.dumps(overrides.to_json())


# what nearly every job stores: written and read back without JSON
_NO_OVERRIDES = JobOverrides()
_NO_OVERRIDES_JSON = _overrides_json(_NO_OVERRIDES)


def _job_from_row(row: tuple[Any, ...]) -> JobRecord:
    *fields, overrides = row
    if overrides == _NO_OVERRIDES_JSON:
        return JobRecord(*fields, overrides=_NO_OVERRIDES)
    return JobRecord(*fields, overrides=JobOverrides.from_json(json.loads(overrides)))


def _job_to_json(record: JobRecord) -> dict[str, Any]:
    data = dict(record.__dict__)
    data["overrides"] = record.overrides.to_json()
    return data


def _job_from_json(data: dict[str, Any]) -> JobRecord:
    fields = dict(data)
    fields["overrides"] = JobOverrides.from_json(fields.get("overrides"))
    return JobRecord(**fields)
