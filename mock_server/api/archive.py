"""Handlers of the imagery operations: satellites, the archive's collections and items,
its search, and Search Satellite Images; translate a validated call into an archive
call and back."""

from __future__ import annotations

from typing import Any

from pixxel_mock.server.api import stac
from pixxel_mock.server.handling import Call, HandlerRegistry, Reply
from pixxel_mock.server.model.archive import ArchiveSearch, SatelliteSearch

HANDLERS = HandlerRegistry()


def _base(call: Call) -> str:
    return call.base_url.rstrip("/")


@HANDLERS("listSatellites")
def list_satellites(call: Call) -> Reply:
    archive = call.mock.archive
    return 200, {"satellites": [stac.satellite(s, archive) for s in archive.satellites]}


@HANDLERS("listArchiveCollections")
def list_archive_collections(call: Call) -> Reply:
    ids = call.params.get("ids")
    wanted = [i.strip() for i in ids.split(",") if i.strip()] if ids is not None else None
    archive, base = call.mock.archive, _base(call)
    return 200, {
        "collections": [stac.collection(c, archive, base) for c in archive.collections(wanted)]
    }


@HANDLERS("getArchiveCollection")
def get_archive_collection(call: Call) -> Reply:
    archive = call.mock.archive
    return 200, stac.collection(archive.collection(call.params["cid"]), archive, _base(call))


@HANDLERS("listArchiveItems")
def list_archive_items(call: Call) -> Reply:
    cid, limit, offset = call.params["cid"], call.params["limit"], call.params["offset"]
    items = call.mock.archive.page(cid, limit, offset)
    base = _base(call)
    url = f"{stac.collection_url(base, cid)}/items"
    links = [
        {"rel": "self", "href": f"{url}?limit={limit}&offset={offset}", "type": stac.GEOJSON_TYPE},
        {"rel": "collection", "href": stac.collection_url(base, cid), "type": stac.JSON_TYPE},
    ]
    if len(items) == limit:
        links.append(
            {
                "rel": "next",
                "href": f"{url}?limit={limit}&offset={offset + limit}",
                "type": stac.GEOJSON_TYPE,
            }
        )
    return 200, stac.feature_collection(items, base, links, call.mock.rendered_items)


@HANDLERS("getArchiveItem")
def get_archive_item(call: Call) -> Reply:
    found = call.mock.archive.item_in(call.params["cid"], call.params["id"])
    return 200, stac.item_json(found, _base(call), call.mock.rendered_items)


@HANDLERS("searchArchive")
def search_archive(call: Call) -> Reply:
    body: dict[str, Any] = call.params["body"]
    search = ArchiveSearch(
        bbox=_tuple(body.get("bbox")),
        intersects=body.get("intersects"),
        datetime=body.get("datetime"),
        collections=_tuple(body.get("collections")),
        ids=_tuple(body.get("ids")),
        query=body.get("query"),
        sortby=tuple((s["field"], s.get("direction", "asc")) for s in body.get("sortby", ())),
        limit=body.get("limit", 10),
        offset=body.get("offset", 0),
    )
    items = call.mock.archive.search(search)
    base = _base(call)
    links = [{"rel": "self", "href": f"{base}/v0/archives/search", "type": stac.GEOJSON_TYPE}]
    return 200, stac.feature_collection(items, base, links, call.mock.rendered_items)


@HANDLERS("searchSatelliteImages")
def search_satellite_images(call: Call) -> Reply:
    body: dict[str, Any] = call.params["body"]
    archive = call.mock.archive
    search = archive.satellite_search(
        SatelliteSearch(
            start_date=body["start_date"],
            end_date=body["end_date"],
            satellites=tuple(
                (s["satellite_id"].lower(), s["collection_id"]) for s in body["satellites"]
            ),
            filters=tuple((f["id"], f["min"], f["max"]) for f in body.get("filters", ())),
            geometry=body.get("geometry"),
            limit=body.get("limit", 10),
        )
    )
    items = archive.search(search)
    base = _base(call)
    return 200, {
        "items": {i.id: stac.item_json(i, base, call.mock.rendered_items) for i in items},
        "pagination": {"limit": search.limit, "skip": 0, "total": archive.count(search)},
    }


def _tuple(values: list[Any] | None) -> tuple[Any, ...] | None:
    return tuple(values) if values is not None else None
