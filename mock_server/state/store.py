"""Mutable state in one SQLite file, shared by every worker process and thread.

Only what cannot be derived is stored: the records of each kind (jobs, downloads), the
clock and rules of each namespace, the request journal, the recordings to replay and a
few facts about the file itself. The Store holds the parts, each in its own module:
database.py (connections, transactions, schema), namespaces.py, journal.py, records.py
(one table per kind of record, which the domain registers) and snapshot.py.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any, TypeVar

from pixxel_mock.server.state.clock import Clock
from pixxel_mock.server.state.database import Database
from pixxel_mock.server.state.journal import Journal
from pixxel_mock.server.state.namespaces import Namespaces
from pixxel_mock.server.state.records import RecordTable
from pixxel_mock.server.state.schema import NAMESPACED_TABLES

MAX_RECORDINGS = 64  # loaded recordings kept; a namespace whose recording went replays nothing
Table = TypeVar("Table", bound=RecordTable[Any])


class Store:
    """SQLite-backed state. One instance per app; connections are per thread and process."""

    def __init__(
        self,
        path: Path,
        initial_clock: Clock,
        journal_size: int = 10_000,
        max_namespaces: int = 1_000,
        synced: bool = True,
    ) -> None:
        self.path = Path(path)
        self.database = Database(
            self.path,
            synced,
            {"secret": secrets.token_hex(32), "initial_clock": json.dumps(initial_clock.__dict__)},
        )
        self.namespaces = Namespaces(self.database, max_namespaces)
        self.journal = Journal(self.database, journal_size)
        self.tables: list[RecordTable[Any]] = []  # exported and imported (snapshot.py)

    def register(self, table: Table) -> Table:
        """Hold a kind's table as part of the state: a snapshot exports and imports it."""
        self.tables.append(table)
        return table

    def reset(self, namespace: str | None) -> None:
        """Forget records, clock changes, rules and journal (of one namespace, or all)."""
        self.journal.sync()
        with self.database.transaction(invalidates=True) as conn:
            for table in NAMESPACED_TABLES:
                if namespace is None:
                    conn.execute(f"DELETE FROM {table}")
                else:
                    conn.execute(f"DELETE FROM {table} WHERE namespace=?", (namespace,))

    # -- recordings (replay) ------------------------------------------------
    def put_recording(self, recording_id: str, document: str) -> None:
        """Keep a recording's text under its content id; the oldest past MAX_RECORDINGS go."""
        with self.database.transaction() as conn:
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
            self.database.connection()
            .execute("SELECT document FROM recordings WHERE id=?", (recording_id,))
            .fetchone()
        )
        return row[0] if row else None

    def close(self) -> None:
        """Write the journal's buffer, stop the flusher, close this thread's connection."""
        self.journal.close()
        self.database.close()
