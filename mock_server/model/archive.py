"""The imagery archive: satellites, STAC collections and their items, and the searches.

The satellites, collections, regions and period come from `fixtures/archive.yaml`;
the items are generated from the mock's seed (not listed anywhere), so every worker
and every restart sees the same archive. They live in a spatial index
(state/spatial.py), which answers searches through its R*Tree; footprints are tested
exactly with shapely. Each item's files (a Cloud-Optimized GeoTIFF and a PNG
thumbnail) are written on demand from the item (rasters.py).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import shapely
from pyproj import Transformer
from shapely.geometry.base import BaseGeometry

from pixxel_mock.server.model import rasters
from pixxel_mock.server.model.catalog import FixtureError, closed_fixture_problem
from pixxel_mock.server.model.errors import InvalidInput, NotFound
from pixxel_mock.server.model.ids import unit_interval
from pixxel_mock.server.model.timefmt import parse_rfc3339, rfc3339
from pixxel_mock.server.spec.yamlio import read_yaml_cached
from pixxel_mock.server.state.cache import BoundedCache
from pixxel_mock.server.state.spatial import (
    FeatureFilter,
    FeatureIndex,
    PropertyTest,
    Row,
    SortKey,
)

ARCHIVE_FILE = "archive.yaml"
GENERATOR_VERSION = 2  # bump when the generated items change: old index files are rebuilt
STAC_VERSION = "1.0.0"
STAC_EXTENSIONS = (
    "https://stac-extensions.github.io/eo/v1.1.0/schema.json",
    "https://stac-extensions.github.io/projection/v2.0.0/schema.json",
    "https://stac-extensions.github.io/view/v1.0.0/schema.json",
    "https://stac-extensions.github.io/raster/v1.1.0/schema.json",
)
# the properties a search's `query`, `filters` and `sortby` know, besides any other
QUERYABLES = (
    "datetime",
    "eo:cloud_cover",
    "gsd",
    "view:off_nadir",
    "view:sun_azimuth",
    "view:sun_elevation",
    "platform",
)
# numeric properties the index keeps as columns: filters and sorts on them read no JSON
INDEXED_NUMBERS = (
    "eo:cloud_cover",
    "gsd",
    "view:off_nadir",
    "view:sun_azimuth",
    "view:sun_elevation",
)
REFLECTANCE_SCALE = 1 / rasters.REFLECTANCE_SCALE
ASSET_CACHE_SIZE = 64  # files written most recently
ITEM_CACHE_SIZE = 2048  # items read most recently (an item never changes)
_PROPERTY_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_:.\-]{0,63}")
_SORT_PREFIXES = ("properties->>", "properties.")
_COLUMNS = {"id": "id", "collection": "collection", "datetime": "datetime"}
_SOLAR_HOUR = 10.5  # local solar time of the sun-synchronous passes


@dataclass(frozen=True)
class Band:
    name: str
    common_name: str
    wavelength: float  # micrometres
    fwhm: float
    solar_irradiance: float


@dataclass(frozen=True)
class Satellite:
    id: str
    name: str
    code: str
    constellation: str
    provider: str
    instruments: tuple[str, ...]
    collections: tuple[str, ...]
    share: float
    gsd: float
    altitude: float
    crs: str  # an EPSG code, or "utm"
    scene_degrees: float
    off_nadir_max: float
    rgb_composite: tuple[str, str, str]  # red, green, blue band names
    bands: tuple[Band, ...]

    @property
    def band_names(self) -> tuple[str, ...]:
        return tuple(b.name for b in self.bands)


@dataclass(frozen=True)
class Collection:
    id: str
    title: str
    description: str
    license: str
    product_level: str
    rescale: tuple[int, int]
    providers: tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class Region:
    name: str
    project_id: str
    bbox: tuple[float, float, float, float]


@dataclass(frozen=True)
class ArchiveFixtures:
    start: float
    end: float
    regions: tuple[Region, ...]
    satellites: tuple[Satellite, ...]
    collections: tuple[Collection, ...]
    source: str  # the document's canonical JSON: part of the index's signature


@dataclass(frozen=True)
class ArchiveItem:
    """One STAC item of the archive, as the domain knows it (links and hrefs are HTTP's)."""

    id: str
    collection: str
    geometry: dict[str, Any]  # GeoJSON Polygon footprint, lon/lat
    bbox: tuple[float, float, float, float]
    datetime: str  # RFC 3339
    band_names: tuple[str, ...]
    satellite_id: str
    properties: dict[str, Any]
    bands: tuple[Band, ...] = ()
    raster_seed: int = 0
    rgb: tuple[int, int, int] = (0, 1, 2)  # indices of the thumbnail's bands

    @cached_property
    def shape(self) -> BaseGeometry:
        """The footprint as shapely's geometry (made once: the archive keeps its items)."""
        return shapely.geometry.shape(self.geometry)

    @property
    def crs(self) -> str:
        return str(self.properties["proj:code"])

    @property
    def raster_bounds(self) -> tuple[float, float, float, float]:
        """(west, south, east, north) of the GeoTIFF in its own CRS, from proj:transform."""
        a, _, c, _, e, f = self.properties["proj:transform"]
        height, width = self.properties["proj:shape"]
        return (c, f + e * height, c + a * width, f)


@dataclass(frozen=True)
class ArchiveSearch:
    """A search of the archive, in the domain's terms (validated by `Archive.filter_of`)."""

    bbox: tuple[float, ...] | None = None
    intersects: dict[str, Any] | None = None
    datetime: str | None = None
    collections: tuple[str, ...] | None = None
    ids: tuple[str, ...] | None = None
    satellite_ids: tuple[str, ...] | None = None
    query: dict[str, dict[str, Any]] | None = None
    ranges: tuple[tuple[str, float, float], ...] = ()  # (property, min, max), inclusive
    sortby: tuple[tuple[str, str], ...] = ()  # (field, "asc" | "desc")
    limit: int = 10
    offset: int = 0


@dataclass(frozen=True)
class SatelliteSearch:
    """Search Satellite Images' body in the domain's terms: satellites by (id, collection)."""

    start_date: str
    end_date: str
    satellites: tuple[tuple[str, str], ...]  # (satellite id, collection id)
    filters: tuple[tuple[str, float, float], ...] = ()  # (property, min, max)
    geometry: dict[str, Any] | None = None
    limit: int = 10


def load_archive_fixtures(directory: Path) -> ArchiveFixtures:
    """Read `archive.yaml` of a fixtures directory; a directory without one has an
    empty archive (no satellites, collections or items)."""
    path = Path(directory) / ARCHIVE_FILE
    if not path.exists():
        return ArchiveFixtures(0.0, 0.0, (), (), (), "{}")
    raw = read_yaml_cached(path)
    problem = closed_fixture_problem(ARCHIVE_FILE, raw)
    if problem:
        raise FixtureError(f"{path}: {problem}")
    try:
        satellites = tuple(_satellite(s) for s in raw["satellites"])
        collections = tuple(
            Collection(
                id=str(c["id"]),
                title=str(c["title"]),
                description=str(c["description"]),
                license=str(c["license"]),
                product_level=str(c["product_level"]),
                rescale=(int(c["rescale"][0]), int(c["rescale"][1])),
                providers=tuple(dict(p) for p in c.get("providers", ())),
            )
            for c in raw["collections"]
        )
        regions = tuple(
            Region(str(r["name"]), str(r["project_id"]), _bbox(r["bbox"], r["name"]))
            for r in raw["regions"]
        )
        start, end = (parse_rfc3339(str(raw["period"][k])) for k in ("start", "end"))
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise FixtureError(f"{path}: {exc!r}") from exc
    known = {c.id for c in collections}
    for satellite in satellites:
        if not set(satellite.collections) <= known:
            raise FixtureError(f"{path}: {satellite.name} names unknown collections")
    if (satellites and not regions) or end <= start:
        raise FixtureError(
            f"{path}: an archive needs regions and a period that ends after it starts"
        )
    source = json.dumps(raw, sort_keys=True, default=str)
    return ArchiveFixtures(start, end, regions, satellites, collections, source)


def _satellite(raw: dict[str, Any]) -> Satellite:
    bands = tuple(
        Band(
            str(b["name"]),
            str(b["common_name"]),
            float(b["wavelength"]),
            float(b["fwhm"]),
            float(b["solar_irradiance"]),
        )
        for b in raw["bands"]
    )
    rgb = raw["rgb_composite"]
    satellite = Satellite(
        id=str(raw["id"]),
        name=str(raw["name"]),
        code=str(raw["code"]),
        constellation=str(raw["constellation"]),
        provider=str(raw["provider"]),
        instruments=tuple(raw["instruments"]),
        collections=tuple(raw["collections"]),
        share=float(raw["share"]),
        gsd=float(raw["gsd"]),
        altitude=float(raw["altitude"]),
        crs=str(raw["crs"]),
        scene_degrees=float(raw["scene_degrees"]),
        off_nadir_max=float(raw["off_nadir_max"]),
        rgb_composite=(str(rgb["red"]), str(rgb["green"]), str(rgb["blue"])),
        bands=bands,
    )
    if not set(satellite.rgb_composite) <= set(satellite.band_names):
        raise ValueError(f"{satellite.name}: rgb_composite names bands it does not have")
    return satellite


def _bbox(values: Sequence[Any], what: str) -> tuple[float, float, float, float]:
    west, south, east, north = (float(v) for v in values)
    if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
        raise ValueError(f"region {what}: bbox must be [west, south, east, north] in lon/lat")
    return west, south, east, north


# -- generation --------------------------------------------------------------------------


def generate_rows(fixtures: ArchiveFixtures, seed: int, count: int) -> Iterator[Row]:
    """The archive's `count` items as index rows, drawn from the seed (numpy's PCG64,
    whose streams are the same on every platform), in a fixed order."""
    if not fixtures.satellites or count <= 0:
        return
    rng = np.random.default_rng([seed, GENERATOR_VERSION])
    shares = np.array([s.share for s in fixtures.satellites])
    satellite_of = rng.choice(len(fixtures.satellites), size=count, p=shares / shares.sum())
    region_of = rng.integers(0, len(fixtures.regions), size=count)
    u = rng.random((count, 9))
    days = int((fixtures.end - fixtures.start) // 86400)
    transformers = Transformers()
    for index in range(count):
        satellite = fixtures.satellites[satellite_of[index]]
        region = fixtures.regions[region_of[index]]
        yield _row(fixtures, satellite, region, index, u[index], days, transformers)


def _row(
    fixtures: ArchiveFixtures,
    satellite: Satellite,
    region: Region,
    index: int,
    u: np.ndarray,
    days: int,
    transformers: Transformers,
) -> Row:
    west, south, east, north = region.bbox
    lon = west + (east - west) * float(u[0])
    lat = south + (north - south) * float(u[1])
    day = fixtures.start - fixtures.start % 86400 + 86400 * int(u[2] * days)
    at = day + 3600 * (_SOLAR_HOUR - lon / 15) + 1800 * (float(u[3]) - 0.5)
    acquired = datetime.fromtimestamp(int(at), UTC)
    processed = datetime.fromtimestamp(int(at + 86400 * (1 + 30 * float(u[4]))), UTC)
    cloud = round(100 * float(u[5]) ** 2, 2)
    off_nadir = round(satellite.off_nadir_max * float(u[6]), 2)
    track = -(8 + 4 * float(u[7]))  # degrees from north: a descending, sun-synchronous pass
    ring, transform, code = _footprint(satellite, lon, lat, track, transformers)
    xs, ys = [p[0] for p in ring], [p[1] for p in ring]
    bbox = (min(xs), min(ys), max(xs), max(ys))
    elevation, azimuth = _sun(at, lat, lon)
    collection = satellite.collections[0]
    item_id = _item_id(satellite, acquired, processed, region, index)
    orbit = int((at - 946684800) / 86400 * 14.9) % 1_000_000
    acquired_text, processed_text = rfc3339(int(at)), rfc3339(processed.timestamp())
    properties: dict[str, Any] = {
        "datetime": acquired_text,
        "startdatetime": acquired_text,
        "created": processed_text,
        "updated": processed_text,
        "title": f"{satellite.name} L2A over {region.name}, {acquired:%Y-%m-%d}",
        "description": f"{satellite.name} surface reflectance scene, orbit {orbit}.",
        "license": _collection(fixtures, collection).license,
        "constellation": satellite.constellation,
        "platform": satellite.code,
        "instruments": list(satellite.instruments),
        "altitude": satellite.altitude,
        "gsd": satellite.gsd,
        "eo:cloud_cover": cloud,
        "proj:code": code,
        "proj:shape": [rasters.RASTER_SIZE, rasters.RASTER_SIZE],
        "proj:transform": transform,
        "rd:anomalous_pixels": round(0.02 * float(u[8]), 4),
        "rd:earth_sun_distance": round(_earth_sun_distance(at), 6),
        "rd:product_level": _collection(fixtures, collection).product_level,
        "rd:sat_id": satellite.code,
        "rd:type": "Reflectance",
        "view:off_nadir": off_nadir,
        "view:scene_center_lat": round(lat, 6),
        "view:scene_center_lon": round(lon, 6),
        "view:sun_azimuth": azimuth,
        "view:sun_elevation": elevation,
    }
    document = {
        "geometry": {"type": "Polygon", "coordinates": [ring]},
        "properties": properties,
    }
    footprint = struct.pack(f"<BIII{2 * len(ring)}d", 1, 3, 1, len(ring), *chain(*ring))
    return (
        item_id,
        collection,
        satellite.id,
        float(int(at)),
        *bbox,
        orjson.dumps(document).decode(),
        footprint,  # WKB of the polygon, written directly (shapely's writer: 30 us an item)
        *(properties[name] for name in INDEXED_NUMBERS),
    )


def _collection(fixtures: ArchiveFixtures, collection_id: str) -> Collection:
    return next(c for c in fixtures.collections if c.id == collection_id)


def _item_id(
    satellite: Satellite, acquired: datetime, processed: datetime, region: Region, index: int
) -> str:
    """Pixxel's pattern, e.g. TD2_000650_20230404_L2A_20240405_01001067 (sensor, scene,
    acquisition day, level, processing day, sequence); Sentinel-2's own for it."""
    if satellite.crs == "utm":
        unit = "AB"[index % 2]
        return f"S2{unit}_MSIL2A_{acquired:%Y%m%dT%H%M%S}_N0510_{index:06d}"
    scene = int(unit_interval(region.name, index) * 1_000_000)
    return (
        f"{satellite.code}_{scene:06d}_{acquired:%Y%m%d}_L2A_{processed:%Y%m%d}"
        f"_{1 + index % 3:02d}{index:06d}"
    )


def _footprint(
    satellite: Satellite, lon: float, lat: float, track: float, transformers: Transformers
) -> tuple[list[list[float]], list[float], str]:
    """The scene's footprint ring (lon/lat, closed), its raster's transform and CRS code.

    A geographic scene is a strip rotated along the track, inside a north-up raster
    (nodata outside it); a UTM scene is a square of its zone, reprojected."""
    size = rasters.RASTER_SIZE
    half = satellite.scene_degrees / 2
    if satellite.crs == "utm":
        zone = int((lon + 180) // 6) + 1
        code = f"EPSG:{32600 + zone if lat >= 0 else 32700 + zone}"
        forward = transformers.between("EPSG:4326", code)
        x, y = forward.transform(lon, lat)
        side = round(satellite.scene_degrees * 111_000 / 100) * 100
        west, north = round(x - side / 2, -1), round(y + side / 2, -1)
        corners = [(west, north), (west + side, north), (west + side, north - side)]
        corners += [(west, north - side), (west, north)]
        back = transformers.between(code, "EPSG:4326")
        ring = [[round(c, 6) for c in back.transform(px, py)] for px, py in corners]
        return ring, [side / size, 0.0, west, 0.0, -side / size, north], code
    theta = math.radians(track)
    scale = math.cos(math.radians(lat))
    ring = []
    for dx, dy in ((-half, half), (half, half), (half, -half), (-half, -half), (-half, half)):
        rx = dx * math.cos(theta) + dy * math.sin(theta)
        ry = -dx * math.sin(theta) + dy * math.cos(theta)
        ring.append([round(lon + 0.6 * rx / scale, 6), round(lat + ry, 6)])
    west, east = min(p[0] for p in ring), max(p[0] for p in ring)
    south, north = min(p[1] for p in ring), max(p[1] for p in ring)
    transform = [
        round((east - west) / size, 12),
        0.0,
        west,
        0.0,
        round((south - north) / size, 12),
        north,
    ]
    return ring, transform, satellite.crs


class Transformers(dict[tuple[str, str], Transformer]):
    """pyproj transformers of one generation run, made once per CRS pair (a few ms each)."""

    def between(self, source: str, target: str) -> Transformer:
        key = (source, target)
        if key not in self:
            self[key] = Transformer.from_crs(source, target, always_xy=True)
        return self[key]


def _sun(at: float, lat: float, lon: float) -> tuple[float, float]:
    """The sun's elevation and azimuth (degrees) at a time and place, to a degree or so."""
    moment = datetime.fromtimestamp(at, UTC)
    day = moment.timetuple().tm_yday
    declination = math.radians(23.44) * math.sin(2 * math.pi * (284 + day) / 365)
    solar_hours = moment.hour + moment.minute / 60 + lon / 15
    hour_angle = math.radians(15 * (solar_hours - 12))
    phi = math.radians(lat)
    sin_elevation = math.sin(phi) * math.sin(declination) + math.cos(phi) * math.cos(
        declination
    ) * math.cos(hour_angle)
    elevation = math.asin(sin_elevation)
    cos_azimuth = (math.sin(declination) - math.sin(elevation) * math.sin(phi)) / (
        math.cos(elevation) * math.cos(phi)
    )
    azimuth = math.degrees(math.acos(max(-1.0, min(1.0, cos_azimuth))))
    if hour_angle > 0:
        azimuth = 360 - azimuth
    return round(math.degrees(elevation), 2), round(azimuth, 2)


def _earth_sun_distance(at: float) -> float:
    day = datetime.fromtimestamp(at, UTC).timetuple().tm_yday
    return 1 - 0.01672 * math.cos(math.radians(0.9856 * (day - 4)))


# -- the archive -------------------------------------------------------------------------


class Archive:
    """The archive one mock serves: read-only, shared by every worker through its index."""

    def __init__(
        self, fixtures: ArchiveFixtures, seed: int, item_count: int, index_path: Path
    ) -> None:
        self.fixtures = fixtures
        self.seed = seed
        self.item_count = item_count
        signature = hashlib.sha256(
            f"{GENERATOR_VERSION}|{seed}|{item_count}|{fixtures.source}".encode()
        ).hexdigest()
        self.index = FeatureIndex(
            index_path,
            signature,
            lambda: generate_rows(fixtures, seed, item_count),
            numbers=tuple(_property_path(name, "query") for name in INDEXED_NUMBERS),
        )
        self._satellites = {s.id: s for s in fixtures.satellites}
        self._collections = {c.id: c for c in fixtures.collections}
        self._files: BoundedCache[tuple[str, str], bytes] = BoundedCache(ASSET_CACHE_SIZE)
        self._items: BoundedCache[str, ArchiveItem] = BoundedCache(ITEM_CACHE_SIZE)

    # -- satellites and collections -------------------------------------------------
    @property
    def satellites(self) -> tuple[Satellite, ...]:
        return self.fixtures.satellites

    def collections(self, ids: Sequence[str] | None = None) -> list[Collection]:
        """Every collection, or those named (in the archive's order)."""
        return [c for c in self.fixtures.collections if ids is None or c.id in ids]

    def collection(self, collection_id: str) -> Collection:
        found = self._collections.get(collection_id)
        if found is None:
            raise NotFound(
                "not_found",
                f'No collection "{collection_id}" in the archive.',
                {"parameter": "cid", "in": "path"},
            )
        return found

    def satellites_of(self, collection_id: str) -> list[Satellite]:
        return [s for s in self.fixtures.satellites if collection_id in s.collections]

    @property
    def created_at(self) -> str:
        """When the collections were made: the start of the archive's period."""
        return rfc3339(self.fixtures.start)

    @cached_property
    def extents(self) -> dict[str, tuple[tuple[float, float, float, float], str, str]]:
        """Per collection: the bbox of its items, and the first and last datetime."""
        found = {}
        conn = self.index.connection()
        for collection in self.fixtures.collections:
            row = conn.execute(
                "SELECT MIN(west), MIN(south), MAX(east), MAX(north), MIN(datetime),"
                " MAX(datetime) FROM features WHERE collection=?",
                (collection.id,),
            ).fetchone()
            if row[0] is not None:
                found[collection.id] = (row[:4], rfc3339(row[4]), rfc3339(row[5]))
        return found

    # -- items ----------------------------------------------------------------------
    def items(self, ids: Sequence[str]) -> list[ArchiveItem]:
        """The items of these ids that exist, in the order asked; each read from the
        index once while it stays among the most recently read."""
        found = {item_id: self._items.get(item_id) for item_id in ids}
        missing = [item_id for item_id, item in found.items() if item is None]
        if missing:
            for row in self.index.by_ids(missing).values():
                found[row[0]] = self._items.put(row[0], self._item(row))
        return [item for item_id in ids if (item := found[item_id]) is not None]

    def item(self, collection: str, item_id: str) -> ArchiveItem | None:
        found = self.items([item_id])
        return found[0] if found and found[0].collection == collection else None

    def item_in(self, collection: str, item_id: str) -> ArchiveItem:
        """An item of a collection, or 404 (for the collection, then for the item)."""
        self.collection(collection)
        found = self.item(collection, item_id)
        if found is None:
            raise NotFound(
                "not_found",
                f'No item "{item_id}" in collection "{collection}".',
                {"parameter": "id", "in": "path"},
            )
        return found

    def page(self, collection: str, limit: int, offset: int) -> list[ArchiveItem]:
        """A page of one collection's items, newest first."""
        self.collection(collection)
        return self.search(ArchiveSearch(collections=(collection,), limit=limit, offset=offset))

    def search(self, search: ArchiveSearch) -> list[ArchiveItem]:
        """A page of the items that match, sorted (newest first by default)."""
        where, order = self.filter_of(search)
        page = self.index.select(where, order, search.limit, search.offset, "f.id")
        return self.items([item_id for (item_id,) in page])

    def satellite_search(self, search: SatelliteSearch) -> ArchiveSearch:
        """The archive search that Search Satellite Images means; 400 for a satellite the
        platform does not offer, or a collection that is not that satellite's."""
        for index, (satellite_id, collection_id) in enumerate(search.satellites):
            satellite = self._satellites.get(satellite_id)
            field = "satellite_id" if satellite is None else "collection_id"
            if satellite is None or collection_id not in satellite.collections:
                raise InvalidInput(
                    "invalid_parameter",
                    f"satellites[{index}].{field}: not a satellite the platform offers"
                    if satellite is None
                    else f"satellites[{index}].{field}: {satellite.name} has no collection"
                    f" {collection_id!r} (it has {', '.join(satellite.collections)}).",
                    {"parameter": f"satellites[{index}].{field}", "in": "body"},
                )
        start, end = (
            _instant(search.start_date, "start_date"),
            _instant(search.end_date, "end_date"),
        )
        if start > end:
            raise InvalidInput(
                "invalid_parameter",
                "end_date is before start_date.",
                {"parameter": "end_date", "in": "body"},
            )
        return ArchiveSearch(
            intersects=search.geometry,
            datetime=f"{search.start_date}/{search.end_date}",
            collections=tuple(sorted({c for _, c in search.satellites})),
            satellite_ids=tuple(sorted({s for s, _ in search.satellites})),
            ranges=search.filters,
            limit=search.limit,
        )

    def count(self, search: ArchiveSearch) -> int:
        where, _ = self.filter_of(search)
        return self.index.count(where)

    def filter_of(self, search: ArchiveSearch) -> tuple[FeatureFilter, list[SortKey]]:
        """The index's filter and order for a search; 400 naming the field when it is
        well-formed JSON that means nothing (a ring that is not closed, west > east...)."""
        box, exact = _spatial(search)
        start, end = _interval(search.datetime) if search.datetime else (None, None)
        if search.collections is not None:
            unknown = [c for c in search.collections if c not in self._collections]
            if unknown:
                raise NotFound(
                    "not_found",
                    f"No collection {', '.join(map(repr, unknown))} in the archive.",
                    {"parameter": "collections", "in": "body", "unknown": unknown},
                )
        tests = [
            test
            for name, operators in (search.query or {}).items()
            for test in _property_tests(name, operators)
        ]
        for name, low, high in search.ranges:
            path = _property_path(name, "filters")
            tests += [PropertyTest(path, "gte", low), PropertyTest(path, "lte", high)]
        where = FeatureFilter(
            box=box,
            exact=exact,
            ids=search.ids,
            collections=search.collections,
            satellite_ids=search.satellite_ids,
            start=start,
            end=end,
            properties=tuple(tests),
        )
        order = [_sort_key(field, direction) for field, direction in search.sortby] or [
            SortKey("datetime", descending=True)
        ]
        return where, order

    def _item(self, row: Row) -> ArchiveItem:
        item_id, collection, satellite_id, at, west, south, east, north, document = row[:9]
        satellite = self._satellites[satellite_id]
        parsed = orjson.loads(document)
        bands = satellite.band_names
        return ArchiveItem(
            id=item_id,
            collection=collection,
            geometry=parsed["geometry"],
            bbox=(west, south, east, north),
            datetime=rfc3339(at),
            band_names=bands,
            satellite_id=satellite_id,
            properties=parsed["properties"],
            bands=satellite.bands,
            raster_seed=int(unit_interval(self.seed, "raster", item_id) * 2**32),
            rgb=_indices(bands, satellite.rgb_composite),
        )

    # -- files ----------------------------------------------------------------------
    def geotiff(self, collection: str, item_id: str) -> bytes:
        """The item's multi-band COG: its bands, its CRS and transform, nodata outside
        its footprint when the raster is north-up lon/lat."""
        item = self.item_in(collection, item_id)
        return self._files.get_or_make((item.id, "tif"), lambda: _write_geotiff(item))

    def thumbnail(self, collection: str, item_id: str) -> bytes:
        item = self.item_in(collection, item_id)
        return self._files.get_or_make(
            (item.id, "png"),
            lambda: rasters.write_png(item.raster_seed, len(item.band_names), item.rgb),
        )


def _write_geotiff(item: ArchiveItem) -> bytes:
    geographic = item.crs == "EPSG:4326"
    return rasters.write_geotiff(
        item.band_names,
        item.raster_bounds,
        item.crs,
        item.raster_seed,
        size=tuple(reversed(item.properties["proj:shape"])),  # type: ignore[arg-type]
        footprint=item.geometry if geographic else None,
    )


def _indices(names: tuple[str, ...], rgb: tuple[str, str, str]) -> tuple[int, int, int]:
    return names.index(rgb[0]), names.index(rgb[1]), names.index(rgb[2])


# -- validation of searches -------------------------------------------------------------


def _spatial(
    search: ArchiveSearch,
) -> tuple[tuple[float, float, float, float] | None, Any]:
    """The R*Tree box and the exact footprint test of `bbox` or `intersects`."""
    if search.bbox is not None and search.intersects is not None:
        raise InvalidInput(
            "invalid_parameter",
            "Give either bbox or intersects, not both.",
            {"parameter": "intersects", "in": "body"},
        )
    if search.bbox is not None:
        shape = _bbox_shape(search.bbox)
    elif search.intersects is not None:
        shape = _geometry_shape(search.intersects)
    else:
        return None, None
    shapely.prepare(shape)
    west, south, east, north = shape.bounds
    return (west, south, east, north), lambda wkbs: shape.intersects(shapely.from_wkb(wkbs))


def _bbox_shape(bbox: Sequence[float]) -> Any:
    """A 2D (4 numbers) or 3D (6) bbox as a polygon; west > east crosses the antimeridian."""
    invalid = "bbox must be [west, south, east, north] (or 6 numbers with heights) in lon/lat"
    if len(bbox) not in (4, 6):
        raise InvalidInput(
            "invalid_parameter", invalid, {"parameter": "bbox", "in": "body", "length": len(bbox)}
        )
    half = len(bbox) // 2
    west, south, east, north = bbox[0], bbox[1], bbox[half], bbox[half + 1]
    details = {"parameter": "bbox", "in": "body"}
    if not (-180 <= west <= 180 and -180 <= east <= 180 and -90 <= south <= north <= 90):
        raise InvalidInput(
            "invalid_parameter",
            f"{invalid}: longitudes within ±180, latitudes within ±90, south <= north.",
            details,
        )
    if len(bbox) == 6 and bbox[2] > bbox[5]:
        raise InvalidInput("invalid_parameter", f"{invalid}: the lower height first.", details)
    if west <= east:
        return shapely.box(west, south, east, north)
    return shapely.MultiPolygon(
        [shapely.box(west, south, 180, north), shapely.box(-180, south, east, north)]
    )


def _geometry_shape(geometry: dict[str, Any], parameter: str = "intersects") -> Any:
    """A GeoJSON geometry as shapely's, refused (400) if it is not valid GeoJSON."""
    details = {"parameter": parameter, "in": "body"}
    for ring in _rings(geometry):
        if ring and ring[0] != ring[-1]:
            raise InvalidInput(
                "invalid_parameter",
                f"{parameter}: every polygon ring must be closed (first position = last).",
                details,
            )
    try:
        shape = shapely.from_geojson(json.dumps(geometry))
    except (shapely.errors.GEOSException, ValueError) as exc:
        raise InvalidInput(
            "invalid_parameter", f"{parameter}: not a GeoJSON geometry.", details
        ) from exc
    if shape.is_empty:
        raise InvalidInput("invalid_parameter", f"{parameter}: an empty geometry.", details)
    west, south, east, north = shape.bounds
    if not (-180 <= west <= east <= 180 and -90 <= south <= north <= 90):
        raise InvalidInput(
            "invalid_parameter",
            f"{parameter}: positions must be [longitude, latitude] within ±180 and ±90.",
            details,
        )
    if not shape.is_valid:
        raise InvalidInput(
            "invalid_parameter",
            f"{parameter}: not a valid geometry ({shapely.is_valid_reason(shape)}).",
            details,
        )
    return shape


def _rings(geometry: dict[str, Any]) -> list[list[Any]]:
    kind, coordinates = geometry.get("type"), geometry.get("coordinates")
    if kind == "Polygon":
        return list(coordinates or [])
    if kind == "MultiPolygon":
        return [ring for polygon in coordinates or [] for ring in polygon]
    if kind == "GeometryCollection":
        return [ring for part in geometry.get("geometries", []) for ring in _rings(part)]
    return []


def _interval(text: str) -> tuple[float | None, float | None]:
    """An RFC 3339 instant, or an interval `start/end` with `..` (or nothing) for an open end."""
    details = {"parameter": "datetime", "in": "body"}
    parts = text.split("/")
    if len(parts) > 2 or all(p in ("", "..") for p in parts):
        raise InvalidInput(
            "invalid_parameter",
            "datetime must be an RFC 3339 instant or an interval start/end (`..` for an open end).",
            details,
        )
    bounds = [None if p in ("", "..") else _instant(p) for p in parts]
    if len(bounds) == 1:
        return bounds[0], bounds[0]
    start, end = bounds
    if start is not None and end is not None and start > end:
        raise InvalidInput(
            "invalid_parameter", "datetime: the interval ends before it starts.", details
        )
    return start, end


_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")


def _instant(text: str, parameter: str = "datetime") -> float:
    if _RFC3339.fullmatch(text):
        try:
            return parse_rfc3339(text)
        except ValueError:  # well-formed, but not a date (month 13, hour 25)
            pass
    raise InvalidInput(
        "invalid_parameter",
        f"{parameter}: {text!r} is not an RFC 3339 date-time (e.g. 2025-04-05T11:56:49Z).",
        {"parameter": parameter, "in": "body"},
    )


def _property_path(name: str, parameter: str) -> str:
    if not _PROPERTY_NAME.fullmatch(name):
        raise InvalidInput(
            "invalid_parameter",
            f"{parameter}: {name!r} is not a property name.",
            {"parameter": parameter, "in": "body"},
        )
    return f'$.properties."{name}"'


def _property_tests(name: str, operators: dict[str, Any]) -> list[PropertyTest]:
    path = _property_path(name, "query")
    tests = []
    for operator, value in operators.items():
        if operator == "in":
            tests.append(PropertyTest(path, "in", tuple(_sql_value(v) for v in value)))
        else:
            tests.append(PropertyTest(path, operator, _sql_value(value)))
    return tests


def _sql_value(value: Any) -> Any:
    """JSON values as json_extract answers them: arrays and objects as compact JSON text."""
    if isinstance(value, list | dict):
        return json.dumps(value, separators=(",", ":"))
    return value


def _sort_key(field: str, direction: str) -> SortKey:
    name = field
    for prefix in _SORT_PREFIXES:
        if name.startswith(prefix):
            name = name.removeprefix(prefix).strip("'\"")
    descending = direction.lower() == "desc"
    if name in _COLUMNS:
        return SortKey(_COLUMNS[name], descending)
    return SortKey(_property_path(name, "sortby"), descending)
