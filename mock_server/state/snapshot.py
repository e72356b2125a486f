"""The whole state as JSON (the control API's `/__mock/state`): exported, and imported
in place of the current one. A snapshot holds no journal; recordings are optional."""

from __future__ import annotations

import json
import time
from typing import Any

from pixxel_mock.server.state.schema import STATE_FORMAT
from pixxel_mock.server.state.store import Store

SNAPSHOT_VERSION = 1
_NAMESPACE_COLUMNS = ("namespace", "mode", "speed", "sim_anchor", "real_anchor", "rules_version")


def snapshot_of(store: Store) -> dict[str, Any]:
    conn = store.database.connection()
    snapshot: dict[str, Any] = {
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
    }
    for table in store.tables:
        kind = table.kind
        rows = conn.execute(
            f"SELECT * FROM {kind.table} ORDER BY namespace, {table.SNAPSHOT_ORDER}"
        )
        snapshot[kind.table] = [kind.to_json(kind.from_row(r)) for r in rows]
    return snapshot


def restore(store: Store, snapshot: dict[str, Any]) -> None:
    """Replace every record and namespace (clock, rules) by a snapshot's, atomically.

    Raises TypeError or ValueError (and changes nothing) if a part cannot be read."""
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
        (c["namespace"], c["rule_id"], int(c["count"])) for c in snapshot.get("fault_counts", [])
    ]
    records = [
        (
            table.kind,
            [
                table.kind.to_row(table.kind.from_json(r))
                for r in snapshot.get(table.kind.table, ())  # kinds newer than the snapshot
            ],
        )
        for table in store.tables
    ]
    with store.database.transaction(invalidates=True) as conn:
        for name in (*(kind.table for kind, _ in records), "namespaces", "fault_counts"):
            conn.execute(f"DELETE FROM {name}")
        conn.executemany("INSERT INTO namespaces VALUES (?, ?, ?, ?, ?, ?, ?, ?)", namespaces)
        conn.executemany("INSERT INTO fault_counts VALUES (?, ?, ?)", counts)
        for kind, rows in records:
            conn.executemany(kind.insert_statement(), rows)
        conn.executemany(  # added to those kept (a --replay recording stays)
            "INSERT OR REPLACE INTO recordings (id, document) VALUES (?, ?)",
            [(r["id"], r["document"]) for r in snapshot.get("recordings", [])],
        )
