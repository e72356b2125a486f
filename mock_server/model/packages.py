"""Download packages: real ZIP files with a manifest and files of the declared formats.

Every byte derives from the job's id and its task states, so the same job always
gives the same ZIP (fixed timestamps, sorted entries, seeded contents). Rasters are
small single-band GeoTIFFs (EPSG:4326), vectors GeoJSON, tables CSV.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import struct
import zipfile
from dataclasses import dataclass
from typing import Any

from pixxel_mock.server.model.ids import unit_interval
from pixxel_mock.server.model.lifecycle import JobState, TaskState

EXTENSIONS = {"raster": ".tif", "vector": ".geojson", "tabular": ".csv"}
ARTIFACT_FORMATS = tuple(EXTENSIONS)
RASTER_SIZE = 32
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
    """A valid single-band 8-bit GeoTIFF, RASTER_SIZE pixels square, in EPSG:4326."""
    size = RASTER_SIZE
    phase = unit_interval("phase", *seed)
    pixels = bytes(
        int(127 + 120 * ((x + y + 31 * phase) % size) / size) & 0xFF
        for y in range(size)
        for x in range(size)
    )
    lon, lat = _origin(*seed)
    geokeys = [1, 1, 0, 3, 1024, 0, 1, 2, 1025, 0, 1, 1, 2048, 0, 1, 4326]
    extra = [
        (33550, 12, struct.pack("<3d", 0.0001, 0.0001, 0.0)),
        (33922, 12, struct.pack("<6d", 0, 0, 0, lon, lat, 0)),
        (34735, 3, struct.pack(f"<{len(geokeys)}H", *geokeys)),
    ]
    short_tags = [
        (256, size),
        (257, size),
        (258, 8),
        (259, 1),
        (262, 1),
        (277, 1),
        (278, size),
        (284, 1),
        (339, 1),
    ]
    entry_count = len(short_tags) + 2 + len(extra)
    ifd_size = 2 + 12 * entry_count + 4
    data_offset = 8 + ifd_size
    blobs = b""
    entries: list[bytes] = []
    for tag, value in short_tags:
        entries.append(struct.pack("<HHIHH", tag, 3, 1, value, 0))
    for tag, kind, blob in extra:
        count = len(blob) // (8 if kind == 12 else 2)
        entries.append(struct.pack("<HHII", tag, kind, count, data_offset + len(blobs)))
        blobs += blob
    pixel_offset = data_offset + len(blobs)
    entries.append(struct.pack("<HHII", 273, 4, 1, pixel_offset))
    entries.append(struct.pack("<HHII", 279, 4, 1, len(pixels)))
    entries.sort(key=lambda e: struct.unpack("<H", e[:2])[0])
    header = b"II" + struct.pack("<HI", 42, 8)
    ifd = struct.pack("<H", entry_count) + b"".join(entries) + struct.pack("<I", 0)
    return header + ifd + blobs + pixels


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
