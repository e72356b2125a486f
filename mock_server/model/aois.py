"""AOIs: a polygon and archive items, processed on the mock's clock into assets (one
`stac_item` asset per item, then a `mosaic`).

The record is what creation fixed, the items' facts included (so an AOI reads the
same whatever the archive holds later); its status, progress and assets are a pure
function of (record, time), as a job's are (lifecycle.py). The plan:

- `started` for `start_seconds`, then `running`: each item's asset is made in turn
  (`creating` for `item_seconds`, then `success`), then the mosaic (`mosaic_seconds`);
- the AOI is `success` when the mosaic is; a scenario makes it end otherwise:
  `failed` (the first item's asset fails part-way, nothing after it starts) or
  `partial_success` (the mosaic fails part-way, the items' assets succeed);
- progress is the share of the planned work done, 100 once processing has ended
  (a failed AOI keeps the share it reached).
"""

from __future__ import annotations

import bisect
import dataclasses
import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import orjson
import shapely
from pyproj import Geod
from shapely.geometry import Polygon
from shapely.validation import explain_validity

from pixxel_mock.server.model.catalog import ApiKey
from pixxel_mock.server.model.errors import AccessDenied, Conflict, InvalidInput, NotFound
from pixxel_mock.server.model.ids import derived_uuid
from pixxel_mock.server.model.sessions import Session
from pixxel_mock.server.model.timefmt import parse_rfc3339, utc_day
from pixxel_mock.server.state.cache import BoundedCache
from pixxel_mock.server.state.records import JobTable, RecordKind
from pixxel_mock.server.state.store import Store

AOI_STATUSES = ("started", "running", "success", "partial_success", "failed")
ASSET_STATUSES = ("creating", "success", "failed")
OUTCOMES = ("success", "partial_success", "failed")
FAILURE_POINT = 0.6  # a failing asset fails after this share of its duration
NO_ACCESS_AOI = "No AOI with this id is visible to the API key."
NO_PROJECT = "The API key does not have access to this project, or it does not exist."
_GEOD = Geod(ellps="WGS84")

Ring = tuple[tuple[float, ...], ...]
Rings = tuple[Ring, ...]


class ArchiveItem(Protocol):
    """What an AOI reads of an archive item (model/archive.py's ArchiveItem)."""

    @property
    def id(self) -> str: ...
    @property
    def collection(self) -> str: ...
    @property
    def geometry(self) -> Mapping[str, Any]: ...
    @property
    def datetime(self) -> Any: ...
    @property
    def band_names(self) -> Sequence[str]: ...
    @property
    def satellite_id(self) -> str: ...
    @property
    def properties(self) -> Mapping[str, Any]: ...


ItemsLookup = Callable[[list[str]], Sequence[ArchiveItem]]  # the existing items among ids


@dataclass(frozen=True)
class AoiItem:
    """The facts of one item that the AOI and its asset show."""

    id: str
    collection: str
    datetime: float
    band_names: tuple[str, ...]
    resolution: float
    footprint: Rings


@dataclass(frozen=True)
class AoiRecord:
    namespace: str
    id: str
    seq: int
    project_id: str
    name: str
    description: str
    satellite_id: str
    provider: str
    created_by: str
    created_at: float
    polls: int
    geometry: Rings
    items: tuple[AoiItem, ...]
    outcome: str  # how processing ends, fixed by the scenario at creation


def _rings(data: Any) -> Rings:
    return tuple(tuple(tuple(float(c) for c in position) for position in ring) for ring in data)


def _item_from_json(data: Mapping[str, Any]) -> AoiItem:
    return AoiItem(
        id=str(data["id"]),
        collection=str(data["collection"]),
        datetime=float(data["datetime"]),
        band_names=tuple(data["band_names"]),
        resolution=float(data["resolution"]),
        footprint=_rings(data["footprint"]),
    )


_FIELDS = tuple(f.name for f in dataclasses.fields(AoiRecord))
_ITEM_FIELDS = tuple(f.name for f in dataclasses.fields(AoiItem))


def _aoi_to_json(record: AoiRecord) -> dict[str, Any]:
    """Field by field, not `dataclasses.asdict`, whose deep copies were half the cost of
    creating an AOI; tuples stay tuples, which JSON writes as arrays."""
    data = {name: getattr(record, name) for name in _FIELDS}
    data["items"] = [{name: getattr(item, name) for name in _ITEM_FIELDS} for item in record.items]
    return data


def _aoi_from_json(data: Mapping[str, Any]) -> AoiRecord:
    fields = dict(data)
    fields["geometry"] = _rings(fields["geometry"])
    fields["items"] = tuple(_item_from_json(item) for item in fields["items"])
    return AoiRecord(**fields)


def _aoi_row(record: AoiRecord) -> tuple[Any, ...]:
    data = _aoi_to_json(record)
    data["geometry"] = orjson.dumps(data["geometry"]).decode()
    data["items"] = orjson.dumps(data["items"]).decode()
    return tuple(data[name] for name in _FIELDS)


def _aoi_from_row(row: tuple[Any, ...]) -> AoiRecord:
    data = dict(zip(_FIELDS, row, strict=True))
    data["geometry"] = orjson.loads(data["geometry"])
    data["items"] = orjson.loads(data["items"])
    return _aoi_from_json(data)


AOIS = RecordKind(
    table="aois",
    columns=_FIELDS,
    to_row=_aoi_row,
    from_row=_aoi_from_row,
    to_json=_aoi_to_json,
    from_json=_aoi_from_json,
)


@dataclass(frozen=True)
class AoiSettings:
    """How long processing takes, in simulated seconds."""

    start_seconds: float = 10.0
    item_seconds: float = 60.0
    mosaic_seconds: float = 120.0


@dataclass(frozen=True)
class Footprint:
    """A geometry and what is computed from it once."""

    rings: Rings
    area_in_sq_m: float
    centroid: tuple[float, float]
    bounds: tuple[float, float, float, float]  # west, south, east, north


def _polygon(rings: Rings) -> Polygon:
    """Shapely's polygon of the rings; without holes, through its array constructor (a
    fifth of the cost of its class's)."""
    return shapely.polygons(rings[0]) if len(rings) == 1 else Polygon(rings[0], rings[1:])


@functools.lru_cache(maxsize=4096)  # a pure function; the archive's items recur in AOIs
def footprint(rings: Rings) -> Footprint:
    """Geodesic area on the WGS 84 ellipsoid; the centroid is planar, in degrees."""
    polygon = _polygon(rings)
    area, _ = _GEOD.geometry_area_perimeter(polygon)
    centroid = polygon.centroid
    return Footprint(rings, abs(area), (round(centroid.x, 7), round(centroid.y, 7)), polygon.bounds)


@dataclass(frozen=True)
class AssetPlan:
    id: str
    asset_type: str  # stac_item | mosaic
    name: str
    description: str
    band_names: tuple[str, ...]
    date: float
    resolution: float
    footprint: Footprint
    start: float
    end: float  # when it succeeds, or fails
    fails: bool


@dataclass(frozen=True)
class AoiPlan:
    footprint: Footprint
    started_at: float  # running from here
    finished_at: float
    outcome: str
    assets: tuple[AssetPlan, ...]  # only those that start
    total_work: float
    events: tuple[float, ...]

    def step_time(self, steps: int) -> float:
        """The moment reached after `steps` lifecycle steps (polls mode)."""
        if steps <= 0:
            return -float("inf")
        return self.events[min(steps, len(self.events)) - 1]


@dataclass(frozen=True)
class AssetState:
    plan: AssetPlan
    status: str
    progress: int
    updated_at: float


@dataclass(frozen=True)
class AoiState:
    status: str
    progress: int
    updated_at: float
    assets: tuple[AssetState, ...]  # those that have appeared, in order

    @property
    def is_terminal(self) -> bool:
        return self.status in ("success", "partial_success", "failed")


def asset_id(aoi_id: str, name: str) -> str:
    """An asset's id, named by its AOI and its name: the same at every read."""
    return derived_uuid(aoi_id, "asset", name)


def plan_aoi(record: AoiRecord, settings: AoiSettings) -> AoiPlan:
    """Fix when each asset starts and ends. Pure and deterministic for the record."""
    started_at = record.created_at + settings.start_seconds
    plans: list[AssetPlan] = []
    moment = started_at
    for index, item in enumerate(record.items):
        fails = record.outcome == "failed" and index == 0
        end = moment + settings.item_seconds * (FAILURE_POINT if fails else 1.0)
        plans.append(
            AssetPlan(
                id=asset_id(record.id, item.id),
                asset_type="stac_item",
                name=item.id,
                description="This asset is a STAC item file",
                band_names=item.band_names,
                date=item.datetime,
                resolution=item.resolution,
                footprint=footprint(item.footprint),
                start=moment,
                end=end,
                fails=fails,
            )
        )
        moment = end
        if fails:
            break
    if record.outcome != "failed":
        fails = record.outcome == "partial_success"
        plans.append(
            AssetPlan(
                id=asset_id(record.id, "mosaic"),
                asset_type="mosaic",
                name="mosaic",
                description="This asset is mosaic file",
                band_names=_union(item.band_names for item in record.items),
                date=max(item.datetime for item in record.items),
                resolution=max(item.resolution for item in record.items),
                footprint=footprint(record.geometry),
                start=moment,
                end=moment + settings.mosaic_seconds * (FAILURE_POINT if fails else 1.0),
                fails=fails,
            )
        )
    finished_at = plans[-1].end
    events = sorted({started_at, *(p.start for p in plans), *(p.end for p in plans)})
    return AoiPlan(
        footprint=footprint(record.geometry),
        started_at=started_at,
        finished_at=finished_at,
        outcome=record.outcome,
        assets=tuple(plans),
        total_work=len(record.items) * settings.item_seconds + settings.mosaic_seconds,
        events=tuple(events),
    )


def evaluate(plan: AoiPlan, created_at: float, at: float) -> AoiState:
    """Read the plan at simulated time `at`."""
    assets = tuple(_asset_state(asset, at) for asset in plan.assets if at >= asset.start)
    if at < plan.started_at:
        status = "started"
    elif at < plan.finished_at:
        status = "running"
    else:
        status = plan.outcome
    done = sum(min(at, a.end) - a.start for a in plan.assets if at >= a.start)
    if status in ("success", "partial_success"):
        progress = 100
    else:
        progress = min(99, int(100 * done / plan.total_work)) if plan.total_work > 0 else 0
    index = bisect.bisect_right(plan.events, at)
    updated_at = plan.events[index - 1] if index else created_at
    return AoiState(status, progress, updated_at, assets)


def _asset_state(asset: AssetPlan, at: float) -> AssetState:
    if at >= asset.end:
        return AssetState(asset, "failed" if asset.fails else "success", 100, asset.end)
    span = asset.end - asset.start
    progress = min(99, int(100 * (at - asset.start) / span)) if span > 0 else 0
    return AssetState(asset, "creating", progress, asset.start)


def _union(names: Any) -> tuple[str, ...]:
    """Band names in order of first appearance."""
    return tuple(dict.fromkeys(name for group in names for name in group))


def _epoch(value: Any) -> float:
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, int | float):
        return float(value)
    return parse_rfc3339(str(value))


@dataclass(frozen=True)
class AoiView:
    record: AoiRecord
    plan: AoiPlan
    state: AoiState


@dataclass(frozen=True)
class NewAoi:
    """A validated Create AOI body."""

    project_id: str
    name: str
    description: str
    satellite_id: str
    provider: str
    coordinates: list[list[list[float]]]
    item_ids: list[str]


class Aois:
    """The AOIs of every namespace and their assets; `seed` fixes their ids."""

    def __init__(self, store: Store, items: ItemsLookup, seed: int, settings: AoiSettings) -> None:
        self.records = store.register(JobTable(store.database, AOIS, store.namespaces))
        self._items = items
        self._seed = seed
        self._settings = settings
        self._plans: BoundedCache[tuple[object, ...], AoiPlan] = BoundedCache(1024)

    def create(self, key: ApiKey, session: Session, new: NewAoi) -> AoiView:
        """Store a new AOI, refusing a foreign project, a bad polygon, unknown or
        unsuitable items, and a name already used in the project."""
        if new.project_id not in key.project_ids:
            raise AccessDenied("forbidden", NO_PROJECT, {"parameter": "project_id", "in": "body"})
        rings, polygon = _checked_polygon(new.coordinates)
        items = self._checked_items(new, polygon)
        namespace = session.namespace
        aoi_id = derived_uuid(self._seed, namespace, "aoi", new.project_id, new.name)

        def build(seq: int) -> AoiRecord:
            if self.records.get(namespace, aoi_id) is not None:  # under the write lock
                raise Conflict(
                    "duplicate_name",
                    f"An AOI named {new.name!r} already exists in this project.",
                    {"parameter": "name", "in": "body"},
                )
            return AoiRecord(
                namespace=namespace,
                id=aoi_id,
                seq=seq,
                project_id=new.project_id,
                name=new.name,
                description=new.description,
                satellite_id=new.satellite_id,
                provider=new.provider,
                created_by=key.service_account_id,
                created_at=session.now,
                polls=0,
                geometry=rings,
                items=items,
                outcome=session.scenario.aoi_outcome(new.project_id, new.name),
            )

        return self.view(self.records.insert(namespace, build), session.now)

    def _checked_items(self, new: NewAoi, polygon: Polygon) -> tuple[AoiItem, ...]:
        found = {item.id: item for item in self._items(new.item_ids)}
        for item_id in new.item_ids:
            item = found.get(item_id)
            problem = None
            if item is None:
                problem = "is not an item of the archive"
            elif item.satellite_id != new.satellite_id:
                problem = f"was taken by satellite {item.satellite_id}, not satellite_id"
            elif not item.shape.intersects(polygon):
                problem = "does not intersect the AOI's polygon"
            if problem:
                raise InvalidInput(
                    "invalid_item",
                    f"Item {item_id!r} {problem}.",
                    {"parameter": "item_ids", "in": "body", "item_id": item_id},
                )
        return tuple(_aoi_item(found[item_id]) for item_id in new.item_ids)

    def matching(
        self, key: ApiKey, session: Session, project_ids: list[str] | None, filters: dict[str, str]
    ) -> list[AoiView]:
        """The AOIs of the key's projects (those named, if any) matching every filter,
        newest first."""
        visible = key.project_ids & set(project_ids) if project_ids else key.project_ids
        name = filters.get("aoi_name", "").lower()
        views = []
        for record in self.records.listing(session.namespace):
            if record.project_id not in visible or name not in record.name.lower():
                continue
            if filters.get("aoi_id", record.id) != record.id:
                continue
            if filters.get("created_at", utc_day(record.created_at)) != utc_day(record.created_at):
                continue
            view = self.view(record, session.now)
            if filters.get("updated_at", utc_day(view.state.updated_at)) != utc_day(
                view.state.updated_at
            ):
                continue
            views.append(view)
        return views

    def get(self, key: ApiKey, session: Session, aoi_id: str, poll: bool = False) -> AoiView:
        """An AOI of the key's projects; unknown and foreign ones are refused alike. In
        polls clock mode a counted read moves it one lifecycle step."""
        namespace = session.namespace
        record = self.records.get(namespace, aoi_id)
        if record is None or record.project_id not in key.project_ids:
            raise NotFound("not_found", NO_ACCESS_AOI)
        if poll and session.polls_mode:
            record = self.records.poll(namespace, aoi_id) or record
        return self.view(record, session.now)

    def view(self, record: AoiRecord, now: float) -> AoiView:
        key = (record.namespace, record.id, record.created_at, record.outcome)
        plan = self._plans.get_or_make(key, lambda: plan_aoi(record, self._settings))
        at = max(now, plan.step_time(record.polls))
        return AoiView(record, plan, evaluate(plan, record.created_at, at))

    def find(self, session: Session, aoi_id: str) -> AoiView | None:
        """An AOI of the session's namespace, whoever made it (the control plane's view)."""
        record = self.records.get(session.namespace, aoi_id)
        return self.view(record, session.now) if record is not None else None

    def of_namespace(self, session: Session) -> list[AoiView]:
        """Every AOI of the session's namespace, newest first (the control plane's view)."""
        return [self.view(r, session.now) for r in self.records.listing(session.namespace)]


def _aoi_item(item: ArchiveItem) -> AoiItem:
    geometry = item.geometry
    if geometry.get("type") != "Polygon":  # a footprint is a polygon; its envelope otherwise
        geometry = item.shape.envelope.__geo_interface__
    properties = item.properties
    return AoiItem(
        id=item.id,
        collection=item.collection,
        datetime=_epoch(item.datetime),
        band_names=tuple(item.band_names),
        resolution=float(properties.get("gsd") or 0.0),
        footprint=_rings(geometry["coordinates"]),
    )


def _checked_polygon(coordinates: list[list[list[float]]]) -> tuple[Rings, Polygon]:
    """The rings of a closed, valid polygon in longitude/latitude, and the polygon, or a
    400 saying why."""

    def refuse(reason: str) -> InvalidInput:
        return InvalidInput(
            "invalid_geometry",
            f"The AOI's polygon is invalid: {reason}.",
            {"parameter": "geometry", "in": "body", "reason": reason},
        )

    for index, ring in enumerate(coordinates):
        if ring[0] != ring[-1]:
            raise refuse(f"ring {index} is not closed (its last position must equal its first)")
        for position in ring:
            lon, lat = position[0], position[1]
            if not (-180 <= lon <= 180 and -90 <= lat <= 90):
                raise refuse(f"position {position} is outside longitude/latitude bounds")
    rings = _rings([[position[:2] for position in ring] for ring in coordinates])
    polygon = _polygon(rings)
    if not polygon.is_valid:
        raise refuse(explain_validity(polygon).lower())
    if polygon.area == 0:
        raise refuse("it has no area")
    return rings, polygon
