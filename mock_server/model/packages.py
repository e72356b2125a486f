"""Download packages: real ZIP files with a manifest and files of the declared formats.

Every byte derives from the job's id and its task states, so the same job always
gives the same ZIP (fixed timestamps, sorted entries, seeded contents). Rasters are
small single-band Cloud-Optimized GeoTIFFs (EPSG:4326, rasters.py), vectors GeoJSON, tables CSV.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile
from dataclasses import dataclass
from typing import Any

from pixxel_mock.server.model import rasters
from pixxel_mock.server.model.ids import unit_interval
from pixxel_mock.server.model.lifecycle import JobState, TaskState

EXTENSIONS = {"raster": ".tif", "vector": ".geojson", "tabular": ".csv"}
ARTIFACT_FORMATS = tuple(EXTENSIONS)
RASTER_SIZE = rasters.RASTER_SIZE
_ZIP_TIME = (2020, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class PackageFile:
    path: str
    format: str
    task: str
    name: str
    content: bytes


def output_file_name(output: dict[str, Any]) -> str:
    return output["name"] + EXTENSIONS[output["format"]]


def task_output_files(job_id: str, task: TaskState) -> list[PackageFile]:
    """The artifact outputs of a completed task."""
    if task.status != "completed":
        return []
    name = task.plan.template.name
    return [
        PackageFile(
            path=f"outputs/{name}/{output_file_name(output)}",
            format=output["format"],
            task=name,
            name=output["name"],
            content=render(output, job_id, name),
        )
        for output in task.plan.template.block.outputs
        if output.get("format") in ARTIFACT_FORMATS
    ]


def job_input_files(job_id: str, job: JobState) -> list[PackageFile]:
    """The artifact inputs that the workflow gives its tasks (the run's inputs)."""
    files = []
    for task in job.tasks:
        template = task.plan.template
        for spec in template.block.inputs:
            if spec["name"] in template.inputs and spec.get("format") in ARTIFACT_FORMATS:
                files.append(
                    PackageFile(
                        path=f"inputs/{template.name}/{spec['name']}{EXTENSIONS[spec['format']]}",
                        format=spec["format"],
                        task=template.name,
                        name=spec["name"],
                        content=render(spec, job_id, f"input:{template.name}"),
                    )
                )
    return files


def build_zip(manifest: dict[str, Any], files: list[PackageFile]) -> bytes:
    """A deterministic ZIP: manifest.json first, then the files in path order."""
    manifest = dict(manifest)
    manifest["files"] = [
        {
            "path": f.path,
            "format": f.format,
            "task": f.task,
            "name": f.name,
            "size": len(f.content),
            "sha256": hashlib.sha256(f.content).hexdigest(),
        }
        for f in sorted(files, key=lambda f: f.path)
    ]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        entries = [("manifest.json", json.dumps(manifest, indent=2, sort_keys=True).encode())]
        entries += [(f.path, f.content) for f in sorted(files, key=lambda f: f.path)]
        for path, content in entries:
            info = zipfile.ZipInfo(path, date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, content)
    return buffer.getvalue()


def render(spec: dict[str, Any], *seed: object) -> bytes:
    """File contents for a DataType of format raster, vector or tabular."""
    renderer = {"raster": geotiff, "vector": geojson, "tabular": table}[spec["format"]]
    return renderer(spec, *seed)


def _origin(*seed: object) -> tuple[float, float]:
    """A deterministic point over India, where the fixtures' AOIs are."""
    return 72.0 + 16.0 * unit_interval("lon", *seed), 9.0 + 20.0 * unit_interval("lat", *seed)


def geotiff(spec: dict[str, Any], *seed: object) -> bytes:
    """A single-band 8-bit Cloud-Optimized GeoTIFF, RASTER_SIZE pixels square, in
    EPSG:4326, its top-left corner at a seeded point (pixels of 0.0001 degrees)."""
    lon, lat = _origin(*seed)
    side = RASTER_SIZE * 0.0001
    return rasters.write_geotiff(
        (spec["name"],),
        (lon, lat - side, lon + side, lat),
        "EPSG:4326",
        int(unit_interval("pixels", *seed) * 2**32),
        size=RASTER_SIZE,
        dtype="uint8",
    )


def geojson(spec: dict[str, Any], *seed: object) -> bytes:
    """A FeatureCollection of three small polygons near a seeded point."""
    lon, lat = _origin(*seed)
    features = []
    for index in range(3):
        x0, y0 = lon + 0.01 * index, lat + 0.005 * index
        ring = [[x0, y0], [x0 + 0.008, y0], [x0 + 0.008, y0 + 0.004], [x0, y0 + 0.004], [x0, y0]]
        features.append(
            {
                "type": "Feature",
                "id": index + 1,
                "properties": {"name": f"{spec['name']}-{index + 1}"},
                "geometry": {"type": "Polygon", "coordinates": [ring]},
            }
        )
    return json.dumps({"type": "FeatureCollection", "features": features}, indent=1).encode()


def table(spec: dict[str, Any], *seed: object) -> bytes:
    """A CSV with the declared headers (or id,value) and five seeded rows."""
    schema = (spec.get("properties") or {}).get("file_schema") or {}
    headers = list(schema.get("headers") or ["id", "value"])
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(headers)
    for row in range(5):
        writer.writerow(
            [f"{spec['name']}-{row + 1}"]
            + [f"{100 * unit_interval(h, row, *seed):.3f}" for h in headers[1:]]
        )
    return out.getvalue().encode()
