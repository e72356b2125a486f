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
import itertools
import math
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import closing, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pixxel_mock.server.state.cache import BoundedCache

INDEX_FORMAT = "pixxel-mock-spatial-4"
# a row: these columns, then one number per property the index keeps as a column
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
FIRST_BATCH, BATCH = 16, 256  # candidates checked at a time while a page fills (doubling)
CROWDED = 500  # a box with this many candidates is searched a time window at a time
WINDOW_CANDIDATES = 32  # what a crowded box's first window is expected to hold
BOX_COUNT_CAP = 100_000  # candidates counted in a box (to size its first window)
COUNTED_BOXES = 1024  # boxes whose count is kept (those searched most recently)
MICRO = 1_000_000
MMAP_BYTES = 1 << 30  # address space only: the file's pages are shared by every worker


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
    # the footprint test, after the box: whether each footprint (WKB) of a batch passes
    exact: Callable[[list[bytes]], Iterable[bool]] | None = None
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


def _schema(numbers: int) -> tuple[str, ...]:
    return (
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        f"""CREATE TABLE features (
    id TEXT NOT NULL UNIQUE, collection TEXT NOT NULL, satellite_id TEXT NOT NULL,
    datetime REAL NOT NULL, west REAL NOT NULL, south REAL NOT NULL, east REAL NOT NULL,
    north REAL NOT NULL, document TEXT NOT NULL, footprint BLOB NOT NULL
    {"".join(f", n{i} REAL" for i in range(numbers))})""",
        # integers (microdegrees, seconds), so that times keep their second (rtree's floats
        # are 32-bit); boxes rounded outwards, the exact tests come after
        "CREATE VIRTUAL TABLE features_bbox USING rtree_i32(feature, west, east, south, north,"
        " t0, t1)",
        "CREATE INDEX features_by_collection ON features (collection, datetime)",
        # time order with the boxes, for spatial searches of a crowded box (_candidates)
        "CREATE INDEX features_by_time ON features (datetime, west, east, south, north)",
    )


def _box(west: float, south: float, east: float, north: float) -> tuple[int, int, int, int]:
    """A lon/lat box in whole microdegrees, rounded outwards."""
    return (
        math.floor(west * MICRO),
        math.floor(south * MICRO),
        math.ceil(east * MICRO),
        math.ceil(north * MICRO),
    )


class FeatureIndex:
    """One index file; `rows` makes its rows when the file must be (re)built."""

    def __init__(
        self,
        path: Path,
        signature: str,
        rows: Callable[[], Iterable[Row]],
        numbers: tuple[str, ...] = (),
    ) -> None:
        """`numbers`: JSON paths of the numeric properties kept as columns (each row
        ends with their values), so that filters and sorts on them read no document."""
        self.path = path
        self._signature = signature
        self._rows = rows
        self._numbers = {path: f"n{i}" for i, path in enumerate(numbers)}
        self._local = threading.local()
        self._box_counts: BoundedCache[tuple[int, int, int, int], int] = BoundedCache(COUNTED_BOXES)
        self._span: tuple[Any, ...] | None = None  # _time_span, read once
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
            conn.execute(f"PRAGMA mmap_size={MMAP_BYTES}")  # pages read in place, not copied
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
            with closing(sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)) as conn:
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
            for statement in _schema(len(self._numbers)):
                conn.execute(statement)
            placeholders = ", ".join("?" * (len(COLUMNS) + len(self._numbers)))
            conn.executemany(f"INSERT INTO features VALUES ({placeholders})", self._rows())
            boxes = conn.execute("SELECT rowid, west, south, east, north, datetime FROM features")
            conn.executemany(
                "INSERT INTO features_bbox VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    (rowid, w, e, s, n, math.floor(at), math.ceil(at))
                    for rowid, *box, at in boxes.fetchall()
                    for w, s, e, n in (_box(*box),)
                ),
            )
            conn.execute("ANALYZE")
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
        self,
        where: FeatureFilter,
        order: Sequence[SortKey],
        limit: int,
        offset: int,
        columns: str = "f.*",
    ) -> list[Row]:
        """The rows (of `columns`) that pass `where`, sorted by `order` (then in the
        index's order), a page.

        Without a spatial filter the page is SQLite's (LIMIT/OFFSET); with one, the
        candidates come in order and are tested until the page is full."""
        if where.box is None:
            sql, args = self._table_statement(where, order, columns)
            return self._run(sql + " LIMIT ? OFFSET ?", [*args, limit, offset]).fetchall()
        return list(itertools.islice(self._spatial(where, order, columns), offset, offset + limit))

    def count(self, where: FeatureFilter) -> int:
        if where.box is None:
            sql, args = self._table_statement(where, (), "COUNT(*)")
            return self._run(sql, args).fetchone()[0]
        return sum(1 for _ in self._spatial(where, (), "f.rowid"))

    def plan(self, where: FeatureFilter, order: Sequence[SortKey]) -> list[str]:
        """SQLite's plan of the first statement of `select` (EXPLAIN QUERY PLAN), for tests."""
        if where.box is None or not self._by_time(order):
            sql, args = self._table_statement(where, order, "f.*")
        else:
            window = next(self._windows(where, order), (0, 0))
            sql, args = self._box_in_time_order(where, order, "f.*", window)
        return [row[-1] for row in self._run("EXPLAIN QUERY PLAN " + sql, args).fetchall()]

    # -- spatial searches ----------------------------------------------------------
    @staticmethod
    def _by_time(order: Sequence[SortKey]) -> bool:
        """Sorted by time only (or not at all)."""
        return all(key.field == "datetime" for key in order)

    def _spatial(
        self, where: FeatureFilter, order: Sequence[SortKey], columns: str
    ) -> Iterator[Row]:
        """The rows (of `columns`) that pass, in order, read and tested a batch at a
        time as they are needed (the exact footprint test runs on a batch at once).

        Sorted by anything but time, SQLite sorts the box's candidates that pass the
        filters. Sorted by time, the R*Tree finds the candidates of one time window after
        another (_windows) and SQLite sorts each window's."""
        assert where.box is not None
        selected = f"f.footprint, {columns}"
        statements: Iterable[tuple[str, list[Any]]] = (
            (
                self._box_in_time_order(where, order, selected, w)
                for w in self._windows(where, order)
            )
            if self._by_time(order)
            else [self._table_statement(where, order, selected)]
        )
        for sql, args in statements:
            cursor = self._run(sql, args)
            try:
                for batch in _batches(cursor):
                    yield from _passing(batch, where.exact)
            finally:
                cursor.close()  # the candidates after the page are never read

    def _box_in_time_order(
        self,
        where: FeatureFilter,
        order: Sequence[SortKey],
        columns: str,
        window: tuple[int, int],
    ) -> tuple[str, list[Any]]:
        """SELECT `columns` of the features whose second is in the window (start <= t0 <
        end) that pass the filters (the box through the R*Tree, not the exact test), in
        time order."""
        assert where.box is not None
        west, south, east, north = _box(*where.box)
        direction = "DESC" if order and order[0].descending else "ASC"
        conditions, args = self._conditions(where)
        terms = ["b.west <= ?", "b.east >= ?", "b.south <= ?", "b.north >= ?", "b.t0 >= ?"]
        return (
            # CROSS JOIN: the R*Tree first, whatever SQLite thinks of the other filters
            f"SELECT {columns} FROM features_bbox b CROSS JOIN features f"
            f" ON f.rowid = b.feature WHERE {' AND '.join([*terms, 'b.t0 < ?', *conditions])}"
            f" ORDER BY b.t0 {direction}, b.feature {direction}",
            [east, west, north, south, *window, *args],
        )

    def _windows(self, where: FeatureFilter, order: Sequence[SortKey]) -> Iterator[tuple[int, int]]:
        """Ranges of whole seconds (start <= t0 < end) that cover the search's time range
        in the order's direction: the whole range for a box of few candidates. For a
        crowded one, the first range is expected to hold WINDOW_CANDIDATES of them and
        each next one is twice as long, so that a page reads about as many entries
        however many items the archive holds."""
        assert where.box is not None
        span = self._time_span()
        if span is None:
            return
        first, last = span
        start = first if where.start is None else max(first, math.floor(where.start))
        end = last if where.end is None else min(last, math.floor(where.end) + 1)
        count = self._box_count(_box(*where.box))
        width = end - start
        if count >= CROWDED:
            width = max(1, math.ceil(WINDOW_CANDIDATES * (last - first) / count))
        descending = bool(order) and order[0].descending
        while start < end:
            if descending:
                yield max(start, end - width), end
                end -= width
            else:
                yield start, min(end, start + width)
                start += width
            width *= 2

    def _time_span(self) -> tuple[int, int] | None:
        """(first, last + 1) of the features' whole seconds; None without features."""
        if self._span is None:
            low, high = self._run(
                "SELECT MIN(datetime), MAX(datetime) FROM features", ()
            ).fetchone()
            self._span = (None,) if low is None else (math.floor(low), math.floor(high) + 1)
        return None if self._span == (None,) else self._span  # type: ignore[return-value]

    def _box_count(self, box: tuple[int, int, int, int]) -> int:
        """How many features' boxes meet the box, up to BOX_COUNT_CAP (kept: the rows
        never change)."""
        count = self._box_counts.get(box)
        if count is None:
            west, south, east, north = box
            count = self._run(
                "SELECT COUNT(*) FROM (SELECT 1 FROM features_bbox b WHERE b.west <= ?"
                " AND b.east >= ? AND b.south <= ? AND b.north >= ? LIMIT ?)",
                [east, west, north, south, BOX_COUNT_CAP],
            ).fetchone()[0]
            self._box_counts.put(box, count)
        return count

    # -- the features table --------------------------------------------------------
    def _table_statement(
        self, where: FeatureFilter, order: Sequence[SortKey], columns: str
    ) -> tuple[str, list[Any]]:
        """SELECT `columns` of the features that pass the filters (the box through the
        R*Tree, but not the exact test), in order."""
        conditions, args = self._conditions(where)
        joins = ""
        if where.box is not None:
            west, south, east, north = _box(*where.box)
            joins = " JOIN features_bbox b ON b.feature = f.rowid"
            conditions = ["b.west <= ?", "b.east >= ?", "b.south <= ?", "b.north >= ?", *conditions]
            args = [east, west, north, south, *args]
        sql = f"SELECT {columns} FROM features f{joins}"
        if conditions:
            sql += f" WHERE {' AND '.join(conditions)}"
        if columns.startswith("COUNT"):
            return sql, args
        keys = []
        for key in order:
            expression, extra = self._column(key.field)
            keys.append(f"{expression} {'DESC' if key.descending else 'ASC'}")
            args += extra
        ties = "f.rowid DESC" if order and order[0].descending else "f.rowid"  # as _candidates
        return f"{sql} ORDER BY {', '.join([*keys, ties])}", args

    def _conditions(self, where: FeatureFilter) -> tuple[list[str], list[Any]]:
        """The filters but the spatial ones, on the features table (`f`)."""
        conditions: list[str] = []
        args: list[Any] = []
        for column, values in (
            ("id", where.ids),
            ("collection", where.collections),
            ("satellite_id", where.satellite_ids),
        ):
            if values is not None:
                conditions.append(f"f.{column} IN ({', '.join('?' * len(values))})")
                args += values
        if where.start is not None:
            conditions.append("f.datetime >= ?")
            args.append(where.start)
        if where.end is not None:
            conditions.append("f.datetime <= ?")
            args.append(where.end)
        for test in where.properties:
            expression, extra = self._column(test.path)
            if test.operator == "in":
                conditions.append(f"{expression} IN ({', '.join('?' * len(test.value))})")
                args += [*extra, *test.value]
            else:
                conditions.append(f"{expression} {OPERATORS[test.operator]} ?")
                args += [*extra, test.value]
        return conditions, args

    def _column(self, path: str) -> tuple[str, list[Any]]:
        """The column for a column name or a property path (the document's value if the
        index keeps no column for it)."""
        if path in SORTABLE_COLUMNS:
            return f"f.{path}", []
        if path in self._numbers:
            return f"f.{self._numbers[path]}", []
        return "json_extract(f.document, ?)", [path]

    def _run(self, sql: str, args: Sequence[Any]) -> sqlite3.Cursor:
        return self.connection().execute(sql, tuple(args))


def _batches(cursor: sqlite3.Cursor) -> Iterator[list[Row]]:
    """The cursor's rows, a batch at a time, the batches doubling (a page is often found
    in the first)."""
    size = FIRST_BATCH
    while batch := cursor.fetchmany(size):
        yield batch
        size = min(2 * size, BATCH)


def _passing(
    batch: list[Row], exact: Callable[[list[bytes]], Iterable[bool]] | None
) -> Iterator[Row]:
    """The rows (footprint first) whose footprint passes the exact test, without it."""
    passed = exact([row[0] for row in batch]) if exact else [True] * len(batch)
    return (row[1:] for row, keep in zip(batch, passed, strict=True) if keep)
