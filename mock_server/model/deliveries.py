"""Deliveries: catalog entries pushed to a store, which is a local folder standing for
the bucket (`<stores dir>/<namespace>/<bucket>/<path_prefix>/<path>/<target_path>`).

Automatic deliveries are derived, not stored: an item with `cloud_delivery` gets one
per catalog entry, made when the entry appears (its `task_id` set). Manual ones
(`POST /v0/catalogs/deliveries`) are records, `task_id` null. Both go `CREATED` ->
`IN_PROGRESS` -> `SUCCESS` (or `FAILED`, when a scenario says so) on the clock, their
status computed at each read. The package (a ZIP: the entry's GeoTIFF and a manifest)
is written the first time a read finds the delivery succeeded, to a temporary name
beside its place and renamed into it, so a kill -9 never leaves a half-written
package where a client looks; writing is idempotent, so any process may do it.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from pixxel_mock.server.model import packages
from pixxel_mock.server.model.catalog import ApiKey
from pixxel_mock.server.model.errors import InvalidInput, NotFound
from pixxel_mock.server.model.ids import derived_uuid
from pixxel_mock.server.model.orders import CatalogEntry, ItemSpec, Orders, TaskPlan, TaskState
from pixxel_mock.server.model.sessions import Session
from pixxel_mock.server.model.stores import StoreRecord, Stores
from pixxel_mock.server.model.timefmt import rfc3339
from pixxel_mock.server.state.records import JobTable, RecordKind
from pixxel_mock.server.state.store import Store

START_SECONDS = 5.0  # CREATED for this long, then IN_PROGRESS
DELIVERY_SECONDS = 30.0  # from creation to SUCCESS or FAILED
TERMINAL = ("SUCCESS", "FAILED")
_DOT_NAMES = {".": "%2E", "..": "%2E%2E"}
EntryFile = Callable[[CatalogEntry], bytes]  # an entry's GeoTIFF


@dataclass(frozen=True)
class DeliveryRecord:
    namespace: str
    id: str
    seq: int
    catalog_id: str
    store_id: str
    path: str
    created_by: str
    created_at: float
    polls: int
    outcome: str  # success | failed, fixed by the scenario at creation


DELIVERIES = RecordKind.of_dataclass("deliveries", DeliveryRecord)


@dataclass(frozen=True)
class DeliveryView:
    id: str
    entry: CatalogEntry
    task_id: str | None  # None: manual
    store_id: str
    path: str
    status: str
    created_at: float
    updated_at: float
    created_by: str

    @property
    def is_done(self) -> bool:
        return self.status in TERMINAL

    @property
    def target_path(self) -> str:
        return f"{self.entry.order.id}/{self.id}.zip"


def delivery_status(created_at: float, outcome: str, at: float) -> tuple[str, float]:
    """The lifecycle: (status, since when) at `at`."""
    if at < created_at + START_SECONDS:
        return "CREATED", created_at
    if at < created_at + DELIVERY_SECONDS:
        return "IN_PROGRESS", created_at + START_SECONDS
    return ("FAILED" if outcome == "failed" else "SUCCESS"), created_at + DELIVERY_SECONDS


def auto_moments(task: TaskPlan, spec: ItemSpec) -> Sequence[float]:
    """The moments an item's automatic deliveries add to its order's plan (polls mode)."""
    if not spec.store_id or not task.delivers:
        return ()
    return (task.ended_at + START_SECONDS, task.ended_at + DELIVERY_SECONDS)


@dataclass(frozen=True)
class DeliveryRequest:
    catalog_ids: Sequence[str] | None
    order_item_ids: Sequence[str] | None
    store_id: str
    path: str


class Deliveries:
    """Automatic and manual deliveries, and the packages they leave in the stores dir."""

    def __init__(
        self, store: Store, orders: Orders, stores: Stores, stores_dir: Path, geotiff: EntryFile
    ) -> None:
        self.records = store.register(JobTable(store.database, DELIVERIES, store.namespaces))
        self._orders = orders
        self._stores = stores
        self.stores_dir = stores_dir
        self._geotiff = geotiff
        orders.delivery_moments = auto_moments
        stores.in_use = self._in_use

    # -- use cases ----------------------------------------------------------------------
    def create(
        self, key: ApiKey, session: Session, requests: Sequence[DeliveryRequest]
    ) -> list[DeliveryView]:
        """One manual delivery per catalog entry named (or of the order items named)."""
        planned: list[tuple[CatalogEntry, StoreRecord, str]] = []
        for index, request in enumerate(requests):
            where = f"deliveries[{index}]"
            store = self._stores.usable(
                key, session, request.store_id, f"{where}.cloud_info.config"
            )
            entries = self.resolve(key, session, request.catalog_ids, request.order_item_ids, where)
            planned += [(entry, store, request.path) for entry in entries]
        namespace = session.namespace
        views = []
        for entry, store, path in planned:
            outcome = session.scenario.delivery_outcome(store.name)
            record = self.records.insert(
                namespace,
                lambda seq, e=entry, s=store, p=path, o=outcome: DeliveryRecord(
                    namespace=namespace,
                    id=derived_uuid(namespace, "delivery", seq, e.id),
                    seq=seq,
                    catalog_id=e.id,
                    store_id=s.id,
                    path=p,
                    created_by=key.service_account_id,
                    created_at=session.now,
                    polls=0,
                    outcome=o,
                ),
            )
            views.append(self._manual(record, entry, session.now))
        return views

    def listing(
        self, key: ApiKey, session: Session, filters: Mapping[str, str]
    ) -> list[DeliveryView]:
        """The deliveries the key can see (matching the filters), newest first; those that
        succeeded have their package in the store."""
        entries = {entry.id: entry for entry in self._orders.catalogs(key, session)}
        views = [v for entry in entries.values() if (v := self.automatic(entry)) is not None]
        for record in self.records.listing(session.namespace):
            entry = entries.get(record.catalog_id)
            if entry is None:
                continue
            if session.polls_mode and not self._manual(record, entry, session.now).is_done:
                record = self.records.poll(session.namespace, record.id) or record
            views.append(self._manual(record, entry, session.now))
        wanted = [
            v
            for v in views
            if filters.get("delivery_id", v.id) == v.id
            and filters.get("catalog_id", v.entry.id) == v.entry.id
            and filters.get("task_id", v.task_id) == v.task_id
            and filters.get("order_item_id", v.entry.spec.id) == v.entry.spec.id
        ]
        wanted.sort(key=lambda v: (v.created_at, v.id), reverse=True)
        for view in wanted:
            self.materialize(session.namespace, view)
        return wanted

    def resolve(
        self,
        key: ApiKey,
        session: Session,
        catalog_ids: Sequence[str] | None,
        order_item_ids: Sequence[str] | None,
        where: str = "",
    ) -> list[CatalogEntry]:
        """The entries named by catalog ids or by order items (one or the other), or a 400."""
        prefix = f"{where}." if where else ""
        if bool(catalog_ids) == bool(order_item_ids):
            raise InvalidInput(
                "invalid_selection",
                "Give either catalog_ids or order_item_ids, not both (and not neither).",
                {"parameter": f"{prefix}catalog_ids", "in": "body"},
            )
        entries = self._orders.catalogs(key, session)
        if catalog_ids:
            by_id = {e.id: e for e in entries}
            missing = [c for c in catalog_ids if c not in by_id]
            if missing:
                raise _unknown(f"{prefix}catalog_ids", "catalog", missing[0])
            return [by_id[c] for c in catalog_ids]
        chosen = []
        for item_id in order_item_ids or ():
            found = [e for e in entries if e.spec.id == item_id]
            if not found:
                raise _unknown(f"{prefix}order_item_ids", "order item with a catalog", item_id)
            chosen += found
        return chosen

    # -- derived states -----------------------------------------------------------------
    def automatic(self, entry: CatalogEntry) -> DeliveryView | None:
        """The automatic delivery of an entry whose item has `cloud_delivery`, as of the
        moment its order was read."""
        spec = entry.spec
        if not spec.store_id:
            return None
        status, since = delivery_status(entry.created_at, spec.delivery_outcome, entry.at)
        return DeliveryView(
            id=derived_uuid(entry.id, "automatic-delivery"),
            entry=entry,
            task_id=entry.task.id,
            store_id=spec.store_id,
            path=spec.delivery_path,
            status=status,
            created_at=entry.created_at,
            updated_at=since,
            created_by=entry.order.created_by,
        )

    def catalog_status(self, namespace: str, entry: CatalogEntry) -> str:
        """A catalog's `delivery_status`: its automatic delivery's, or UNSPECIFIED."""
        view = self.automatic(entry)
        if view is None:
            return "UNSPECIFIED"
        self.materialize(namespace, view)
        return view.status

    def task_status(self, spec: ItemSpec, task: TaskState, entries: Sequence[CatalogEntry]) -> str:
        """A task's `delivery_status`, in the task's own vocabulary (PENDING, SUCCESSFUL,
        FAILED, NOT_APPLICABLE)."""
        if not spec.store_id or task.status in ("EXPIRED", "CANCELLED"):
            return "NOT_APPLICABLE"
        statuses = [
            v.status for e in entries if e.task.id == task.plan.id and (v := self.automatic(e))
        ]
        if not statuses or any(s not in TERMINAL for s in statuses):
            return "PENDING"
        return "FAILED" if "FAILED" in statuses else "SUCCESSFUL"

    def _manual(self, record: DeliveryRecord, entry: CatalogEntry, now: float) -> DeliveryView:
        at = now
        if record.polls:  # polls mode: each counted read is one step
            at = max(
                now, record.created_at + (START_SECONDS, DELIVERY_SECONDS)[min(record.polls, 2) - 1]
            )
        status, since = delivery_status(record.created_at, record.outcome, at)
        return DeliveryView(
            id=record.id,
            entry=entry,
            task_id=None,
            store_id=record.store_id,
            path=record.path,
            status=status,
            created_at=record.created_at,
            updated_at=since,
            created_by=record.created_by,
        )

    def _in_use(self, session: Session, store: StoreRecord) -> bool:
        """An unfinished delivery goes to the store: a manual one, an automatic one, or
        one an item still to be fulfilled will make."""
        namespace, now = session.namespace, session.now
        for record in self.records.listing(namespace):
            if (
                record.store_id == store.id
                and delivery_status(record.created_at, record.outcome, now)[0] not in TERMINAL
            ):
                return True
        for order in self._orders.records.listing(namespace):
            view = self._orders.view(order, now)
            for item in view.items:
                if item.spec.store_id != store.id:
                    continue
                if item.status in ("DRAFT", "ACTIVE"):
                    return True
            for entry in self._orders.entries_of(view):
                if (
                    entry.spec.store_id == store.id
                    and delivery_status(entry.created_at, entry.spec.delivery_outcome, view.at)[0]
                    not in TERMINAL
                ):
                    return True
        return False

    def entry_geotiff(self, session: Session, catalog_id: str) -> bytes:
        """The GeoTIFF of a catalog entry of the namespace (its `data` asset), or a 404."""
        entry = self._orders.entry(session, catalog_id)
        if entry is None:
            raise NotFound("not_found", "No catalog with this id exists.")
        return self._geotiff(entry)

    # -- the package in the store -------------------------------------------------------
    def location(self, namespace: str, view: DeliveryView) -> Path | None:
        """Where the package of a delivery is (or will be); None if its store is unknown."""
        store = self._stores.any(namespace, view.store_id)
        if store is None:
            return None
        parts = [store.path_prefix, view.path, view.target_path]
        relative = PurePosixPath(*[p for p in parts if p])
        if ".." in relative.parts:
            return None
        return self.namespace_folder(namespace) / store.bucket / relative

    def namespace_folder(self, namespace: str) -> Path:
        """The namespace's folder of the stores dir: named as the namespace, but for `.`
        and `..` (which a path reads as this folder and its parent), spelled as URLs
        escape them (no namespace holds a `%`)."""
        return self.stores_dir / _DOT_NAMES.get(namespace, namespace)

    def remove_packages(self, namespaces: Iterable[str]) -> None:
        """Delete the packages the namespaces' deliveries left (a reset forgets them)."""
        for namespace in namespaces:
            shutil.rmtree(self.namespace_folder(namespace), ignore_errors=True)

    def materialize(self, namespace: str, view: DeliveryView) -> None:
        """Write a succeeded delivery's package, once, atomically."""
        if view.status != "SUCCESS":
            return
        target = self.location(namespace, view)
        if target is None or target.exists():
            return
        write_atomically(target, self.package(view))

    def package(self, view: DeliveryView) -> bytes:
        entry = view.entry
        manifest = {
            "format": "pixxel-mock-package",
            "kind": "delivery",
            "delivery_id": view.id,
            "catalog_id": entry.id,
            "order_id": entry.order.id,
            "order_item_id": entry.spec.id,
            "task_id": entry.task.id,
            "item_id": entry.item_id,
            "collection": entry.collection,
            "datetime": rfc3339(entry.datetime),
            "bands": list(entry.band_names),
        }
        files = [entry_file(entry, self._geotiff(entry))]
        return packages.build_zip(manifest, files)


def entry_file(entry: CatalogEntry, content: bytes, folder: str = "") -> packages.PackageFile:
    return packages.PackageFile(
        path=f"{folder}{entry.item_id}.tif",
        format="raster",
        task=entry.task.type.lower(),
        name=entry.item_id,
        content=content,
    )


def write_atomically(target: Path, content: bytes) -> None:
    """Write to a temporary name beside the target, fsync, rename into place."""
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}.part")
    with open(temporary, "wb") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, target)


def _unknown(parameter: str, what: str, value: str) -> InvalidInput:
    return InvalidInput(
        "unknown_catalog",
        f"No {what} {value} is visible to the API key.",
        {"parameter": parameter, "in": "body", "id": value},
    )
