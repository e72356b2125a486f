"""Package files are real files of their formats, and byte-identical for the same job."""

from __future__ import annotations

import csv
import io
import json

from PIL import Image

from pixxel_mock.server.model import packages


def test_raster_is_a_valid_georeferenced_tiff() -> None:
    content = packages.geotiff({"name": "scene", "format": "raster"}, "job-1", "ingest")
    image = Image.open(io.BytesIO(content))
    image.load()
    assert image.format == "TIFF" and image.size == (packages.RASTER_SIZE,) * 2
    assert image.mode == "L"
    tags = image.tag_v2
    assert 33550 in tags and 33922 in tags  # ModelPixelScale, ModelTiepoint
    assert 4326 in tags[34735]  # GeoKeyDirectory: EPSG:4326
    assert len(set(image.tobytes())) > 1


def test_vector_is_geojson_and_tabular_is_csv_with_declared_headers() -> None:
    collection = json.loads(packages.geojson({"name": "water_mask", "format": "vector"}, "j"))
    assert collection["type"] == "FeatureCollection" and len(collection["features"]) == 3
    ring = collection["features"][0]["geometry"]["coordinates"][0]
    assert ring[0] == ring[-1]
    spec = {
        "name": "stats",
        "format": "tabular",
        "properties": {"file_schema": {"headers": ["field_id", "mean"]}},
    }
    rows = list(csv.reader(io.StringIO(packages.table(spec, "j").decode())))
    assert rows[0] == ["field_id", "mean"] and len(rows) == 6


def test_contents_depend_only_on_their_seed() -> None:
    spec = {"name": "scene", "format": "raster"}
    assert packages.geotiff(spec, "a") == packages.geotiff(spec, "a")
    assert packages.geotiff(spec, "a") != packages.geotiff(spec, "b")
    manifest = {"job_id": "a"}
    files = [packages.PackageFile("outputs/t/scene.tif", "raster", "t", "scene", b"x")]
    assert packages.build_zip(manifest, files) == packages.build_zip(manifest, files)
