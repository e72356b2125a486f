"""The seeded archive: deterministic items, real files, and searches through the R*Tree."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
import rasterio
from PIL import Image
from rasterio.io import MemoryFile
from rasterio.warp import transform_bounds

from pixxel_mock.server.model.archive import (
    Archive,
    ArchiveSearch,
    load_archive_fixtures,
)
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
