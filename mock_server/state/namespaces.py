"""Each namespace's row: its clock, its fault rules and scenario, and how often each rule
matched. A namespace gets a row when it first holds state; past the cap, the oldest go."""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from typing import Any

from pixxel_mock.server.state.cache import BoundedCache
from pixxel_mock.server.state.clock import Clock
from pixxel_mock.server.state.database import Database
from pixxel_mock.server.state.schema import NAMESPACED_TABLES

DEFAULT_NAMESPACE = "default"  # never evicted


@dataclass(frozen=True)
class NamespaceRow:
    """What each request reads once: the clock, and the version of the rules."""

    clock: Clock
    rules_version: int


class Namespaces:
    def __init__(self, database: Database, max_namespaces: int) -> None:
        self._database = database
        self._connection = database.connection
        self._drop_stale_reads = database.drop_stale_reads
        self.max_namespaces = max(max_namespaces, 2)
        self._initial: Clock | None = None
        self._rows: BoundedCache[str, NamespaceRow] = database.register_cache(BoundedCache(1024))
        # have a row; a reset or eviction invalidates the cached reads, this set included
        self.stored: set[str] = database.register_cache(set())

    def initial_clock(self) -> Clock:
        """The clock a namespace starts with; fixed when the state file was created."""
        if self._initial is None:
            self._initial = Clock(**json.loads(self._database.meta("initial_clock")))
        return self._initial

    def row(self, namespace: str) -> NamespaceRow:
        self._drop_stale_reads()
        cached = self._rows.get(namespace)
        if cached is None:
            cached = self._rows.put(namespace, self._read(namespace))
        return cached

    def _read(self, namespace: str) -> NamespaceRow:
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
        return self.row(namespace).clock

    def names(self) -> list[str]:
        """`default` first, then every other namespace that holds state, by name."""
        rows = self._connection().execute("SELECT namespace FROM namespaces").fetchall()
        return [DEFAULT_NAMESPACE, *sorted({r[0] for r in rows} - {DEFAULT_NAMESPACE})]

    def ensure(self, conn: sqlite3.Connection, namespace: str) -> bool:
        """Inside a transaction: give the namespace a row if it has none; past the cap,
        the oldest namespaces and everything they hold are evicted (returns whether)."""
        clock = self.initial_clock()
        created = conn.execute(
            "INSERT OR IGNORE INTO namespaces (namespace, mode, speed, sim_anchor, real_anchor)"
            " VALUES (?, ?, ?, ?, ?)",
            (namespace, clock.mode, clock.speed, clock.sim_anchor, clock.real_anchor),
        ).rowcount
        if not created:
            return False
        evicted = [
            row[0]
            for row in conn.execute(
                "SELECT namespace FROM namespaces WHERE namespace NOT IN (?, ?)"
                " ORDER BY rowid DESC LIMIT -1 OFFSET ?",
                (DEFAULT_NAMESPACE, namespace, self.max_namespaces - 2),
            )
        ]
        for old in evicted:
            for table in NAMESPACED_TABLES:
                conn.execute(f"DELETE FROM {table} WHERE namespace=?", (old,))
        if evicted:
            self._database.invalidate_cached_reads()
        return bool(evicted)

    def set_clock(self, namespace: str, clock: Clock) -> None:
        with self._database.transaction(invalidates=True) as conn:
            self.ensure(conn, namespace)
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
        with self._database.transaction(invalidates=True) as conn:
            self.ensure(conn, namespace)
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
        with self._database.transaction() as conn:
            (count,) = conn.execute(
                "INSERT INTO fault_counts VALUES (?, ?, 1) ON CONFLICT (namespace, rule_id)"
                " DO UPDATE SET count = count + 1 RETURNING count",
                (namespace, rule_id),
            ).fetchone()
        return int(count)

    def match_counts(self, namespace: str) -> dict[str, int]:
        rows = (
            self._connection()
            .execute("SELECT rule_id, count FROM fault_counts WHERE namespace=?", (namespace,))
            .fetchall()
        )
        return dict(rows)
