"""The archive and search operations over real HTTP: STAC that pystac parses, files that
rasterio and Pillow open from their hrefs, the searches' envelopes and refusals, and the
same archive on every worker and after a restart."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pystac
import pytest
import rasterio
import requests
from PIL import Image
from rasterio.warp import transform_bounds

from pixxel_mock.contract.live import LiveMock

from .helpers import ALPHA

SEED = 5
TD1 = "0004ab8d-0ad1-4d62-8a3f-fe18a7000e70"
TD2 = "0005c5bb-0bd2-4c80-9393-4a808341c54c"
S2 = "0002a3a3-00a2-4b55-842b-44d8202c6d60"
PUNJAB = {
    "type": "Polygon",
    "coordinates": [[[74.6, 29.8], [76.4, 29.8], [76.4, 31.4], [74.6, 31.4], [74.6, 29.8]]],
}


@pytest.fixture(scope="module")
def mock() -> Iterator[LiveMock]:
    with LiveMock(["--seed", str(SEED), "--validate-responses", "--workers", "2"]) as live:
        yield live


def get(mock: LiveMock, path: str, **kwargs: Any) -> requests.Response:
    return requests.get(mock.url + path, headers=ALPHA, timeout=30, **kwargs)


def post(mock: LiveMock, path: str, body: Any) -> requests.Response:
    return requests.post(mock.url + path, json=body, headers=ALPHA, timeout=30)


def test_satellites_are_td1_td2_and_sentinel_2_with_their_bands(mock: LiveMock) -> None:
    satellites = {s["id"]: s for s in get(mock, "/v0/satellites").json()["satellites"]}
    assert set(satellites) == {TD1, TD2, S2}
    td2 = satellites[TD2]
    assert td2["name"] == "Pixxel-TD2" and td2["collections"][0]["id"] == "pixxel-td-l2a"
    assert set(td2["rgb_composite"].values()) <= {b["name"] for b in td2["bands"]}
    assert satellites[S2]["collections"][0]["id"] == "sentinel-2-l2a"


def test_collections_parse_in_pystac_and_their_links_resolve(mock: LiveMock) -> None:
    listed = get(mock, "/v0/archives/collections").json()["collections"]
    assert [c["id"] for c in listed] == ["pixxel-td-l2a", "sentinel-2-l2a"]
    only = get(mock, "/v0/archives/collections", params={"ids": "sentinel-2-l2a,nope"}).json()
    assert [c["id"] for c in only["collections"]] == ["sentinel-2-l2a"]
    document = get(mock, "/v0/archives/collections/pixxel-td-l2a").json()
    collection = pystac.Collection.from_dict(document)
    assert collection.id == "pixxel-td-l2a" and collection.title == "Pixxel TD L2A"
    west, south, east, north = collection.extent.spatial.bboxes[0]
    assert 72 < west < east < 79 and 12 < south < north < 32
    assert {link["rel"] for link in document["links"]} == {"self", "root", "items"}
    for link in document["links"]:  # pystac would fetch them without the key
        assert requests.get(link["href"], headers=ALPHA, timeout=30).status_code == 200, link


def test_items_parse_in_pystac_with_links_that_resolve(mock: LiveMock) -> None:
    page = get(mock, "/v0/archives/collections/pixxel-td-l2a/items", params={"limit": 3}).json()
    items = pystac.ItemCollection.from_dict(page)
    assert len(items) == 3
    next_link = next(link for link in page["links"] if link["rel"] == "next")
    following = requests.get(next_link["href"], headers=ALPHA, timeout=30).json()
    assert following["features"][0]["id"] not in {i.id for i in items}
    item = items.items[0]
    assert item.collection_id == "pixxel-td-l2a" and item.properties["proj:code"] == "EPSG:4326"
    assert all(isinstance(value, str) for value in page["features"][0]["bbox"])  # as documented
    links = {link["rel"]: link["href"] for link in page["features"][0]["links"]}
    assert set(links) == {"self", "parent", "collection", "root"}
    for rel, href in links.items():  # pystac would fetch them without the key
        assert requests.get(href, headers=ALPHA, timeout=30).status_code == 200, rel
    same = requests.get(links["self"], headers=ALPHA, timeout=30).json()
    parsed = pystac.Item.from_dict(same)
    assert parsed.to_dict(transform_hrefs=False) == item.to_dict(transform_hrefs=False)


def test_an_items_links_name_the_host_each_client_asked(mock: LiveMock) -> None:
    """An item's JSON is written once per host and kept: a client on another host name
    of the same mock gets links on its own host, before and after."""
    search = {"bbox": [74.6, 29.8, 76.4, 31.4], "limit": 3}
    local = mock.url.replace("127.0.0.1", "localhost")
    for url in (mock.url, local, mock.url):
        found = requests.post(f"{url}/v0/archives/search", json=search, headers=ALPHA, timeout=30)
        hrefs = [
            href
            for feature in found.json()["features"]
            for href in (
                *(link["href"] for link in feature["links"]),
                *(asset["href"] for asset in feature["assets"].values()),
            )
        ]
        assert len(hrefs) == 3 * 6 and all(h.startswith(f"{url}/") for h in hrefs), hrefs


@pytest.mark.parametrize("collection", ["pixxel-td-l2a", "sentinel-2-l2a"])
def test_rasterio_opens_an_items_geotiff_straight_from_its_href(
    mock: LiveMock, collection: str
) -> None:
    page = get(mock, f"/v0/archives/collections/{collection}/items", params={"limit": 1}).json()
    feature = page["features"][0]
    asset = feature["assets"]["data"]
    names = tuple(band["name"] for band in asset["eo:bands"])
    with rasterio.open(asset["href"]) as dataset:  # GDAL reads it over HTTP, by ranges
        assert dataset.crs == rasterio.crs.CRS.from_string(feature["properties"]["proj:code"])
        assert list(dataset.transform)[:6] == pytest.approx(feature["properties"]["proj:transform"])
        assert dataset.count == len(names) and dataset.descriptions == names
        bounds = transform_bounds(dataset.crs, "EPSG:4326", *dataset.bounds)
        assert bounds == pytest.approx([float(v) for v in feature["bbox"]], abs=2e-3)
    thumbnail = requests.get(feature["assets"]["thumbnail"]["href"], timeout=30)  # no key
    image = Image.open(io.BytesIO(thumbnail.content))
    image.load()
    assert thumbnail.headers["Content-Type"] == "image/png" and image.format == "PNG"


def test_a_file_answers_a_range_with_its_part(mock: LiveMock) -> None:
    feature = post(mock, "/v0/archives/search", {"limit": 1}).json()["features"][0]
    href = feature["assets"]["data"]["href"]
    whole = requests.get(href, timeout=30)
    part = requests.get(href, headers={"Range": "bytes=0-99"}, timeout=30)
    assert part.status_code == 206 and part.content == whole.content[:100]
    assert part.headers["Content-Range"] == f"bytes 0-99/{len(whole.content)}"
    assert whole.content[:4] == b"II*\x00"
    missing = requests.get(f"{mock.url}/__archive/pixxel-td-l2a/TD1_nope.tif", timeout=30)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


def test_archive_search_filters_and_pages(mock: LiveMock) -> None:
    body = {
        "intersects": PUNJAB,
        "datetime": "2025-01-01T00:00:00Z/..",
        "collections": ["pixxel-td-l2a"],
        "query": {"eo:cloud_cover": {"lt": 20}},
        "sortby": [{"field": "properties->>'eo:cloud_cover'", "direction": "asc"}],
        "limit": 5,
    }
    found = post(mock, "/v0/archives/search", body).json()["features"]
    assert len(found) == 5
    clouds = [f["properties"]["eo:cloud_cover"] for f in found]
    assert clouds == sorted(clouds) and max(clouds) < 20
    assert all(f["properties"]["datetime"] >= "2025" for f in found)
    assert {f["collection"] for f in found} == {"pixxel-td-l2a"}
    second = post(mock, "/v0/archives/search", {**body, "offset": 5}).json()["features"]
    assert not {f["id"] for f in found} & {f["id"] for f in second}
    assert len(post(mock, "/v0/archives/search", {}).json()["features"]) == 10  # default limit


@pytest.mark.parametrize(
    ("body", "parameter"),
    [
        ({"bbox": [74, 29, 76]}, "bbox"),
        ({"bbox": [74, 31, 76, 29]}, "bbox"),
        (
            {"intersects": {"type": "Polygon", "coordinates": [[[74, 29], [75, 29], [75, 30]]]}},
            "intersects",
        ),
        ({"intersects": {"type": "Circle", "coordinates": [74, 29]}}, "intersects"),
        ({"datetime": "2025-13-45"}, "datetime"),
        ({"limit": 0}, "limit"),
        ({"limit": 10_001}, "limit"),
        ({"query": {"eo:cloud_cover": {"about": 3}}}, "query/eo:cloud_cover"),
    ],
)
def test_archive_searches_the_spec_forbids_are_400_naming_the_field(
    mock: LiveMock, body: dict[str, Any], parameter: str
) -> None:
    answer = post(mock, "/v0/archives/search", body)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["details"]["parameter"] == parameter


def test_unknown_collections_and_items_are_404(mock: LiveMock) -> None:
    for path in (
        "/v0/archives/collections/landsat-c2-l2",
        "/v0/archives/collections/landsat-c2-l2/items",
        "/v0/archives/collections/pixxel-td-l2a/items/TD1_nope",
    ):
        answer = get(mock, path)
        assert answer.status_code == 404 and answer.json()["error"]["code"] == "not_found", path
    answer = post(mock, "/v0/archives/search", {"collections": ["landsat-c2-l2"]})
    assert answer.status_code == 404
    assert (
        get(mock, "/v0/archives/collections/pixxel-td-l2a/items", params={"limit": 0}).status_code
        == 400
    )


def test_satellite_search_answers_a_map_keyed_by_item_id_with_skip(mock: LiveMock) -> None:
    body = {
        "start_date": "2024-06-01T00:00:00Z",
        "end_date": "2025-06-01T00:00:00Z",
        "satellites": [{"collection_id": "pixxel-td-l2a", "satellite_id": TD2}],
        "filters": [{"id": "eo:cloud_cover", "min": 0, "max": 30}],
        "geometry": PUNJAB,
        "limit": 4,
    }
    answer = post(mock, "/v0/search", body).json()
    assert answer["pagination"]["limit"] == 4 and answer["pagination"]["skip"] == 0
    assert answer["pagination"]["total"] > 4 and len(answer["items"]) == 4
    for item_id, item in answer["items"].items():
        assert item["id"] == item_id and item["properties"]["platform"] == "TD2"
        assert item["properties"]["eo:cloud_cover"] <= 30
        assert "2024-06-01" <= item["properties"]["datetime"] <= "2025-06-01"
    everywhere = post(mock, "/v0/search", {**body, "geometry": None}).json()
    assert everywhere["pagination"]["total"] > answer["pagination"]["total"]


@pytest.mark.parametrize(
    ("change", "parameter"),
    [
        (
            {"satellites": [{"collection_id": "pixxel-td-l2a", "satellite_id": S2}]},
            "satellites[0].collection_id",
        ),
        (
            {
                "satellites": [
                    {
                        "collection_id": "pixxel-td-l2a",
                        "satellite_id": "11111111-1111-4111-8111-111111111111",
                    }
                ]
            },
            "satellites[0].satellite_id",
        ),
        ({"end_date": "2023-01-01T00:00:00Z"}, "end_date"),
        ({"start_date": "soon"}, "start_date"),
        ({"limit": 0}, "limit"),
    ],
)
def test_satellite_searches_that_mean_nothing_are_400(
    mock: LiveMock, change: dict[str, Any], parameter: str
) -> None:
    body = {
        "start_date": "2024-06-01T00:00:00Z",
        "end_date": "2025-06-01T00:00:00Z",
        "satellites": [{"collection_id": "pixxel-td-l2a", "satellite_id": TD1}],
        "geometry": PUNJAB,
        **change,
    }
    answer = post(mock, "/v0/search", body)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["details"]["parameter"] == parameter


def test_every_archive_operation_needs_a_key(mock: LiveMock) -> None:
    assert requests.get(mock.url + "/v0/satellites", timeout=30).status_code == 403
    answer = requests.post(mock.url + "/v0/archives/search", json={}, timeout=30)
    assert answer.status_code == 403


def test_the_same_archive_on_every_worker_and_after_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "state.sqlite"
    body = {"bbox": [77.3, 12.7, 77.9, 13.3], "limit": 50}

    def ids(server: LiveMock) -> tuple[str, ...]:
        return tuple(f["id"] for f in post(server, "/v0/archives/search", body).json()["features"])

    args = ["--seed", str(SEED), "--state-file", str(state)]
    with LiveMock([*args, "--workers", "2"]) as first:
        answers = {ids(first) for _ in range(6)}  # six requests over two workers
    assert len(answers) == 1
    index = state.with_name(state.name + ".archive")
    built = index.stat().st_mtime_ns
    with LiveMock([*args, "--workers", "1"]) as restarted:
        assert ids(restarted) in answers
    assert index.stat().st_mtime_ns == built  # kept, not generated again
    with LiveMock(["--seed", str(SEED), "--workers", "1"]) as fresh:  # a new index, same seed
        assert ids(fresh) in answers
    with LiveMock(["--seed", str(SEED + 1), "--workers", "1"]) as other:
        assert ids(other) not in answers
