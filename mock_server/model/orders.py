"""Orders: archive and tasking order items, priced at placement, fulfilled on the clock.

The record is what placement fixed (each item's validated request, its price, the
archive items' facts, the outcome a scenario chose), stored as JSON; everything else is
a pure function of (record, time), as a job's is (lifecycle.py):

- the order is `UNPAID` until `payment_seconds` after placement, then `PAID` (tokens
  are taken: `tokens_used`, `transaction_id`, `paid_at`); `REFUND` if every item failed;
- an archive item has one task, `SUBMITTED` at payment, `IN_PROGRESS` a minute later,
  `FULFILLED` after `archive_seconds`: one catalog entry per bought STAC item;
- a tasking item has one task per occurrence of its capture window: `DRAFT` (a
  recurring task until 5 days before its window, as documented), `SUBMITTED`,
  `IN_PROGRESS` from the window's start, then `FULFILLED` a delivery time (36 h, 24 h
  EXPEDITED) after its capture, which is a seeded moment inside the window; a scenario
  makes it `PARTIALLY_FULFILLED` (cloudy), `EXPIRED` (no capture before the window
  closed) or the item infeasible (feasibility `FAILED`, tasks `CANCELLED`);
- an item is `DRAFT` until paid, `ACTIVE`, then `FULFILLED`, `PARTIALLY_FULFILLED` or
  `FAILED` from its tasks' ends.

Each fulfilled task adds catalog entries (`CatalogEntry`), derived as well; an item with
`cloud_delivery` gets one automatic delivery per entry (model/deliveries.py).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import shapely
from pyproj import Geod
from shapely.ops import nearest_points

from pixxel_mock.server.model.archive import Band, Satellite, _geometry_shape, _interval
from pixxel_mock.server.model.catalog import (
    ApiKey,
    FixtureError,
    Project,
    closed_fixture_problem,
)
from pixxel_mock.server.model.errors import AccessDenied, InvalidInput, NotFound
from pixxel_mock.server.model.ids import derived_uuid, unit_interval
from pixxel_mock.server.model.indices import workspace_of
from pixxel_mock.server.model.sessions import Session
from pixxel_mock.server.model.timefmt import parse_rfc3339, rfc3339
from pixxel_mock.server.spec.yamlio import read_yaml_cached
from pixxel_mock.server.state.cache import BoundedCache
from pixxel_mock.server.state.records import JobTable, RecordKind
from pixxel_mock.server.state.store import Store

DAY = 86_400.0
HOUR = 3_600.0
OUTCOMES = ("success", "weak_feasibility", "infeasible", "cloudy", "expired")
PERIOD_DAYS = {"MONTHLY": 30, "BIMONTHLY": 60, "QUARTERLY": 90}
RECURRING_WINDOW = 7 * DAY  # each occurrence of a recurring item
MAX_WINDOW = 365 * DAY
MAX_GAP_KM = 200.0
NO_ORDER = "No order with this id is visible to the API key."
NO_ITEM = "The API key does not have access to this order item, or it does not exist."
NO_PROJECT = "The API key does not have access to this project, or it does not exist."
_GEOD = Geod(ellps="WGS84")
BANDSETS_FILE, PRICING_FILE = "bandsets.yaml", "pricing.yaml"


# -- fixtures ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Bandset:
    id: str
    name: str
    description: str
    captures: int
    satellite_id: str
    bands: tuple[tuple[str, float], ...]  # (name, wavelength in nm)


@dataclass(frozen=True)
class Pricing:
    minimum_area_km2: float
    archive_per_km2: float
    tasking_per_km2: float
    delivery_speed_uplifts: Mapping[str, int]
    capture_timeline_uplifts: Mapping[str, int]


@dataclass(frozen=True)
class OrderFixtures:
    bandsets: dict[str, Bandset]
    pricing: Pricing


def load_order_fixtures(directory: Path, satellites: Mapping[str, Satellite]) -> OrderFixtures:
    """Read bandsets.yaml and pricing.yaml (closed); a bandset's bands must be its
    satellite's, so that its captures can be written as GeoTIFFs."""
    documents = {}
    for name in (BANDSETS_FILE, PRICING_FILE):
        path = Path(directory) / name
        if not path.exists():
            raise FixtureError(f"missing fixture file {path}")
        documents[name] = raw = read_yaml_cached(path)
        problem = closed_fixture_problem(name, raw)
        if problem:
            raise FixtureError(f"{path}: {problem}")
    bandsets = {}
    for raw in documents[BANDSETS_FILE]["bandsets"]:
        satellite = satellites.get(str(raw["satellite_id"]))
        if satellite is None:
            raise FixtureError(f"{BANDSETS_FILE}: bandset {raw['name']}: unknown satellite")
        unknown = {b["name"] for b in raw["bands"]} - set(satellite.band_names)
        if unknown:
            raise FixtureError(f"{BANDSETS_FILE}: bandset {raw['name']}: bands {sorted(unknown)}")
        bandset = Bandset(
            id=str(raw["id"]),
            name=raw["name"],
            description=raw["description"],
            captures=int(raw["captures"]),
            satellite_id=satellite.id,
            bands=tuple((b["name"], float(b["wavelength"])) for b in raw["bands"]),
        )
        bandsets[bandset.id] = bandset
    pricing = documents[PRICING_FILE]
    return OrderFixtures(
        bandsets=bandsets,
        pricing=Pricing(
            minimum_area_km2=float(pricing["minimum_area_km2"]),
            archive_per_km2=float(pricing["archive_per_km2"]),
            tasking_per_km2=float(pricing["tasking_per_km2"]),
            delivery_speed_uplifts=dict(pricing["delivery_speed_uplifts"]),
            capture_timeline_uplifts=dict(pricing["capture_timeline_uplifts"]),
        ),
    )


# -- the record -------------------------------------------------------------------------


@dataclass(frozen=True)
class OrderRecord:
    namespace: str
    id: str
    seq: int
    org_id: str
    created_by: str
    created_at: float
    polls: int
    items: str  # JSON: the ItemSpec of each item, in order


ORDERS = RecordKind.of_dataclass("orders", OrderRecord)


@dataclass(frozen=True)
class ItemSpec:
    """One order item as placement fixed it: the validated request, the price, the
    archive items' facts (so the item reads the same whatever the archive holds later)."""

    id: str
    project_id: str
    name: str
    usecase: str
    type: str  # ARCHIVE | TASKING | RECURRING
    polygons: list[Any]  # GeoJSON Polygon / MultiPolygon geometries, lon/lat
    area_km2: float
    archive_items: list[dict[str, Any]]
    bandset_id: str
    recurrence: str
    occurrences: list[tuple[float, float]]  # capture windows [start, end)
    no_of_occurrences: int
    cloud_cover: int
    off_nadir: int
    delivery_speed: str
    store_id: str  # "" = no automatic delivery
    delivery_path: str
    delivery_outcome: str  # success | failed, of its automatic deliveries
    outcome: str  # one of OUTCOMES
    base_amount: float
    uplifts: list[dict[str, Any]]
    final_amount: float

    @property
    def is_archive(self) -> bool:
        return self.type == "ARCHIVE"


def specs_of(record: OrderRecord) -> tuple[ItemSpec, ...]:
    # the standard library's reader: orjson would read an integer past 64 bits as a float
    return tuple(ItemSpec(**item) for item in json.loads(record.items))


def specs_json(specs: Sequence[ItemSpec]) -> str:
    """The items as the record keeps them: orjson, the standard library for what orjson
    refuses (an integer past 64 bits)."""
    items = [spec.__dict__ for spec in specs]
    try:
        return orjson.dumps(items).decode()
    except orjson.JSONEncodeError:
        return json.dumps(items, separators=(",", ":"))


# -- the plan ---------------------------------------------------------------------------


@dataclass(frozen=True)
class OrderSettings:
    """How long things take, in simulated seconds."""

    payment_seconds: float = 30.0
    archive_start_seconds: float = 60.0
    archive_seconds: float = HOUR
    draft_lead_seconds: float = 5 * DAY  # recurring tasks leave DRAFT this long before
    delivery_hours: Mapping[str, float] = field(
        default_factory=lambda: {"STANDARD": 36.0, "EXPEDITED": 24.0, "NOT_APPLICABLE": 36.0}
    )


@dataclass(frozen=True)
class TaskPlan:
    id: str
    item_id: str
    index: int
    type: str  # ARCHIVE | TASKING
    window: tuple[float, float] | None
    submitted_at: float
    started_at: float
    ended_at: float
    final_status: str  # FULFILLED | PARTIALLY_FULFILLED | EXPIRED | CANCELLED
    captured_at: float | None
    tokens: int

    def status(self, at: float, paid_at: float) -> str:
        if at < paid_at or at < self.submitted_at:
            return "DRAFT"
        if at < self.started_at:
            return "SUBMITTED"
        if at < self.ended_at:
            return "IN_PROGRESS"
        return self.final_status

    @property
    def delivers(self) -> bool:
        return self.final_status in ("FULFILLED", "PARTIALLY_FULFILLED")


@dataclass(frozen=True)
class OrderPlan:
    paid_at: float
    tasks: Mapping[str, tuple[TaskPlan, ...]]  # item id -> its tasks
    events: tuple[float, ...]

    def step_time(self, steps: int) -> float:
        """The moment reached after `steps` lifecycle steps (polls mode)."""
        if steps <= 0 or not self.events:
            return -math.inf
        return self.events[min(steps, len(self.events)) - 1]


def plan_order(
    record: OrderRecord,
    specs: Sequence[ItemSpec],
    settings: OrderSettings,
    extra: Callable[[TaskPlan], Sequence[float]],
) -> OrderPlan:
    """Fix when each task moves. Pure and deterministic for the record; `extra(task)`
    gives the later moments a task's deliveries add (their steps in polls mode)."""
    paid_at = record.created_at + settings.payment_seconds
    tasks: dict[str, tuple[TaskPlan, ...]] = {}
    for spec in specs:
        tasks[spec.id] = tuple(_task_plans(spec, paid_at, settings))
    events = {paid_at}
    for plans in tasks.values():
        for task in plans:
            events |= {task.submitted_at, task.started_at, task.ended_at, *extra(task)}
    return OrderPlan(paid_at, tasks, tuple(sorted(e for e in events if e >= record.created_at)))


def _task_plans(spec: ItemSpec, paid_at: float, settings: OrderSettings) -> list[TaskPlan]:
    """An archive item's one task, or a tasking item's task per capture window."""
    tokens = math.ceil(spec.final_amount)
    if spec.is_archive:
        started = paid_at + settings.archive_start_seconds
        moves = [(None, paid_at, started, paid_at + settings.archive_seconds, "FULFILLED", None)]
    else:
        moves = [_capture_moves(spec, window, paid_at, settings) for window in spec.occurrences]
    count = len(moves)
    return [
        TaskPlan(
            derived_uuid(spec.id, "task", index),
            spec.id,
            index,
            "ARCHIVE" if spec.is_archive else "TASKING",
            window,
            submitted,
            started,
            ended,
            final,
            captured,
            tokens // count + (1 if index < tokens % count else 0),  # tokens per task
        )
        for index, (window, submitted, started, ended, final, captured) in enumerate(moves)
    ]


Moves = tuple[tuple[float, float] | None, float, float, float, str, float | None]


def _capture_moves(
    spec: ItemSpec, window: tuple[float, float], paid_at: float, settings: OrderSettings
) -> Moves:
    """(window, submitted, started, ended, final status, captured) of one capture task."""
    start, end = window
    if spec.outcome == "infeasible":
        return window, paid_at, paid_at, paid_at, "CANCELLED", None
    submitted = paid_at  # a recurring item's later tasks wait for their lead time
    if spec.type == "RECURRING":
        submitted = max(paid_at, start - settings.draft_lead_seconds)
    started = max(start, submitted)
    if spec.outcome == "expired":
        return window, submitted, started, max(end, started), "EXPIRED", None
    jitter = unit_interval(spec.id, start, "capture")
    captured = max(start + (end - start) * (0.2 + 0.6 * jitter), started)
    final = "PARTIALLY_FULFILLED" if spec.outcome == "cloudy" else "FULFILLED"
    delivery = settings.delivery_hours.get(spec.delivery_speed, 36.0) * HOUR
    return window, submitted, started, captured + delivery, final, captured


# -- states at a moment -----------------------------------------------------------------


@dataclass(frozen=True)
class TaskState:
    plan: TaskPlan
    status: str
    updated_at: float


@dataclass(frozen=True)
class ItemState:
    spec: ItemSpec
    status: str
    payment_status: str
    feasibility_status: str
    last_feasibility_check: float | None
    tokens_used: int
    transaction_id: str
    tasks: tuple[TaskState, ...]
    updated_at: float


def item_state(
    spec: ItemSpec, tasks: Sequence[TaskPlan], created_at: float, paid_at: float, at: float
) -> ItemState:
    """The item read at `at`."""
    states = []
    for task in tasks:
        status = task.status(at, paid_at)
        moments = [created_at, paid_at, task.submitted_at, task.started_at, task.ended_at]
        updated = max(m for m in moments if m <= at) if at >= created_at else created_at
        states.append(TaskState(task, status, updated))
    paid = at >= paid_at
    finals = [s.status for s in states]
    if not paid:
        status = "DRAFT"
    elif spec.outcome == "infeasible":
        status = "FAILED"
    elif all(s in ("FULFILLED", "PARTIALLY_FULFILLED", "EXPIRED", "CANCELLED") for s in finals):
        if all(s == "FULFILLED" for s in finals):
            status = "FULFILLED"
        elif all(s in ("EXPIRED", "CANCELLED") for s in finals):
            status = "FAILED"
        else:
            status = "PARTIALLY_FULFILLED"
    else:
        status = "ACTIVE"
    payment = "UNPAID" if not paid else ("REFUND" if status == "FAILED" else "PAID")
    charged = [s for s in states if s.status != "DRAFT"] if paid else []
    tokens = sum(s.plan.tokens for s in charged) if status != "FAILED" else 0
    feasibility, checked = _feasibility(spec, tasks, created_at, at)
    return ItemState(
        spec=spec,
        status=status,
        payment_status=payment,
        feasibility_status=feasibility,
        last_feasibility_check=checked,
        tokens_used=tokens,
        transaction_id=derived_uuid(spec.id, "transaction") if paid else "",
        tasks=tuple(states),
        updated_at=max([created_at, *(s.updated_at for s in states)]),
    )


def _feasibility(
    spec: ItemSpec, tasks: Sequence[TaskPlan], created_at: float, at: float
) -> tuple[str, float | None]:
    """Checked at placement, then once a day until the first window opens."""
    if spec.is_archive:
        return "NOT_APPLICABLE", None
    first = tasks[0].window[0] if tasks and tasks[0].window else created_at
    last = min(max(at, created_at), max(first, created_at))
    checks = int((last - created_at) // DAY)
    checked = created_at + checks * DAY
    rechecked = checks >= 1
    status = {
        "success": "SUCCESS",
        "cloudy": "SUCCESS",
        "infeasible": "FAILED",
        "weak_feasibility": "SUCCESS" if rechecked else "WEAK_SUCCESS",
        "expired": "WEAK_SUCCESS" if rechecked else "SUCCESS",
    }[spec.outcome]
    return status, checked


@dataclass(frozen=True)
class OrderView:
    record: OrderRecord
    plan: OrderPlan
    items: tuple[ItemState, ...]
    at: float  # the moment read (polls mode may be ahead of the clock)
    dry_run: bool = False

    @property
    def status(self) -> str:
        if self.at < self.plan.paid_at:
            return "UNPAID"
        if self.items and all(i.payment_status == "REFUND" for i in self.items):
            return "REFUND"
        return "PAID"

    @property
    def total_amount(self) -> float:
        return round(sum(i.spec.final_amount for i in self.items), 2)

    @property
    def updated_at(self) -> float:
        return max([self.record.created_at, *(i.updated_at for i in self.items)])


# -- catalog entries ----------------------------------------------------------------------


@dataclass(frozen=True)
class CatalogEntry:
    """One delivered image: a bought archive item or a tasked capture, with the facts its
    STAC item shows (model/deliveries.py and the HTTP layer render it)."""

    id: str
    order: OrderRecord
    spec: ItemSpec
    task: TaskPlan
    item_id: str
    collection: str
    satellite_id: str
    geometry: dict[str, Any]  # Polygon
    bbox: tuple[float, float, float, float]
    datetime: float
    created_at: float
    properties: dict[str, Any]
    band_names: tuple[str, ...]
    raster_seed: int
    from_archive: bool
    at: float  # the moment its order was read at


def catalog_entries(
    view: OrderView, satellites: Mapping[str, Satellite], bandsets: Mapping[str, Bandset]
) -> list[CatalogEntry]:
    """The catalog entries the order has produced by its moment: each fulfilled task's."""
    entries = []
    for item in view.items:
        for task in item.tasks:
            if not task.plan.delivers or task.status != task.plan.final_status:
                continue
            if item.spec.is_archive:
                entries += [
                    _archive_entry(view.record, item.spec, task.plan, facts, view.at)
                    for facts in item.spec.archive_items
                ]
            else:
                bandset = bandsets[item.spec.bandset_id]
                satellite = satellites[bandset.satellite_id]
                entries.append(
                    _capture_entry(view.record, item.spec, task.plan, satellite, bandset, view.at)
                )
    return entries


@functools.lru_cache(maxsize=4096)  # pure; every catalog read makes every entry anew
def _archive_entry_id(task_id: str, item_id: str) -> str:
    return derived_uuid(task_id, "catalog", item_id)


_instant = functools.lru_cache(maxsize=4096)(parse_rfc3339)  # the same items' times recur


def _archive_entry(
    order: OrderRecord, spec: ItemSpec, task: TaskPlan, facts: Mapping[str, Any], at: float
) -> CatalogEntry:
    props = dict(facts["properties"])
    return CatalogEntry(
        id=_archive_entry_id(task.id, facts["id"]),
        order=order,
        spec=spec,
        task=task,
        item_id=facts["id"],
        collection=facts["collection"],
        satellite_id=facts["satellite_id"],
        geometry=facts["geometry"],
        bbox=tuple(facts["bbox"]),  # type: ignore[arg-type]
        datetime=_instant(facts["datetime"]),
        created_at=task.ended_at,
        properties=props,
        band_names=tuple(facts["band_names"]),
        raster_seed=0,
        from_archive=True,
        at=at,
    )


def _capture_entry(
    order: OrderRecord,
    spec: ItemSpec,
    task: TaskPlan,
    satellite: Satellite,
    bandset: Bandset,
    at: float,
) -> CatalogEntry:
    union = shapely.union_all([shapely.geometry.shape(p) for p in spec.polygons])
    west, south, east, north = (round(v, 6) for v in union.bounds)
    captured = task.captured_at or task.ended_at
    day = rfc3339(captured)[:10].replace("-", "")
    delivered = rfc3339(task.ended_at)[:10].replace("-", "")
    item_id = f"{satellite.code}_{order.seq:06d}_{day}_L2A_{delivered}_{task.index + 1:02d}001001"
    u = unit_interval(task.id, "scene")
    cloud = (
        round(min(100.0, spec.cloud_cover + 10 + 30 * u), 2)
        if spec.outcome == "cloudy"
        else round(spec.cloud_cover * u, 2)
    )
    width, height = 32, 32
    properties = {
        "platform": satellite.code,
        "constellation": satellite.constellation,
        "instruments": list(satellite.instruments),
        "gsd": satellite.gsd,
        "eo:cloud_cover": cloud,
        "proj:code": "EPSG:4326",
        "proj:shape": [height, width],
        "proj:transform": [(east - west) / width, 0.0, west, 0.0, -(north - south) / height, north],
        "view:off_nadir": round(spec.off_nadir * unit_interval(task.id, "nadir"), 2),
        "view:sun_azimuth": round(120 + 40 * u, 2),
        "view:sun_elevation": round(45 + 20 * u, 2),
    }
    return CatalogEntry(
        id=derived_uuid(task.id, "catalog", item_id),
        order=order,
        spec=spec,
        task=task,
        item_id=item_id,
        collection=satellite.collections[0] if satellite.collections else "pixxel-td-l2a",
        satellite_id=satellite.id,
        geometry=shapely.box(west, south, east, north).__geo_interface__,
        bbox=(west, south, east, north),
        datetime=captured,
        created_at=task.ended_at,
        properties=properties,
        band_names=tuple(name for name, _ in bandset.bands),
        raster_seed=int(unit_interval(task.id, "raster") * 2**31),
        from_archive=False,
        at=at,
    )


# -- placing an order -------------------------------------------------------------------


@dataclass(frozen=True)
class ArchiveFacts:
    """What an order reads of an archive item (model/archive.py's ArchiveItem)."""

    id: str
    collection: str
    geometry: dict[str, Any]
    bbox: tuple[float, float, float, float]
    datetime: str
    band_names: tuple[str, ...]
    satellite_id: str
    properties: dict[str, Any]


ItemsLookup = Callable[[list[str]], Sequence[Any]]  # Archive.items
StoreCheck = Callable[[ApiKey, Session, str, str], str]  # a usable store's name, or a 400


def _field(index: int, name: str) -> str:
    return f"order_items[{index}].{name}"


def _invalid(parameter: str, message: str, code: str = "invalid_order_item") -> InvalidInput:
    """A refusal of the domain (a window, a bandset, a mix of kinds), not of the schema."""
    return InvalidInput(code, message, {"parameter": parameter, "in": "body"})


class Orders:
    """The orders of every namespace, their items and tasks, and the catalog they fill."""

    def __init__(
        self,
        store: Store,
        fixtures: OrderFixtures,
        items: ItemsLookup,
        satellites: Mapping[str, Satellite],
        projects: Mapping[str, Project],
        seed: int,
        settings: OrderSettings | None = None,
    ) -> None:
        self.records = store.register(JobTable(store.database, ORDERS, store.namespaces))
        self.fixtures = fixtures
        self.satellites = satellites
        self.settings = settings or OrderSettings()
        self._items = items
        self._projects = projects
        self._seed = seed
        self._plans: BoundedCache[
            tuple[str, str, float], tuple[tuple[ItemSpec, ...], OrderPlan]
        ] = BoundedCache(1024)
        self._geometries: BoundedCache[str, tuple[Any, float]] = BoundedCache(256)
        self.delivery_moments: Callable[[TaskPlan, ItemSpec], Sequence[float]] = lambda t, s: ()
        self.store_check: StoreCheck = lambda key, session, store_id, parameter: store_id

    @property
    def bandsets(self) -> list[Bandset]:
        return list(self.fixtures.bandsets.values())

    # -- use cases ----------------------------------------------------------------------
    def submit(
        self, key: ApiKey, session: Session, items: Sequence[Mapping[str, Any]], dry_run: bool
    ) -> OrderView:
        """Validate and price every item; store the order unless `dry_run`."""
        now, namespace = session.now, session.namespace
        for index, raw in enumerate(items):
            if str(raw["project_id"]).lower() not in key.project_ids:
                raise AccessDenied(
                    "forbidden",
                    NO_PROJECT,
                    {"parameter": _field(index, "project_id"), "in": "body"},
                )
        org_id = workspace_of(key, self._projects)
        # checked and priced before the write lock is taken; named once the order has an id
        checked = [self._spec(key, session, "", index, raw) for index, raw in enumerate(items)]

        def record_of(order_id: str, seq: int) -> OrderRecord:
            specs = [
                dataclasses.replace(spec, id=derived_uuid(order_id, "item", index))
                for index, spec in enumerate(checked)
            ]
            return OrderRecord(
                namespace=namespace,
                id=order_id,
                seq=seq,
                org_id=org_id,
                created_by=key.service_account_id,
                created_at=now,
                polls=0,
                items=specs_json(specs),
            )

        if dry_run:  # fresh ids, never stored
            marker = unit_interval(self._seed, namespace, now, specs_json(checked))
            return self.view(record_of(derived_uuid("dry-run", marker), 0), now, dry_run=True)
        build = lambda seq: record_of(derived_uuid(self._seed, namespace, "order", seq), seq)  # noqa: E731
        return self.view(self.records.insert(namespace, build), now)

    def listing(self, key: ApiKey, session: Session) -> list[OrderView]:
        """The orders the key can see, newest first."""
        return [
            self.view(record, session.now)
            for record in self.records.listing(session.namespace)
            if self.visible(key, record)
        ]

    def get(self, key: ApiKey, session: Session, order_id: str, poll: bool = False) -> OrderView:
        record = self.records.get(session.namespace, order_id)
        if record is None or not self.visible(key, record):
            raise NotFound("not_found", NO_ORDER)
        if poll and session.polls_mode:
            record = self.records.poll(session.namespace, order_id) or record
        return self.view(record, session.now)

    def item(
        self, key: ApiKey, session: Session, item_id: str, poll: bool = False
    ) -> tuple[OrderView, ItemState]:
        """An item the key can see, and its order; unknown and foreign answer 403 alike."""
        for record in self.records.listing(session.namespace):
            if not self.visible(key, record):
                continue
            if any(spec.id == item_id for spec in self._specs(record)):
                if poll and session.polls_mode:
                    record = self.records.poll(session.namespace, record.id) or record
                view = self.view(record, session.now)
                return view, next(i for i in view.items if i.spec.id == item_id)
        raise AccessDenied("forbidden", NO_ITEM)

    def of_namespace(self, session: Session) -> list[OrderView]:
        """Every order of the session's namespace, newest first (the control plane's view)."""
        return [self.view(r, session.now) for r in self.records.listing(session.namespace)]

    def entry(self, session: Session, catalog_id: str) -> CatalogEntry | None:
        """A catalog entry of the namespace, whoever's it is (its file's capability URL)."""
        for view in self.of_namespace(session):
            for entry in self.entries_of(view):
                if entry.id == catalog_id:
                    return entry
        return None

    def visible(self, key: ApiKey, record: OrderRecord) -> bool:
        return all(spec.project_id in key.project_ids for spec in self._specs(record))

    def catalogs(self, key: ApiKey, session: Session) -> list[CatalogEntry]:
        """Every catalog entry the key can see, newest first."""
        entries = []
        for view in self.listing(key, session):
            entries += self.entries_of(view)
        entries.sort(key=lambda e: (e.created_at, e.id), reverse=True)
        return entries

    def entries_of(self, view: OrderView) -> list[CatalogEntry]:
        return catalog_entries(view, self.satellites, self.fixtures.bandsets)

    # -- reading ------------------------------------------------------------------------
    def _specs(self, record: OrderRecord) -> tuple[ItemSpec, ...]:
        return self._planned(record)[0]

    def _planned(self, record: OrderRecord) -> tuple[tuple[ItemSpec, ...], OrderPlan]:
        def make() -> tuple[tuple[ItemSpec, ...], OrderPlan]:
            specs = specs_of(record)
            by_item = {s.id: s for s in specs}
            plan = plan_order(
                record,
                specs,
                self.settings,
                lambda task: self.delivery_moments(task, by_item[task.item_id]),
            )
            return specs, plan

        return self._plans.get_or_make(
            (record.namespace, record.id, record.created_at, record.items), make
        )

    def view(self, record: OrderRecord, now: float, dry_run: bool = False) -> OrderView:
        if dry_run:
            specs = specs_of(record)
            plan = plan_order(record, specs, self.settings, lambda task: ())
        else:
            specs, plan = self._planned(record)
        at = max(now, plan.step_time(record.polls))
        items = tuple(
            item_state(spec, plan.tasks[spec.id], record.created_at, plan.paid_at, at)
            for spec in specs
        )
        return OrderView(record, plan, items, at, dry_run)

    # -- validation and pricing ---------------------------------------------------------
    def _spec(
        self, key: ApiKey, session: Session, order_id: str, index: int, raw: Mapping[str, Any]
    ) -> ItemSpec:
        now = session.now
        polygons, area = self._geometry(index, raw["geometry"])
        item_ids, bandset_ref = raw.get("item_ids"), raw.get("bandset")
        if item_ids and bandset_ref:
            raise _invalid(
                _field(index, "bandset"),
                "An order item is either archive (item_ids) or tasking (bandset), not both.",
            )
        if not item_ids and not bandset_ref:
            raise _invalid(
                _field(index, "bandset"),
                "A tasking order item needs a bandset; an archive order item needs item_ids.",
            )
        store_id, path, delivery = "", "", "success"
        if raw.get("cloud_delivery"):
            store_id = str(raw["cloud_delivery"]["config"]).lower()
            path = str(raw["cloud_delivery"].get("path", ""))
            name = self.store_check(key, session, store_id, _field(index, "cloud_delivery.config"))
            delivery = session.scenario.delivery_outcome(name)
        common = {
            "id": derived_uuid(order_id, "item", index),
            "project_id": str(raw["project_id"]).lower(),
            "name": raw.get("name") or f"Order item {index + 1}",
            "usecase": raw["usecase"],
            "polygons": polygons,
            "area_km2": area,
            "store_id": store_id,
            "delivery_path": path,
            "delivery_outcome": delivery,
            "cloud_cover": int(raw.get("cloud_cover", 20)),
            "off_nadir": int(raw.get("off_nadir", 20)),
        }
        billed = max(math.ceil(area), self.fixtures.pricing.minimum_area_km2)
        if item_ids:
            facts = self._archive_facts(index, list(item_ids))
            base = round(billed * self.fixtures.pricing.archive_per_km2 * len(facts), 2)
            return ItemSpec(
                **common,
                type="ARCHIVE",
                archive_items=facts,
                bandset_id="",
                recurrence="NOT_APPLICABLE",
                occurrences=[],
                no_of_occurrences=0,
                delivery_speed="NOT_APPLICABLE",
                outcome="success",
                base_amount=base,
                uplifts=[],
                final_amount=base,
            )
        bandset = self.fixtures.bandsets.get(str(bandset_ref["bandset_id"]).lower())
        if bandset is None:
            raise _invalid(
                _field(index, "bandset.bandset_id"),
                "No bandset with this id exists (see List Bandsets).",
                "unknown_bandset",
            )
        recurrence = raw.get("recurrence")
        if recurrence is None or recurrence == "NOT_APPLICABLE":
            raise _invalid(
                _field(index, "recurrence"),
                "A tasking order item needs a recurrence: ONCE, MONTHLY, BIMONTHLY or QUARTERLY.",
            )
        occurrences = _occurrences(index, raw, recurrence, now)
        speed = raw.get("delivery_speed", "STANDARD")
        if speed == "NOT_APPLICABLE":
            raise _invalid(
                _field(index, "delivery_speed"),
                "A tasking order item is delivered STANDARD or EXPEDITED.",
            )
        base = round(
            billed * self.fixtures.pricing.tasking_per_km2 * bandset.captures * len(occurrences), 2
        )
        uplifts = self._uplifts(base, speed, occurrences[0], now)
        return ItemSpec(
            **common,
            type="TASKING" if recurrence == "ONCE" else "RECURRING",
            archive_items=[],
            bandset_id=bandset.id,
            recurrence=recurrence,
            occurrences=occurrences,
            no_of_occurrences=len(occurrences),
            delivery_speed=speed,
            outcome=session.scenario.order_outcome(common["project_id"], common["name"]),
            base_amount=base,
            uplifts=uplifts,
            final_amount=round(base + sum(u["amount"] for u in uplifts), 2),
        )

    def _uplifts(
        self, base: float, speed: str, window: tuple[float, float], now: float
    ) -> list[dict[str, Any]]:
        pricing = self.fixtures.pricing
        uplifts = []
        speed_pct = int(pricing.delivery_speed_uplifts.get(speed, 0))
        if speed_pct:
            uplifts.append(
                _uplift("Delivery speed", f"{speed}: delivered 24 h after capture", speed_pct, base)
            )
        timeline, subtitle = _timeline(window, now)
        timeline_pct = int(pricing.capture_timeline_uplifts[timeline])
        if timeline_pct:
            uplifts.append(_uplift("Capture timeline", subtitle, timeline_pct, base))
        return uplifts

    def _geometry(self, index: int, geometry: Mapping[str, Any]) -> tuple[list[Any], float]:
        """The checked polygons and their area, km²: memoized by the geometry's text, as a
        client orders over the same fields again and again (the checks cost most of an
        order's placement); a refused geometry is refused again the same way."""
        text = json.dumps(geometry, sort_keys=True, separators=(",", ":"))
        polygons, area = self._geometries.get_or_make(
            text, lambda: self._checked_geometry(geometry)
        )
        if isinstance(polygons, InvalidInput):  # the field names its item: renamed
            details = {
                **polygons.details,
                "parameter": polygons.details["parameter"].replace(
                    "order_items[0]", f"order_items[{index}]"
                ),
            }
            raise InvalidInput("invalid_geometry", polygons.message, details)
        return polygons, area  # read only: stored as JSON with the item

    def _checked_geometry(self, geometry: Mapping[str, Any]) -> tuple[Any, float]:
        try:
            polygons = self._polygons(0, geometry)
        except InvalidInput as exc:
            return exc, 0.0
        return polygons, _area_km2(polygons)

    def _polygons(self, index: int, geometry: Mapping[str, Any]) -> list[Any]:
        polygons, shapes = [], []
        for number, feature in enumerate(geometry["features"]):
            parameter = _field(index, f"geometry.features[{number}].geometry")
            shapes.append(_geometry_shape(dict(feature["geometry"]), parameter))
            polygons.append(feature["geometry"])
        for first in range(len(shapes)):
            for second in range(first + 1, len(shapes)):
                a, b = nearest_points(shapes[first], shapes[second])
                _, _, metres = _GEOD.inv(a.x, a.y, b.x, b.y)
                if metres / 1000 > MAX_GAP_KM:
                    raise _invalid(
                        _field(index, "geometry"),
                        f"The polygons of an order item must be at most {MAX_GAP_KM:.0f} km apart.",
                    )
        return polygons

    def _archive_facts(self, index: int, item_ids: list[str]) -> list[dict[str, Any]]:
        found = {item.id: item for item in self._items(item_ids)}
        facts = []
        for item_id in dict.fromkeys(item_ids):
            item = found.get(item_id)
            if item is None:
                raise InvalidInput(
                    "invalid_item",
                    f"Item {item_id!r} is not an item of the archive.",
                    {"parameter": _field(index, "item_ids"), "in": "body", "item_id": item_id},
                )
            facts.append(
                {
                    "id": item.id,
                    "collection": item.collection,
                    "geometry": item.geometry,
                    "bbox": list(item.bbox),
                    "datetime": item.datetime,
                    "band_names": list(item.band_names),
                    "satellite_id": item.satellite_id,
                    "properties": dict(item.properties),
                }
            )
        return facts


def _uplift(title: str, subtitle: str, percentage: int, base: float) -> dict[str, Any]:
    return {
        "title": title,
        "subtitle": subtitle,
        "percentage": percentage,
        "amount": round(base * percentage / 100),
    }


def _timeline(window: tuple[float, float], now: float) -> tuple[str, str]:
    """The documented capture-timeline classes, from the window's length and notice."""
    days = (window[1] - window[0]) / DAY
    notice = (window[0] - now) / DAY
    if days <= 1 and notice >= 7:
        return "assured", "Assured: one specific day, booked 7 days ahead or more"
    if days <= 2:
        return "critical", "Critical: a capture window of 2 days or less"
    if days <= 6:
        return "expedited", "Expedited: a capture window of 6 days or less"
    return "flexible", "Flexible: a capture window of 7 days or more"


def _occurrences(
    index: int, raw: Mapping[str, Any], recurrence: str, now: float
) -> list[tuple[float, float]]:
    """The capture windows: one [start, end) for ONCE; for a recurring item, a 7-day window
    every period from start, `no_of_occurrences` of them or those starting before end."""
    if raw.get("start_date") is None:
        raise _invalid(_field(index, "start_date"), "A tasking order item needs a start_date.")
    start = parse_rfc3339(raw["start_date"])
    if start < now + DAY:
        raise _invalid(
            _field(index, "start_date"),
            "start_date must be at least 24 hours after the order is placed.",
        )
    end = parse_rfc3339(raw["end_date"]) if raw.get("end_date") is not None else None
    count = raw.get("no_of_occurrences")
    if recurrence == "ONCE":
        if end is None:
            raise _invalid(_field(index, "end_date"), "A tasking order item needs an end_date.")
        if end <= start:
            raise _invalid(_field(index, "end_date"), "end_date must be after start_date.")
        if end - start > MAX_WINDOW:
            raise _invalid(_field(index, "end_date"), "A capture window may last 365 days at most.")
        return [(start, end)]
    if (end is None) == (count is None):
        raise _invalid(
            _field(index, "no_of_occurrences"),
            "A recurring order item gives either no_of_occurrences or end_date.",
        )
    period = PERIOD_DAYS[recurrence] * DAY
    if end is not None:
        if end <= start:
            raise _invalid(_field(index, "end_date"), "end_date must be after start_date.")
        if end - start > 2 * MAX_WINDOW:
            raise _invalid(
                _field(index, "end_date"), "A recurring order may last two years at most."
            )
        count = max(1, math.ceil((end - start) / period))
    return [(start + k * period, start + k * period + RECURRING_WINDOW) for k in range(int(count))]


def _area_km2(polygons: Sequence[Any]) -> float:
    union = shapely.union_all([shapely.geometry.shape(p) for p in polygons])
    area, _ = _GEOD.geometry_area_perimeter(union)
    return round(abs(area) / 1e6, 3)


def interval(text: str, parameter: str) -> tuple[float | None, float | None]:
    """An RFC 3339 interval `start/end` (as the archive's `datetime`), naming `parameter`."""
    try:
        return _interval(text)
    except InvalidInput as exc:
        raise InvalidInput(
            exc.code,
            exc.message.replace("datetime", parameter),
            {"parameter": parameter, "in": "query"},
        ) from exc


def band_facts(satellite: Satellite, names: Sequence[str]) -> list[Band]:
    by_name = {band.name: band for band in satellite.bands}
    return [by_name[name] for name in names if name in by_name]
