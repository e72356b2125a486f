"""A read-only table of geographic features with an R*Tree over their bounding boxes,
in its own SQLite file beside the state file (the archive's items).

The rows derive from the seed, so they are not state: the file is built once, by
whichever process first needs it (under a file lock, written aside and renamed into
place), then every worker reads it, and a restart keeps it while its signature (what
it was built from) holds. A search never scans the table: a spatial filter goes through
the R*Tree, the rest through indexes or over the candidates it leaves.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

INDEX_FORMAT = "pixxel-mock-spatial-1"
# a row: its columns, in this order
COLUMNS = (
    "id",
    "collection",
    "satellite_id",
    "datetime",  # epoch seconds, for ranges and sorting
    "west",
    "south",
    "east",
    "north",
    "document",  # the feature as the domain keeps it (JSON text)
    "footprint",  # its geometry as WKB, for exact spatial tests
)
Row = tuple[Any, ...]
SORTABLE_COLUMNS = ("id", "collection", "datetime")
OPERATORS = {"eq": "=", "neq": "!=", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
_SCHEMA = (
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE features (
    id TEXT NOT NULL UNIQUE, collection TEXT NOT NULL, satellite_id TEXT NOT NULL,
    datetime REAL NOT NULL, west REAL NOT NULL, south REAL NOT NULL, east REAL NOT NULL,
    north REAL NOT NULL, document TEXT NOT NULL, footprint BLOB NOT NULL)""",
    "CREATE VIRTUAL TABLE features_bbox USING rtree(feature, west, east, south, north)",
)
_INDEXES = (
    "CREATE INDEX features_by_collection ON features (collection, datetime)",
    "CREATE INDEX features_by_time ON features (datetime)",
    "INSERT INTO features_bbox SELECT rowid, west, east, south, north FROM features",
    "ANALYZE",
)


@dataclass(frozen=True)
class PropertyTest:
    """`json_extract(document, path) <operator> value`; `in` takes a list."""

    path: str  # a JSON path into the document, e.g. '$.properties."eo:cloud_cover"'
    operator: str  # a key of OPERATORS, or "in"
    value: Any


@dataclass(frozen=True)
class FeatureFilter:
    """What a search keeps; every part is optional, and all must hold."""

    box: tuple[float, float, float, float] | None = None  # (west, south, east, north)
    exact: Callable[[bytes], bool] | None = None  # a footprint test, after the box
    ids: tuple[str, ...] | None = None
    collections: tuple[str, ...] | None = None
    satellite_ids: tuple[str, ...] | None = None
    start: float | None = None  # datetime >= start
    end: float | None = None  # datetime <= end
    properties: tuple[PropertyTest, ...] = ()


@dataclass(frozen=True)
class SortKey:
    field: str  # a column of SORTABLE_COLUMNS, or a JSON path into the document
    descending: bool = False


@dataclass
class _Query:
    joins: str = ""
    where: list[str] = field(default_factory=list)
    args: list[Any] = field(default_factory=list)


class FeatureIndex:
    """One index file; `rows` makes its rows when the file must be (re)built."""

    def __init__(self, path: Path, signature: str, rows: Callable[[], Iterable[Row]]) -> None:
        self.path = path
        self._signature = signature
        self._rows = rows
        self._local = threading.local()
        self._ready_in = 0  # the pid that checked the file

    # -- the file --------------------------------------------------------------
    def connection(self) -> sqlite3.Connection:
        """This thread's read-only connection, the file built first if it is missing or stale."""
        conn = getattr(self._local, "conn", None)
        if conn is None or self._local.pid != os.getpid():
            if self._ready_in != os.getpid():
                self._ensure()
                self._ready_in = os.getpid()
            conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)
            self._local.conn, self._local.pid = conn, os.getpid()
        return conn

    def prepare(self) -> None:
        """Build the file now if it must be, keeping no connection (before a fork)."""
        self._ensure()
        self._ready_in = os.getpid()

    def _ensure(self) -> None:
        lock = os.open(self.path.with_name(self.path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)  # one builder; the others then find it built
            if self._signature_of_file() != self._signature:
                self._build()
        finally:
            os.close(lock)

    def _signature_of_file(self) -> str | None:
        if not self.path.exists():
            return None
        try:
            with sqlite3.connect(f"file:{self.path}?mode=ro", uri=True) as conn:
                rows = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        except sqlite3.DatabaseError:
            return None
        return rows.get("signature") if rows.get("format") == INDEX_FORMAT else None

    def _build(self) -> None:
        partial = self.path.with_name(f"{self.path.name}.{os.getpid()}.partial")
        with suppress(FileNotFoundError):
            partial.unlink()
        conn = sqlite3.connect(partial, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode=OFF")
            conn.execute("PRAGMA synchronous=OFF")
            conn.execute("BEGIN")
            for statement in _SCHEMA:
                conn.execute(statement)
            placeholders = ", ".join("?" * len(COLUMNS))
            conn.executemany(f"INSERT INTO features VALUES ({placeholders})", self._rows())
            for statement in _INDEXES:
                conn.execute(statement)
            conn.executemany(
                "INSERT INTO meta VALUES (?, ?)",
                (("format", INDEX_FORMAT), ("signature", self._signature)),
            )
            conn.execute("COMMIT")
        finally:
            conn.close()
        os.replace(partial, self.path)

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    # -- reads -----------------------------------------------------------------
    def count_all(self) -> int:
        return self.connection().execute("SELECT COUNT(*) FROM features").fetchone()[0]

    def by_ids(self, ids: Sequence[str]) -> dict[str, Row]:
        """The rows of these ids that exist, by id."""
        placeholders = ", ".join("?" * len(ids))
        rows = (
            self.connection()
            .execute(f"SELECT * FROM features WHERE id IN ({placeholders})", tuple(ids))
            .fetchall()
        )
        return {row[0]: row for row in rows}

    def select(
        self, where: FeatureFilter, order: Sequence[SortKey], limit: int, offset: int
    ) -> list[Row]:
        """The rows that pass `where`, sorted by `order` then id, a page of them."""
        sql, args = self._statement(where, order)
        return self._run(where, sql + " LIMIT ? OFFSET ?", [*args, limit, offset]).fetchall()

    def count(self, where: FeatureFilter) -> int:
        query = self._query(where)
        sql = f"SELECT COUNT(*) FROM features f{query.joins}{self._where(query)}"
        return self._run(where, sql, query.args).fetchone()[0]

    def plan(self, where: FeatureFilter, order: Sequence[SortKey]) -> list[str]:
        """SQLite's plan of `select` (its EXPLAIN QUERY PLAN lines), for the tests."""
        sql, args = self._statement(where, order)
        rows = self._run(where, "EXPLAIN QUERY PLAN " + sql, args).fetchall()
        return [row[-1] for row in rows]

    def _run(self, where: FeatureFilter, sql: str, args: Sequence[Any]) -> sqlite3.Cursor:
        conn = self.connection()
        if where.exact is not None:
            conn.create_function("footprint_matches", 1, where.exact, deterministic=True)
        return conn.execute(sql, tuple(args))

    def _statement(self, where: FeatureFilter, order: Sequence[SortKey]) -> tuple[str, list[Any]]:
        query = self._query(where)
        keys, args = [], list(query.args)
        for key in (*order, SortKey("id")):
            if key.field in SORTABLE_COLUMNS:
                expression = f"f.{key.field}"
            else:
                expression = "json_extract(f.document, ?)"
                args.append(key.field)
            keys.append(f"{expression} {'DESC' if key.descending else 'ASC'}")
        sql = f"SELECT f.* FROM features f{query.joins}{self._where(query)} ORDER BY {', '.join(keys)}"
        return sql, args

    @staticmethod
    def _where(query: _Query) -> str:
        return f" WHERE {' AND '.join(query.where)}" if query.where else ""

    @staticmethod
    def _query(where: FeatureFilter) -> _Query:
        query = _Query()
        if where.box is not None:
            query.joins = " JOIN features_bbox b ON b.feature = f.rowid"
            query.where += ["b.west <= ?", "b.east >= ?", "b.south <= ?", "b.north >= ?"]
            west, south, east, north = where.box
            query.args += [east, west, north, south]
        for column, values in (
            ("id", where.ids),
            ("collection", where.collections),
            ("satellite_id", where.satellite_ids),
        ):
            if values is not None:
                query.where.append(f"f.{column} IN ({', '.join('?' * len(values))})")
                query.args += values
        if where.start is not None:
            query.where.append("f.datetime >= ?")
            query.args.append(where.start)
        if where.end is not None:
            query.where.append("f.datetime <= ?")
            query.args.append(where.end)
        for test in where.properties:
            if test.operator == "in":
                query.where.append(
                    f"json_extract(f.document, ?) IN ({', '.join('?' * len(test.value))})"
                )
                query.args += [test.path, *test.value]
            else:
                query.where.append(f"json_extract(f.document, ?) {OPERATORS[test.operator]} ?")
                query.args += [test.path, test.value]
        if where.exact is not None:
            query.where.append("footprint_matches(f.footprint)")
        return query
