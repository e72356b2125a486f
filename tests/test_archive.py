"""The seeded archive: deterministic items, real files, and searches through the R*Tree."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import rasterio
import shapely
from PIL import Image
from rasterio.io import MemoryFile
from rasterio.warp import transform_bounds
from shapely.geometry import mapping, shape

from pixxel_mock.server.model.archive import (
    Archive,
    ArchiveItem,
    ArchiveSearch,
    load_archive_fixtures,
)
from pixxel_mock.server.model.errors import InvalidInput, NotFound
from pixxel_mock.server.spec.resources import FIXTURES_DIR

FIXTURES = load_archive_fixtures(FIXTURES_DIR)
ITEMS = 2_000


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Archive]:
    archive = Archive(FIXTURES, 7, ITEMS, tmp_path_factory.mktemp("archive") / "index")
    yield archive
    archive.index.close()


def test_the_archive_holds_the_seeded_items_in_the_fixture_regions(archive: Archive) -> None:
    assert archive.index.count_all() == ITEMS
    items = archive.search(ArchiveSearch(limit=500))
    assert {i.collection for i in items} == {"pixxel-td-l2a", "sentinel-2-l2a"}
    regions = [r.bbox for r in FIXTURES.regions]
    for item in items:
        lon, lat = (
            item.properties["view:scene_center_lon"],
            item.properties["view:scene_center_lat"],
        )
        assert any(w <= lon <= e and s <= lat <= n for w, s, e, n in regions), item.id
        ring = item.geometry["coordinates"][0]
        assert ring[0] == ring[-1]
        xs, ys = [p[0] for p in ring], [p[1] for p in ring]
        assert item.bbox == (min(xs), min(ys), max(xs), max(ys))


def test_items_come_in_the_order_asked_and_only_those_that_exist(archive: Archive) -> None:
    first, second = archive.search(ArchiveSearch(limit=2))
    found = archive.items([second.id, "TD1_nope", first.id])
    assert [i.id for i in found] == [second.id, first.id]
    assert archive.item(first.collection, first.id) == first
    assert (
        archive.item(
            "sentinel-2-l2a" if first.collection != "sentinel-2-l2a" else "pixxel-td-l2a", first.id
        )
        is None
    )


def test_the_same_seed_gives_the_same_archive_and_another_seed_another(tmp_path: Path) -> None:
    def ids(seed: int, name: str) -> list[str]:
        other = Archive(FIXTURES, seed, 300, tmp_path / name)
        try:
            return [i.id for i in other.search(ArchiveSearch(limit=300, sortby=(("id", "asc"),)))]
        finally:
            other.index.close()

    assert ids(7, "a") == ids(7, "b")
    assert ids(7, "a") != ids(8, "c")


@pytest.mark.parametrize("collection", ["pixxel-td-l2a", "sentinel-2-l2a"])
def test_an_items_geotiff_opens_in_rasterio_with_its_crs_bounds_and_bands(
    archive: Archive, collection: str
) -> None:
    item = archive.search(ArchiveSearch(collections=(collection,), limit=1))[0]
    with MemoryFile(archive.geotiff(collection, item.id)) as memory, memory.open() as dataset:
        assert dataset.driver == "GTiff" and dataset.block_shapes[0] == (16, 16)
        assert dataset.overviews(1) == [2]
        assert dataset.crs == rasterio.crs.CRS.from_string(item.properties["proj:code"])
        assert list(dataset.transform)[:6] == pytest.approx(item.properties["proj:transform"])
        assert [dataset.height, dataset.width] == item.properties["proj:shape"]
        assert dataset.count == len(item.band_names) and dataset.descriptions == item.band_names
        lonlat = transform_bounds(dataset.crs, "EPSG:4326", *dataset.bounds)
        assert lonlat == pytest.approx(item.bbox, abs=2e-3)
        assert dataset.read(1).std() > 0


def test_the_thumbnail_is_a_png_pillow_decodes(archive: Archive) -> None:
    item = archive.search(ArchiveSearch(limit=1))[0]
    image = Image.open(io.BytesIO(archive.thumbnail(item.collection, item.id)))
    image.load()
    assert (
        image.format == "PNG"
        and image.mode == "RGB"
        and len(image.getcolors(maxcolors=4096) or ()) > 10
    )


# -- searches: each filter against the same filter applied by hand to every item --------


@pytest.fixture(scope="module")
def everything(archive: Archive) -> list[ArchiveItem]:
    return archive.search(ArchiveSearch(limit=10_000))


def _ids(items: list[ArchiveItem]) -> set[str]:
    return {i.id for i in items}


def test_without_filters_every_item_comes_newest_first(
    archive: Archive, everything: list[ArchiveItem]
) -> None:
    assert len(everything) == ITEMS
    keys = [(i.datetime, i.id) for i in everything]
    assert [k[0] for k in keys] == sorted((k[0] for k in keys), reverse=True)
    page = archive.search(ArchiveSearch(limit=7, offset=5))
    assert [i.id for i in page] == [i.id for i in everything[5:12]]
    assert len(archive.search(ArchiveSearch())) == 10  # the documented default limit


@pytest.mark.parametrize(
    "box",
    [
        (75.0, 30.0, 75.4, 30.4),
        (77.2, 12.6, 78.0, 13.4),
    ],  # a few items; crowded (searched a time window at a time)
    ids=["sparse", "crowded"],
)
def test_bbox_keeps_the_items_whose_footprint_meets_the_box(
    archive: Archive, everything: list[ArchiveItem], box: tuple[float, float, float, float]
) -> None:
    expected = [i.id for i in everything if shape(i.geometry).intersects(shapely.box(*box))]
    found = archive.search(ArchiveSearch(bbox=box, limit=10_000))
    assert [i.id for i in found] == expected and 0 < len(expected) < ITEMS  # in the same order
    assert archive.count(ArchiveSearch(bbox=box)) == len(expected)
    oldest_first = archive.search(
        ArchiveSearch(bbox=box, sortby=(("datetime", "asc"),), limit=10_000)
    )
    assert [i.id for i in oldest_first] == expected[::-1]
    page = archive.search(ArchiveSearch(bbox=box, datetime="2025-01-01T00:00:00Z/..", offset=3))
    later = [i for i in found if i.datetime >= "2025-01-01"]
    assert [i.id for i in page] == [i.id for i in later[3:13]]


def test_intersects_tests_footprints_exactly_not_their_bounding_boxes(
    archive: Archive, everything: list[ArchiveItem]
) -> None:
    """A TD scene is a strip rotated in its north-up bbox: the bbox's corners are not in it."""
    item = next(i for i in everything if i.collection == "pixxel-td-l2a")
    west, south, east, north = item.bbox
    corner = shapely.box(west, north - (north - south) / 10, west + (east - west) / 10, north)
    footprint = shape(item.geometry)
    assert corner.intersects(shapely.box(*item.bbox)) and not corner.intersects(footprint)
    corner_search = ArchiveSearch(intersects=mapping(corner), ids=(item.id,))
    assert archive.search(corner_search) == []
    inside = mapping(footprint.centroid.buffer(0.001))
    assert _ids(archive.search(ArchiveSearch(intersects=inside, ids=(item.id,)))) == {item.id}
    # and against every item: exactly the footprints that meet a polygon
    polygon = shapely.Polygon([(75.0, 30.0), (75.8, 30.1), (75.2, 30.9), (75.0, 30.0)])
    expected = {i.id for i in everything if shape(i.geometry).intersects(polygon)}
    search = ArchiveSearch(intersects=mapping(polygon), limit=10_000)
    assert _ids(archive.search(search)) == expected and expected


@pytest.mark.parametrize(
    ("text", "keeps"),
    [
        ("2025-01-01T00:00:00Z/2025-06-30T23:59:59Z", lambda t: "2025-01-01" <= t < "2025-07-01"),
        ("2025-06-01T00:00:00Z/..", lambda t: t >= "2025-06-01"),
        ("../2024-06-01T00:00:00+00:00", lambda t: t <= "2024-06-01T00:00:00Z"),
        ("/2024-06-01T00:00:00Z", lambda t: t <= "2024-06-01T00:00:00Z"),
    ],
)
def test_datetime_takes_intervals_with_open_ends(
    archive: Archive, everything: list[ArchiveItem], text: str, keeps: Any
) -> None:
    expected = {i.id for i in everything if keeps(i.datetime)}
    assert _ids(archive.search(ArchiveSearch(datetime=text, limit=10_000))) == expected
    assert 0 < len(expected) < ITEMS


def test_datetime_as_an_instant_matches_that_second(
    archive: Archive, everything: list[ArchiveItem]
) -> None:
    item = everything[100]
    found = archive.search(ArchiveSearch(datetime=item.datetime, limit=100))
    assert item.id in _ids(found) and {i.datetime for i in found} == {item.datetime}


def test_collections_ids_and_query_operators(
    archive: Archive, everything: list[ArchiveItem]
) -> None:
    s2 = archive.search(ArchiveSearch(collections=("sentinel-2-l2a",), limit=10_000))
    assert _ids(s2) == {i.id for i in everything if i.collection == "sentinel-2-l2a"}
    wanted = (everything[3].id, everything[30].id, "TD1_000000_20250101_L2A_20250102_01000000")
    assert _ids(archive.search(ArchiveSearch(ids=wanted))) == set(wanted[:2])
    low = archive.search(ArchiveSearch(query={"eo:cloud_cover": {"lt": 10}}, limit=10_000))
    assert _ids(low) == {i.id for i in everything if i.properties["eo:cloud_cover"] < 10}
    band = {"eo:cloud_cover": {"gt": 20, "lte": 30}, "platform": {"eq": "TD2"}}
    expected = {
        i.id
        for i in everything
        if 20 < i.properties["eo:cloud_cover"] <= 30 and i.properties["platform"] == "TD2"
    }
    assert _ids(archive.search(ArchiveSearch(query=band, limit=10_000))) == expected and expected
    several = {"platform": {"in": ["TD1", "TD2"]}}
    assert _ids(archive.search(ArchiveSearch(query=several, limit=10_000))) == {
        i.id for i in everything if i.collection == "pixxel-td-l2a"
    }


@pytest.mark.parametrize(
    "field", ["eo:cloud_cover", "properties.eo:cloud_cover", "properties->>'eo:cloud_cover'"]
)
def test_sortby_orders_by_a_property_in_either_direction(archive: Archive, field: str) -> None:
    ascending = archive.search(ArchiveSearch(sortby=((field, "asc"),), limit=50))
    clouds = [i.properties["eo:cloud_cover"] for i in ascending]
    assert clouds == sorted(clouds)
    descending = archive.search(ArchiveSearch(sortby=((field, "desc"),), limit=50))
    top = [i.properties["eo:cloud_cover"] for i in descending]
    assert top == sorted(top, reverse=True) and top[0] > clouds[-1]
    by_time = archive.search(ArchiveSearch(sortby=(("properties->>'datetime'", "asc"),), limit=20))
    assert [i.datetime for i in by_time] == sorted(i.datetime for i in by_time)


def test_a_spatial_search_goes_through_the_rtree(archive: Archive) -> None:
    where, order = archive.filter_of(
        ArchiveSearch(bbox=(75.0, 30.0, 75.4, 30.4), query={"eo:cloud_cover": {"lt": 10}})
    )
    plan = archive.index.plan(where, order)
    assert any(step.startswith("SCAN b VIRTUAL TABLE INDEX") for step in plan), plan
    assert not any(step.startswith("SCAN f") for step in plan), plan  # no pass over every item
    crowded_search = archive.filter_of(ArchiveSearch(bbox=(77.2, 12.6, 78.0, 13.4)))
    crowded = archive.index.plan(*crowded_search)
    assert crowded[0].startswith("SCAN b VIRTUAL TABLE INDEX"), crowded  # a window of time
    assert "C4" in crowded[0], crowded  # t0 < the window's end, in the R*Tree's own search
    assert len(list(archive.index._windows(*crowded_search))) > 1
    unfiltered = archive.index.plan(*archive.filter_of(ArchiveSearch()))
    assert unfiltered[0].startswith("SCAN f USING"), unfiltered
    assert "features_by_time" in unfiltered[0], unfiltered


@pytest.mark.parametrize(
    ("search", "parameter"),
    [
        (ArchiveSearch(bbox=(1.0, 2.0, 3.0, 4.0, 5.0)), "bbox"),
        (ArchiveSearch(bbox=(10.0, 40.0, 20.0, 30.0)), "bbox"),
        (ArchiveSearch(bbox=(-190.0, 0.0, 20.0, 30.0)), "bbox"),
        (ArchiveSearch(datetime="last week"), "datetime"),
        (ArchiveSearch(datetime="2025-02-30T00:00:00Z"), "datetime"),
        (ArchiveSearch(datetime="2025-03-01T00:00:00Z/2025-02-01T00:00:00Z"), "datetime"),
        (ArchiveSearch(datetime="../.."), "datetime"),
        (
            ArchiveSearch(
                intersects={"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1]]]}
            ),
            "intersects",
        ),
        (
            ArchiveSearch(
                intersects={
                    "type": "Polygon",
                    "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]],
                }
            ),
            "intersects",
        ),
        (ArchiveSearch(intersects={"type": "Point", "coordinates": [200, 0]}), "intersects"),
        (
            ArchiveSearch(
                bbox=(0.0, 0.0, 1.0, 1.0), intersects={"type": "Point", "coordinates": [0, 0]}
            ),
            "intersects",
        ),
        (ArchiveSearch(sortby=(("no such field!", "asc"),)), "sortby"),
    ],
)
def test_searches_that_mean_nothing_are_refused_naming_the_field(
    archive: Archive, search: ArchiveSearch, parameter: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        archive.search(search)
    assert refused.value.details["parameter"] == parameter


def test_an_unknown_collection_is_not_found(archive: Archive) -> None:
    with pytest.raises(NotFound):
        archive.search(ArchiveSearch(collections=("landsat-c2-l2",)))
    with pytest.raises(NotFound):
        archive.page("landsat-c2-l2", 10, 0)
    with pytest.raises(NotFound):
        archive.item_in("pixxel-td-l2a", "TD1_nope")
