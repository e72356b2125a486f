"""Client coverage: which documented answers a client's traffic met, and which it never did.

Why: a client's error paths (a 429, a failed job, a download that stays pending)
only run when the server answers that way; this report lists, per operation of the
spec, the statuses the client received and the documented ones it never saw, and
the job, task and download states it observed. Input is plain observations, from
the journal or from a recording, so the same report serves both.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from pixxel_mock.server.spec.document import ApiSpec

STATE_OF = {
    "getJob": "jobs",
    "createJob": "jobs",
    "downloadJob": "downloads",
    "downloadTask": "downloads",
    "createAoi": "aois",
    "getAoi": "aois",
    "listAoiAssets": "assets",
    "createAoiDownload": "aoi_downloads",
    "getAoiDownload": "aoi_downloads",
    "createVisualization": "visualizations",
    "listVisualizations": "visualizations",
    "rollbackVisualizationMetadata": "visualizations",
    "listInsights": "insights",
    "downloadInsights": "insight_downloads",
    "submitOrder": "orders",
    "getOrderById": "orders",
    "getOrderItemById": "order_items",
    "listDeliveries": "deliveries",
    "createDelivery": "deliveries",
    "createDownload": "catalog_downloads",
    "getDownloadById": "catalog_downloads",
}
# a list's array key
LIST_KEYS = {
    "assets": "assets",
    "visualizations": "visualization",
    "insights": "insights",
    "deliveries": "deliveries",
}
# What one answer showed: "jobs", "tasks", "downloads", "aois", "assets", "aoi_downloads",
# "visualizations", "insights" or "insight_downloads" -> its states, first seen first.
States = Mapping[str, Sequence[str]]


@dataclass(frozen=True)
class Observation:
    """One answer the client received. Its states come from `states` if known (the
    journal keeps them, not bodies), else from `body` (a recording keeps bodies)."""

    operation_id: str | None  # None: a request that matched no operation
    status: int
    body: bytes | None = None
    fault: str | None = None
    violations: tuple[str, ...] = ()
    states: States | None = None


def job_states(status: str, task_statuses: Iterable[str]) -> States:
    """The states a job's JSON shows: its own and its tasks' (each once)."""
    return {"jobs": (status,), "tasks": tuple(dict.fromkeys(task_statuses))}


def download_states(status: str) -> States:
    return {"downloads": (status,)}


def aoi_states(status: str) -> States:
    return {"aois": (status,)}


def asset_states(statuses: Iterable[str]) -> States:
    """The states a page of assets shows (each once)."""
    return {"assets": tuple(dict.fromkeys(statuses))}


def aoi_download_states(status: str) -> States:
    return {"aoi_downloads": (status,)}


def visualization_states(statuses: Iterable[str]) -> States:
    """The states a visualization, or a page of them, shows (each once)."""
    return {"visualizations": tuple(dict.fromkeys(statuses))}


def insight_states(statuses: Iterable[str]) -> States:
    """The states a list of insights shows (each once)."""
    return {"insights": tuple(dict.fromkeys(statuses))}


def insight_download_states(status: str) -> States:
    return {"insight_downloads": (status,)}


def order_states(status: str, item_statuses: Iterable[str]) -> States:
    """The states an order's JSON shows: its payment status and its items' (each once)."""
    return {"orders": (status,), "order_items": tuple(dict.fromkeys(item_statuses))}


def order_item_states(status: str, task_statuses: Iterable[str]) -> States:
    """The states an order item's JSON shows: its own and its tasks' (each once)."""
    return {"order_items": (status,), "order_tasks": tuple(dict.fromkeys(task_statuses))}


def encoded_states(states: States) -> str:
    """The journal's form of an answer's states (compact JSON). A job's is made once per
    rendered state, not per poll: encoding costs more than the rest of the journal entry."""
    return orjson.dumps(states).decode()


def states_in_body(operation_id: str | None, status: int, body: bytes | None) -> States | None:
    """The states in an answer's JSON body, for answers whose states nobody noted
    (recordings, `Prefer` examples); None if the answer shows none."""
    kind = STATE_OF.get(operation_id or "")
    if kind is None or body is None or status not in (200, 201):
        return None
    try:
        document = json.loads(body)
    except ValueError:
        return None
    listed = LIST_KEYS.get(kind)
    if listed and isinstance(document, dict) and isinstance(document.get(listed), list):
        return {
            kind: tuple(
                dict.fromkeys(
                    a["status"]
                    for a in document[listed]
                    if isinstance(a, dict) and isinstance(a.get("status"), str)
                )
            )
        }
    if not isinstance(document, dict) or not isinstance(document.get("status"), str):
        return None
    if kind in ("orders", "order_items"):
        parts = document.get("order_items" if kind == "orders" else "tasks")
        statuses = (
            p["status"]
            for p in (parts if isinstance(parts, list) else [])
            if isinstance(p, dict) and isinstance(p.get("status"), str)
        )
        make = order_states if kind == "orders" else order_item_states
        return make(document["status"], statuses)
    if kind != "jobs":
        return {kind: (document["status"],)}
    tasks = document.get("tasks")
    tasks = tasks if isinstance(tasks, list) else []
    return job_states(
        document["status"],
        (t["status"] for t in tasks if isinstance(t, dict) and isinstance(t.get("status"), str)),
    )


@dataclass
class Coverage:
    operations: dict[str, dict[str, Any]] = field(default_factory=dict)
    states: dict[str, list[str]] = field(default_factory=dict)
    faults: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    unmatched: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "operations": self.operations,
            "states": self.states,
            "faults": self.faults,
            "violations": self.violations,
            "unmatched_requests": self.unmatched,
        }

    def table(self) -> str:
        """Plain text: one line per operation, then the states, faults and violations."""
        lines = [f"{'operation':<24} {'calls':>5}  {'seen':<16} never seen"]
        for name, row in self.operations.items():
            seen = ",".join(str(s) for s in row["seen"]) or "-"
            never = ",".join(row["never_seen"]) or "-"
            lines.append(f"{name:<24} {row['calls']:>5}  {seen:<16} {never}")
        for kind, states in self.states.items():
            lines.append(f"{kind} states seen: {', '.join(states) or '-'}")
        lines.append(f"faults met: {', '.join(self.faults) or '-'}")
        lines.append(f"client contract violations: {len(self.violations)}")
        lines += [f"  {v}" for v in self.violations]
        return "\n".join(lines)


def documented_statuses(spec: ApiSpec) -> dict[str, list[str]]:
    """Operation id -> its documented statuses, for `coverage_of`."""
    return {op: sorted(o.documented_statuses()) for op, o in sorted(spec.operations.items())}


def coverage_of(documented: Mapping[str, Iterable[str]], seen: Iterable[Observation]) -> Coverage:
    """`documented`: operation id -> its documented statuses ('200', '4XX', 'default')."""
    report = Coverage(states={"jobs": [], "tasks": [], "downloads": []})
    statuses: dict[str, dict[int, int]] = {op: {} for op in documented}
    for observation in seen:
        report.violations += observation.violations
        if observation.fault and observation.fault not in report.faults:
            report.faults.append(observation.fault)
        if observation.operation_id not in statuses:
            report.unmatched += 1
            continue
        counts = statuses[observation.operation_id]
        counts[observation.status] = counts.get(observation.status, 0) + 1
        states = observation.states
        if states is None:
            states = states_in_body(observation.operation_id, observation.status, observation.body)
        _collect_states(report.states, states or {})
    for op, codes in documented.items():
        received = statuses[op]
        report.operations[op] = {
            "calls": sum(received.values()),
            "seen": sorted(received),
            "never_seen": sorted(c for c in codes if not _covers(c, received)),
        }
    return report


def _covers(documented: str, received: Mapping[int, int]) -> bool:
    if documented == "default":
        return False
    if documented.endswith("XX"):
        return any(str(s)[0] == documented[0] for s in received)
    return int(documented) in received


def _collect_states(seen: dict[str, list[str]], states: States) -> None:
    for kind, names in states.items():
        known = seen.setdefault(kind, [])
        known += [name for name in names if name not in known]
