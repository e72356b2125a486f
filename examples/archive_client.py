"""An example Pixxel API client: low-cloud archive imagery over a polygon, an AOI made of
it, its assets downloaded and one GeoTIFF opened.

    python examples/archive_client.py --base-url http://127.0.0.1:8080 \\
        --key KEY --project 9531985d-5d9d-49f8-9818-e811892f902b --out aoi.zip

KEY is your API key or, against the mock, a key of its fixtures/keys.yaml.

The journey: search each satellite's archive for items over the polygon with at most
`--max-cloud` percent cloud cover (`POST /v0/search`), create an AOI from the first
satellite's items, wait until it is processed, list its assets, download the ones that
succeeded through the download's signed URL, and open the first GeoTIFF of the ZIP with
rasterio. It retries throttling and gateway errors as pipeline_client.py does, and
reports a failed AOI as its outcome rather than crashing.
"""

from __future__ import annotations

import argparse
import io
import sys
import time
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import rasterio
import requests

from examples.insight_client import AOI_DONE, POLYGON, InsightClient


@dataclass(frozen=True)
class ArchiveOutcome:
    aoi_id: str
    aoi_status: str
    item_ids: tuple[str, ...] = ()
    assets: int = 0  # the AOI's assets that succeeded
    files: tuple[str, ...] = ()  # the names in the downloaded ZIP
    bands: int = 0  # of the first GeoTIFF, as rasterio reads it
    crs: str = ""


class ArchiveClient(InsightClient):
    """Archive search and AOI downloads, on the retrying client of pipeline_client.py."""

    def low_cloud_items(
        self, polygon: dict[str, Any], max_cloud: int, limit: int = 2
    ) -> tuple[str, list[str]]:
        """The first satellite with items over the polygon under `max_cloud`, and its items."""
        for satellite in self._call("GET", "/v0/satellites")["satellites"]:
            query = {
                "start_date": "2020-01-01T00:00:00Z",
                "end_date": "2030-01-01T00:00:00Z",
                "satellites": [
                    {"satellite_id": satellite["id"], "collection_id": collection["id"]}
                    for collection in satellite["collections"]
                ],
                "filters": [{"id": "eo:cloud_cover", "min": 0, "max": max_cloud}],
                "geometry": polygon,
                "limit": limit,
            }
            items = self._call("POST", "/v0/search", query)["items"]
            if items:
                return satellite["id"], list(items)
        raise LookupError(f"no satellite has imagery under {max_cloud}% cloud over the polygon")

    def download_assets(self, aoi_id: str, asset_ids: list[str], deadline: float) -> bytes:
        """Create a download of the assets, read it until it has a URL, fetch the ZIP."""
        made = self._call("POST", f"/v0/aois/{aoi_id}/downloads", {"asset_ids": asset_ids})
        path = f"/v0/aois/{aoi_id}/downloads/{made['download_id']}"
        delay, give_up = self.poll_delay, time.monotonic() + deadline
        download = made
        while not download["signed_url"]:
            if time.monotonic() > give_up:
                raise TimeoutError(f"download {made['download_id']} is still {download['status']}")
            time.sleep(delay)
            delay = min(delay * 1.5, self.max_delay)
            download = self._call("GET", path)
        package = requests.get(download["signed_url"], timeout=self.timeout)  # no key
        package.raise_for_status()
        return package.content


def run_archive(
    client: ArchiveClient, project_id: str, out: Path, max_cloud: int = 20, deadline: float = 3600.0
) -> ArchiveOutcome:
    """Search -> AOI -> assets -> download -> rasterio. Writes the ZIP to `out`."""
    satellite_id, item_ids = client.low_cloud_items(POLYGON, max_cloud)
    body = {
        "name": f"archive example {uuid.uuid4().hex[:8]}",
        "description": "archive_client.py example",
        "provider": "pixxel",
        "satellite_id": satellite_id,
        "project_id": project_id,
        "geometry": POLYGON,
        "item_ids": item_ids,
    }
    aoi_id = client._call("POST", "/v0/aois", body)["aoi_id"]
    aoi = client.wait(lambda: client.aoi(aoi_id), AOI_DONE, deadline)
    print(f"AOI {aoi_id} {aoi['status']} from {len(item_ids)} items")
    if aoi["status"] not in ("success", "partial_success"):
        return ArchiveOutcome(aoi_id, aoi["status"], tuple(item_ids))
    done = [a["id"] for a in client.assets(aoi_id) if a["status"] == "success"]
    package = client.download_assets(aoi_id, done, deadline)
    out.write_bytes(package)
    archive = zipfile.ZipFile(io.BytesIO(package))
    files = tuple(archive.namelist())
    first = next(name for name in files if name.endswith(".tif"))
    with rasterio.MemoryFile(archive.read(first)) as memory, memory.open() as raster:
        bands, crs = raster.count, str(raster.crs)
    print(f"{len(files)} files in {out}; {first}: {bands} bands, {crs}")
    return ArchiveOutcome(aoi_id, aoi["status"], tuple(item_ids), len(done), files, bands, crs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--project", required=True)
    parser.add_argument("--out", type=Path, default=Path("aoi.zip"))
    parser.add_argument("--max-cloud", type=int, default=20)
    args = parser.parse_args(argv)
    outcome = run_archive(
        ArchiveClient(args.base_url, args.key), args.project, args.out, args.max_cloud
    )
    return 0 if outcome.files else 1


if __name__ == "__main__":
    sys.exit(main())
