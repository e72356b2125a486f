"""The tables of the domain's records, one per kind, each keyed by (namespace, id).

The state layer knows no record type: a kind declares, in its own domain module, how its
record becomes a row and a snapshot's JSON (`RecordKind`), so that the record lives with
its lifecycle. A record is stored only for what cannot be derived; its table's columns
are its fields, in order, and include `namespace`, `id` and `polls` (the reads counted in
`polls` clock mode). Reads are cached per process until a process changes a record
(a poll, a reset, an import: see Database.drop_stale_reads).
"""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from pixxel_mock.server.state.cache import BoundedCache
from pixxel_mock.server.state.database import Database
from pixxel_mock.server.state.epoch import Epoch
from pixxel_mock.server.state.namespaces import Namespaces

RECORD_CACHE_SIZE = 10_000  # records of each kind kept per process


class StoredRecord(Protocol):
    @property
    def namespace(self) -> str: ...

    @property
    def id(self) -> str: ...


R = TypeVar("R", bound=StoredRecord)
Row = tuple[Any, ...]


@dataclass(frozen=True)
class RecordKind(Generic[R]):
    """How one kind of record is stored: its table, its rows and its snapshot JSON."""

    table: str
    columns: tuple[str, ...]  # of its table, in the order of its rows
    to_row: Callable[[R], Row]
    from_row: Callable[[Row], R]
    to_json: Callable[[R], dict[str, Any]]
    from_json: Callable[[dict[str, Any]], R]  # raises TypeError or ValueError when invalid

    def insert_statement(self, verb: str = "INSERT") -> str:
        """`verb` INTO the kind's table, one value per column (by position: naming the
        columns made each of createJob's inserts cost 0.5K instructions more)."""
        return f"{verb} INTO {self.table} VALUES ({', '.join('?' * len(self.columns))})"

    @classmethod
    def of_dataclass(cls, table: str, record: type[R]) -> RecordKind[R]:
        """A kind whose record is a dataclass of plain values, stored field by field."""
        names = tuple(f.name for f in dataclasses.fields(record))  # type: ignore[arg-type]
        values = operator.attrgetter(*names)
        return cls(
            table=table,
            columns=names,
            to_row=values,
            from_row=lambda row: record(*row),
            to_json=lambda r: dict(zip(names, values(r), strict=True)),
            from_json=lambda data: record(**data),
        )


class RecordTable(Generic[R]):
    """The records of one kind: read (cached), opened, polled and listed per namespace."""

    SNAPSHOT_ORDER = "id"  # the column a snapshot lists each namespace's records by

    def __init__(self, database: Database, kind: RecordKind[R]) -> None:
        self.kind = kind
        self._database = database
        self._connection = database.connection
        self._drop_stale_reads = database.drop_stale_reads
        self._cache: BoundedCache[tuple[str, str], R] = database.register_cache(
            BoundedCache(RECORD_CACHE_SIZE)
        )
        table = kind.table
        self._insert = kind.insert_statement()
        self._insert_new = kind.insert_statement("INSERT OR IGNORE")
        self._select = f"SELECT * FROM {table} WHERE namespace=? AND id=?"
        self._select_namespace = f"SELECT * FROM {table} WHERE namespace=?"
        self._count_poll = f"UPDATE {table} SET polls = polls + 1 WHERE namespace=? AND id=?"

    def get(self, namespace: str, record_id: str) -> R | None:
        """A record; records only change through polls, reset and import (epoch)."""
        self._drop_stale_reads()
        cached = self._cache.get((namespace, record_id))
        if cached is not None:
            return cached
        row = self._connection().execute(self._select, (namespace, record_id)).fetchone()
        return self._cache.put((namespace, record_id), self.kind.from_row(row)) if row else None

    def of_namespace(self, namespace: str) -> list[R]:
        rows = self._connection().execute(self._select_namespace, (namespace,)).fetchall()
        return [self.kind.from_row(row) for row in rows]

    def open(self, record: R, count_poll: bool) -> R:
        """Store the record unless one has its key; count each later open as a poll if asked.

        A repeated open without `count_poll` writes nothing: the record never changes then."""
        if not count_poll:
            existing = self.get(record.namespace, record.id)
            if existing is not None:
                return existing
        with self._database.transaction(invalidates=count_poll) as conn:
            created = conn.execute(self._insert_new, self.kind.to_row(record)).rowcount
            if count_poll and not created:  # the first open stores it; polls are the ones after
                conn.execute(self._count_poll, (record.namespace, record.id))
            stored = conn.execute(self._select, (record.namespace, record.id)).fetchone()
        return self.kind.from_row(stored)

    def poll(self, namespace: str, record_id: str) -> R | None:
        """Count one read of the record (polls clock mode) and return it updated."""
        with self._database.transaction(invalidates=True) as conn:
            conn.execute(self._count_poll, (namespace, record_id))
            row = conn.execute(self._select, (namespace, record_id)).fetchone()
        return self.kind.from_row(row) if row else None


Build = Callable[[int], R]  # the record to insert, given its number in its namespace
Inserter = Callable[[str, Build[R]], R]


class JobTable(RecordTable[R]):
    """Records numbered in their namespace (`seq`), inserted in batches and listed newest
    first, all of a namespace or those of one workflow: the jobs."""

    SNAPSHOT_ORDER = "seq"

    def __init__(self, database: Database, kind: RecordKind[R], namespaces: Namespaces) -> None:
        super().__init__(database, kind)
        self._namespaces = namespaces
        self._inserter: Inserter[R] = self.insert_one
        # lists, valid while no process inserted one (a second marker: an insert must not
        # drop every other cached read) and nothing else changed (epoch)
        path = database.path
        self._inserted = Epoch(path.with_name(f"{path.name}.{kind.table}"))
        self._next_seq = f"SELECT COALESCE(MAX(seq), 0) + 1 FROM {kind.table} WHERE namespace=?"
        self._lists: BoundedCache[tuple[str, str | None], tuple[int, list[R]]] = (
            database.register_cache(BoundedCache(64))
        )

    def insert(self, namespace: str, build: Build[R]) -> R:
        """Insert the record that `build(seq)` returns, seq being the namespace's next number.

        Through `route_inserts`, the server may gather the inserts of several requests
        into one transaction (serving/groupcommit.py); it returns once it is committed."""
        return self._inserter(namespace, build)

    def route_inserts(self, inserter: Inserter[R]) -> None:
        self._inserter = inserter

    def insert_one(self, namespace: str, build: Build[R]) -> R:
        outcome = self.insert_many([(namespace, build)])[0]
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def insert_many(self, requests: list[tuple[str, Build[R]]]) -> list[R | Exception]:
        """Insert a record for each (namespace, build) in one transaction: one lock, one
        commit and one reload of pages another process changed, for all of them.

        A build that raises fails its own record only; a failed transaction fails them all."""
        outcomes: list[R | Exception] = []
        next_seq: dict[str, int] = {}
        evicted = False
        to_row, stored = self.kind.to_row, self._namespaces.stored
        with self._database.transaction() as conn:
            self._drop_stale_reads()  # under the write lock: sees a reset or eviction before
            for namespace, build in requests:
                seq = (
                    next_seq.get(namespace)
                    or conn.execute(self._next_seq, (namespace,)).fetchone()[0]
                )
                try:
                    record = build(seq)
                except Exception as exc:  # handed to its own request
                    outcomes.append(exc)
                    continue
                if namespace not in stored and namespace not in next_seq:
                    evicted = self._namespaces.ensure(conn, namespace) or evicted
                conn.execute(self._insert, to_row(record))
                next_seq[namespace] = seq + 1
                outcomes.append(record)
        if not evicted:
            stored.update(next_seq)
        self._inserted.bump()  # before the answers leave: every worker lists them at once
        return outcomes

    def listing(self, namespace: str, workflow_id: str | None = None) -> list[R]:
        """The namespace's records (of one workflow, if given), newest first.

        Cached until a process inserts one or changes any (the marker is read before
        the query, so an insert racing with it only costs a reload on the next call)."""
        self._drop_stale_reads()
        inserted = self._inserted.read()
        cached = self._lists.get((namespace, workflow_id))
        if cached is not None and cached[0] == inserted:
            return list(cached[1])
        query, args = self._select_namespace, (namespace,)
        if workflow_id is not None:
            query, args = query + " AND workflow_id=?", (namespace, workflow_id)
        rows = self._connection().execute(query + " ORDER BY seq DESC", args).fetchall()
        records = [self.kind.from_row(row) for row in rows]
        self._lists.put((namespace, workflow_id), (inserted, records))
        return list(records)
