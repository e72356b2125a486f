"""The archive as JSON: STAC items, collections and pages with links on the answering
host, and the satellites. `base` is the answering host's URL, without a trailing slash."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from pixxel_mock.server.model.archive import (
    QUERYABLES,
    REFLECTANCE_SCALE,
    STAC_EXTENSIONS,
    STAC_VERSION,
    Archive,
    ArchiveItem,
    Collection,
    Satellite,
)
from pixxel_mock.server.state.cache import BoundedCache

COG_TYPE = "image/tiff; application=geotiff; profile=cloud-optimized"  # as control/ serves it
JSON_TYPE = "application/json"
GEOJSON_TYPE = "application/geo+json"
ARCHIVE_FILES = "/__archive"  # the items' files (control.yaml), public like an open bucket


def collection_url(base: str, collection_id: str) -> str:
    return f"{base}/v0/archives/collections/{collection_id}"


def item(archive_item: ArchiveItem, base: str) -> dict[str, Any]:
    """An item as STAC 1.0 JSON, its `bbox` as strings (the reference's type)."""
    collection = collection_url(base, archive_item.collection)
    files = f"{base}{ARCHIVE_FILES}/{archive_item.collection}/{archive_item.id}"
    gsd = archive_item.properties["gsd"]
    return {
        "type": "Feature",
        "stac_version": STAC_VERSION,
        "stac_extensions": list(STAC_EXTENSIONS),
        "id": archive_item.id,
        "collection": archive_item.collection,
        "bbox": [repr(value) for value in archive_item.bbox],
        "geometry": archive_item.geometry,
        "properties": archive_item.properties,
        "assets": {
            "data": {
                "href": f"{files}.tif",
                "type": COG_TYPE,
                "title": "Surface reflectance, every band (Cloud-Optimized GeoTIFF)",
                "roles": ["data"],
                "eo:bands": [
                    {
                        "name": band.name,
                        "common_name": band.common_name,
                        "center_wavelength": band.wavelength,
                        "fwhm": band.fwhm,
                        "solar_irradiance": band.solar_irradiance,
                    }
                    for band in archive_item.bands
                ],
                "raster:bands": [
                    {
                        "nodata": 0,
                        "offset": 0,
                        "scale": REFLECTANCE_SCALE,
                        "spatial_resolution": gsd,
                    }
                    for _ in archive_item.bands
                ],
            },
            "thumbnail": {
                "href": f"{files}.png",
                "type": "image/png",
                "title": "Thumbnail (RGB composite)",
                "roles": ["thumbnail"],
            },
        },
        "links": [
            {"rel": "self", "href": f"{collection}/items/{archive_item.id}", "type": GEOJSON_TYPE},
            {"rel": "parent", "href": collection, "type": JSON_TYPE},
            {"rel": "collection", "href": collection, "type": JSON_TYPE},
            {"rel": "root", "href": collection, "type": JSON_TYPE},
        ],
    }


RENDERED_ITEMS = 2048  # STAC items' JSON kept (the most recently answered)
RenderedItems = BoundedCache[tuple[object, ...], orjson.Fragment]


def rendered_json(
    rendered: RenderedItems, key: tuple[object, ...], make: Callable[[], Any]
) -> orjson.Fragment:
    """The JSON of what `key` names, written once while it stays among the most recently
    answered (for what never changes once made: a page of them is joined, not written
    anew). The key holds everything the JSON depends on, the answering host too."""
    found = rendered.get(key)
    return found if found is not None else rendered.put(key, orjson.Fragment(orjson.dumps(make())))


def item_json(archive_item: ArchiveItem, base: str, rendered: RenderedItems) -> orjson.Fragment:
    """An archive item's JSON (an item never changes)."""
    return rendered_json(
        rendered, ("archive", base, archive_item.id), lambda: item(archive_item, base)
    )


def feature_collection(
    items: list[ArchiveItem], base: str, links: list[dict[str, str]], rendered: RenderedItems
) -> dict[str, Any]:
    return {
        "type": "FeatureCollection",
        "features": [item_json(i, base, rendered) for i in items],
        "links": links,
    }


def collection(found: Collection, archive: Archive, base: str) -> dict[str, Any]:
    """A collection with its extent and summaries, as its items make them."""
    url = collection_url(base, found.id)
    satellites = archive.satellites_of(found.id)
    bbox, first, last = archive.extents.get(found.id, ((0.0, 0.0, 0.0, 0.0), None, None))
    return {
        "type": "Collection",
        "id": found.id,
        "stac_version": STAC_VERSION,
        "stac_extensions": list(STAC_EXTENSIONS),
        "title": found.title,
        "description": found.description,
        "license": found.license,
        "extent": {"spatial": {"bbox": [list(bbox)]}, "temporal": {"interval": [[first, last]]}},
        "summaries": {
            "platform": [s.code for s in satellites],
            "constellation": sorted({s.constellation for s in satellites}),
            "instruments": sorted({i for s in satellites for i in s.instruments}),
            "gsd": sorted({s.gsd for s in satellites}),
            "eo:cloud_cover": {"minimum": 0, "maximum": 100},
        },
        "providers": list(found.providers),
        "links": [
            {"rel": "self", "href": url, "type": JSON_TYPE},
            {"rel": "root", "href": url, "type": JSON_TYPE},
            {"rel": "items", "href": f"{url}/items", "type": GEOJSON_TYPE},
        ],
        "created_at": archive.created_at,
        "updated_at": last or archive.created_at,
    }


def satellite(found: Satellite, archive: Archive) -> dict[str, Any]:
    return {
        "id": found.id,
        "name": found.name,
        "bands": [
            {
                "name": band.name,
                "offset": 0,
                "scale": REFLECTANCE_SCALE,
                "spatial_resolution": round(found.gsd),
                "wavelength": band.wavelength,
            }
            for band in found.bands
        ],
        "collections": [
            {
                "id": c.id,
                "name": c.title,
                "provider": found.provider,
                "queryables": list(QUERYABLES),
                "rescale": list(c.rescale),
            }
            for c in archive.collections(found.collections)
        ],
        "rgb_composite": dict(zip(("red", "green", "blue"), found.rgb_composite, strict=True)),
    }
