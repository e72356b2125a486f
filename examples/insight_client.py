"""An example Pixxel API client: an AOI, an index's PNG over it, an insight, its download.

    python examples/insight_client.py --base-url http://127.0.0.1:8080 \\
        --key KEY --project 9531985d-5d9d-49f8-9818-e811892f902b --out insight.zip

KEY is your API key or, against the mock, a key of its fixtures/keys.yaml.

The journey: find archive items over a polygon (`POST /v0/search`, one satellite after
the other), create an AOI from them and wait until it is processed; find the satellite's
NDVI index, visualize it over the AOI, wait for the visualization and save its PNG for
one capture date (`--out` with `.png`); pick the mosaic asset, estimate the insight's
cost, create it, poll the list until it ends, then repeat the download PUT until the
package is ready and fetch it through its signed URL. It retries throttling and gateway
errors as pipeline_client.py does, and reports a failed AOI, visualization or insight as
its outcome rather than crashing.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from examples.pipeline_client import PixxelClient, PixxelError

POLYGON = {  # fields near Ludhiana, where the mock's archive has Pixxel scenes
    "type": "Polygon",
    "coordinates": [[[75.8, 30.88], [75.9, 30.88], [75.9, 30.96], [75.8, 30.96], [75.8, 30.88]]],
}
AOI_DONE = {"success", "partial_success", "failed"}  # AOIs' and visualizations' ends
INSIGHT_DONE = {"completed", "failed"}
IMAGERY = ("mosaic", "stac_item")  # an AOI's own assets (visualizations add theirs)


@dataclass(frozen=True)
class InsightOutcome:
    aoi_id: str
    aoi_status: str
    visualization_status: str = ""  # "" if the satellite has no NDVI index
    png_bytes: int = 0
    insight_id: str = ""
    status: str = ""  # the insight's last status ("" if it never ran)
    cost: int = 0  # the estimate, in credits
    err_msg: str = ""
    package_bytes: int = 0


class InsightClient(PixxelClient):
    """The AOI and insight calls, on the retrying client of pipeline_client.py."""

    def find_items(self, polygon: dict[str, Any]) -> tuple[str, list[str]]:
        """A satellite with items over the polygon, and up to two of those items."""
        for satellite in self._call("GET", "/v0/satellites")["satellites"]:
            for collection in satellite["collections"]:
                query = {
                    "start_date": "2020-01-01T00:00:00Z",
                    "end_date": "2030-01-01T00:00:00Z",
                    "satellites": [
                        {"satellite_id": satellite["id"], "collection_id": collection["id"]}
                    ],
                    "geometry": polygon,
                    "limit": 2,
                }
                items = self._call("POST", "/v0/search", query)["items"]
                if items:
                    return satellite["id"], list(items)
        raise LookupError("no satellite has imagery over the polygon")

    def create_aoi(self, project_id: str, name: str, polygon: dict[str, Any]) -> dict[str, Any]:
        satellite_id, item_ids = self.find_items(polygon)
        body = {
            "name": name,
            "description": "insight_client.py example",
            "provider": "pixxel",
            "satellite_id": satellite_id,
            "project_id": project_id,
            "geometry": polygon,
            "item_ids": item_ids,
        }
        return self._call("POST", "/v0/aois", body)

    def wait(self, read: Any, done: set[str], deadline: float) -> dict[str, Any]:
        """Poll `read()` with backoff until its status is in `done` or time is up."""
        delay, give_up = self.poll_delay, time.monotonic() + deadline
        while True:
            state = read()
            if state["status"] in done or time.monotonic() > give_up:
                return state
            time.sleep(delay)
            delay = min(delay * 1.5, self.max_delay)

    def aoi(self, aoi_id: str) -> dict[str, Any]:
        return self._call("GET", f"/v0/aoi/{aoi_id}")

    def assets(self, aoi_id: str) -> list[dict[str, Any]]:
        return self._call("GET", f"/v0/aois/{aoi_id}/assets", limit="500")["assets"]

    def best_asset(self, aoi_id: str) -> dict[str, Any]:
        """The mosaic if it succeeded (a `partial_success` AOI lacks it), else an item's."""
        done = [
            a
            for a in self.assets(aoi_id)
            if a["status"] == "success" and a["asset_type"] in IMAGERY
        ]
        return sorted(done, key=lambda a: a["asset_type"] != "mosaic")[0]

    def index(self, satellite_id: str, name: str) -> dict[str, Any] | None:
        indices = self._call("GET", "/v0/indices", satellite_id=satellite_id, limit="500")
        return next((i for i in indices["indices"] if i["name"] == name), None)

    def visualize(self, aoi_id: str, index_id: str, deadline: float) -> dict[str, Any]:
        """Create a visualization of the index over the AOI and wait until it ends."""
        made = self._call("POST", f"/v0/aois/{aoi_id}/visualizations", {"index_id": index_id})

        def read() -> dict[str, Any]:
            listed = self._call("GET", f"/v0/aois/{aoi_id}/visualizations", limit="500")
            return next(v for v in listed["visualization"] if v["id"] == made["id"])

        return self.wait(read, AOI_DONE, deadline)

    def png(self, aoi_id: str, visualization: dict[str, Any]) -> bytes | None:
        """The dynamic-legend PNG of the first capture date whose asset succeeded."""
        dates = sorted(
            a["date"].replace("-", "_")
            for a in self.assets(aoi_id)
            if a["visualization_id"] == visualization["id"] and a["status"] == "success"
        )
        if not dates:
            return None
        body = {
            "index_id": visualization["index_id"],
            "date": dates[0],
            "visualization_mode": "dynamic",
        }
        path = f"/v0/aois/{aoi_id}/visualizations/{visualization['id']}/png"
        return self._call("POST", path, body, raw=True)

    def insight_body(self, block_name: str, asset: dict[str, Any]) -> dict[str, Any]:
        """The newest version of an insight block, its raster inputs filled from the asset."""
        block = self._call("GET", "/v0/blocks/insights", name=block_name)["blocks"][-1]
        inputs = [
            {**spec, "asset_source": {"id": asset["id"], "type": asset["asset_type"]}}
            for spec in block["input"]
            if spec.get("format") == "raster"
        ]
        return {
            "name": f"{block_name} on {asset['name']}",
            "block": {"name": block["name"], "string": block["id"], "version": block["version"]},
            "input": inputs,
        }

    def estimate_insight(self, aoi_id: str, body: dict[str, Any]) -> int:
        return int(
            self._call("POST", f"/v0/aoi/{aoi_id}/insights", {**body, "estimate": True})["estimate"]
        )

    def create_insight(self, aoi_id: str, body: dict[str, Any]) -> str:
        return self._call("POST", f"/v0/aoi/{aoi_id}/insights", body)["id"]

    def insight(self, aoi_id: str, insight_id: str) -> dict[str, Any]:
        (found,) = self._call("GET", f"/v0/aoi/{aoi_id}/insights", id=insight_id)["insights"]
        return found

    def download_insight(self, aoi_id: str, insight_id: str, deadline: float = 600.0) -> bytes:
        delay, give_up = self.poll_delay, time.monotonic() + deadline
        path = f"/v0/aoi/{aoi_id}/insights/{insight_id}/download"
        while True:
            download = self._call("PUT", path, {})
            if download["status"] == "ready" and download["signed_url"]:
                package = requests.get(download["signed_url"], timeout=self.timeout)  # no key
                package.raise_for_status()
                return package.content
            if time.monotonic() > give_up:
                raise TimeoutError(f"the package of {insight_id} is still {download['status']}")
            time.sleep(delay)
            delay = min(delay * 1.5, self.max_delay)


def run_insight(
    client: InsightClient,
    project_id: str,
    out: Path,
    block: str = "crop-classification",
    deadline: float = 3600.0,
) -> InsightOutcome:
    """AOI -> index -> visualization PNG -> insight -> download. Writes the PNG beside
    `out` (suffix .png) and the ZIP to `out` when the insight completed."""
    aoi = client.create_aoi(project_id, f"insight example {uuid.uuid4().hex[:8]}", POLYGON)
    aoi_id = aoi["aoi_id"]
    aoi = client.wait(lambda: client.aoi(aoi_id), AOI_DONE, deadline)
    print(f"AOI {aoi_id} {aoi['status']}")
    outcome = InsightOutcome(aoi_id, aoi["status"])
    if aoi["status"] not in ("success", "partial_success"):
        return outcome
    ndvi = client.index(aoi["satellite_id"], "NDVI")
    if ndvi is not None:
        visualization = client.visualize(aoi_id, ndvi["id"], deadline)
        png = client.png(aoi_id, visualization)
        print(f"visualization {visualization['id']} {visualization['status']}")
        if png is not None:
            out.with_suffix(".png").write_bytes(png)
            print(f"NDVI image written to {out.with_suffix('.png')}")
        outcome = dataclasses.replace(
            outcome, visualization_status=visualization["status"], png_bytes=len(png or b"")
        )
    body = client.insight_body(block, client.best_asset(aoi_id))
    cost = client.estimate_insight(aoi_id, body)
    insight_id = client.create_insight(aoi_id, body)
    print(f"insight {insight_id} created (estimated cost {cost} credits)")
    insight = client.wait(lambda: client.insight(aoi_id, insight_id), INSIGHT_DONE, deadline)
    print(f"insight {insight_id} {insight['status']} ({insight['progress']}%)")
    outcome = dataclasses.replace(
        outcome,
        insight_id=insight_id,
        status=insight["status"],
        cost=cost,
        err_msg=insight["err_msg"],
    )
    if insight["status"] != "completed":
        return outcome
    package = client.download_insight(aoi_id, insight_id)
    out.write_bytes(package)
    print(f"package written to {out}")
    return dataclasses.replace(outcome, package_bytes=len(package))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", default="https://api.pixxel.space")
    parser.add_argument("--key", required=True)
    parser.add_argument("--project", required=True)
    parser.add_argument("--block", default="crop-classification")
    parser.add_argument("--out", type=Path, default=Path("insight.zip"))
    args = parser.parse_args(argv)
    try:
        outcome = run_insight(
            InsightClient(args.base_url, args.key), args.project, args.out, args.block
        )
    except PixxelError as exc:
        print(f"the API refused: {exc}", file=sys.stderr)
        return 1
    return 0 if outcome.status == "completed" else 2


if __name__ == "__main__":
    sys.exit(main())
