"""Handlers of the AOI, Assets and Downloads operations, and their shapes on the wire."""

from __future__ import annotations

from typing import Any

from pixxel_mock.server.handling import Call, HandlerRegistry, Reply
from pixxel_mock.server.model.aoi_downloads import AoiDownloadView
from pixxel_mock.server.model.aois import AoiView, AssetState, Footprint, NewAoi
from pixxel_mock.server.model.catalog import ApiKey
from pixxel_mock.server.model.coverage import aoi_download_states, aoi_states, asset_states
from pixxel_mock.server.model.timefmt import parse_rfc3339, rfc3339, utc_day

HANDLERS = HandlerRegistry()
REMOTE_ROOT = "s3://pixxel-mock/aois"


def _key(call: Call) -> ApiKey:
    assert call.key is not None, "secured operations always carry a key"
    return call.key


def _id(call: Call, name: str) -> str:
    """UUIDs compare in canonical lower case, whatever case the client sent."""
    return str(call.params[name]).lower()


def _page(call: Call, rows: list[Any]) -> tuple[list[Any], dict[str, int]]:
    offset, limit = call.params["offset"], call.params["limit"]
    return rows[offset : offset + limit], {"limit": limit, "offset": offset, "total": len(rows)}


@HANDLERS("listAois")
def list_aois(call: Call) -> Reply:
    filters = {n: call.params[n] for n in ("aoi_name",) if call.params.get(n) is not None}
    if call.params.get("aoi_id") is not None:
        filters["aoi_id"] = _id(call, "aoi_id")
    for name in ("created_at", "updated_at"):
        if call.params.get(name) is not None:
            filters[name] = utc_day(parse_rfc3339(call.params[name]))
    project_ids = call.params.get("project_ids")
    views = call.mock.aois.matching(
        _key(call),
        call.session,
        project_ids.lower().split(",") if project_ids else None,
        filters,
    )
    page, pagination = _page(call, views)
    return 200, {"aois": [aoi(v) for v in page], "pagination": pagination}


@HANDLERS("createAoi")
def create_aoi(call: Call) -> Reply:
    body = call.params["body"]
    view = call.mock.aois.create(
        _key(call),
        call.session,
        NewAoi(
            project_id=body["project_id"].lower(),
            name=body["name"],
            description=body["description"],
            satellite_id=body["satellite_id"].lower(),
            provider=body["provider"],
            coordinates=body["geometry"]["coordinates"],
            item_ids=body["item_ids"],
        ),
    )
    call.observe(aoi_states(view.state.status))
    return 201, aoi(view)


@HANDLERS("getAoi")
def get_aoi(call: Call) -> Reply:
    view = call.mock.aois.get(_key(call), call.session, _id(call, "aoi_id"), poll=True)
    call.observe(aoi_states(view.state.status))
    return 200, aoi(view)


@HANDLERS("listAoiAssets")
def list_aoi_assets(call: Call) -> Reply:
    view = call.mock.aois.get(_key(call), call.session, _id(call, "aoi_id"))
    assets = [("", a) for a in view.state.assets]
    assets += call.mock.visualizations.assets_of(call.session, view)
    page, pagination = _page(call, assets)
    call.observe(asset_states(a.status for _, a in assets))
    return 200, {"assets": [asset(view, a, v) for v, a in page], "pagination": pagination}


@HANDLERS("createAoiDownload")
def create_aoi_download(call: Call) -> Reply:
    download = call.mock.aoi_downloads.create(
        _key(call),
        call.session,
        _id(call, "aoi_id"),
        [asset_id.lower() for asset_id in call.params["body"]["asset_ids"]],
    )
    call.observe(aoi_download_states(download.status))
    return 201, aoi_download(download, call.base_url)


@HANDLERS("getAoiDownload")
def get_aoi_download(call: Call) -> Reply:
    download = call.mock.aoi_downloads.get(
        _key(call), call.session, _id(call, "aoi_id"), _id(call, "download_id")
    )
    call.observe(aoi_download_states(download.status))
    return 200, aoi_download(download, call.base_url)


def _geometry(footprint: Footprint) -> dict[str, Any]:
    return {
        "type": "Polygon",
        "coordinates": [[list(position) for position in ring] for ring in footprint.rings],
    }


def aoi(view: AoiView) -> dict[str, Any]:
    record, plan, state = view.record, view.plan, view.state
    return {
        "aoi_id": record.id,
        "name": record.name,
        "description": record.description,
        "satellite_id": record.satellite_id,
        "project_id": record.project_id,
        "images": {
            item.id: {"collection": item.collection, "datetime": rfc3339(item.datetime)}
            for item in record.items
        },
        "eo_bands": list(dict.fromkeys(b for item in record.items for b in item.band_names)),
        "geometry": _geometry(plan.footprint),
        "progress": state.progress,
        "status": state.status,
        "is_favourite": False,
        "created_at": rfc3339(record.created_at),
        "updated_at": rfc3339(state.updated_at),
        "user_id": record.created_by,
        "area_in_sq_m": plan.footprint.area_in_sq_m,
        "centroid": list(plan.footprint.centroid),
    }


def asset(view: AoiView, state: AssetState, visualization_id: str = "") -> dict[str, Any]:
    """An asset of the AOI, or of one of its visualizations (`visualization_id`)."""
    plan = state.plan
    folder = (
        f"{view.record.id}/visualizations/{visualization_id}"
        if visualization_id
        else view.record.id
    )
    return {
        "id": plan.id,
        "aoi_id": view.record.id,
        "name": plan.name,
        "description": plan.description,
        "asset_type": plan.asset_type,
        "band_list": list(plan.band_names),
        "centroid": list(plan.footprint.centroid),
        "area_in_sq_m": plan.footprint.area_in_sq_m,
        "date": utc_day(plan.date),
        "geometry": _geometry(plan.footprint),
        "path": f"{REMOTE_ROOT}/{folder}/{plan.name}.tif",
        "progress": state.progress,
        "resolution": plan.resolution,
        "status": state.status,
        "visualization_id": visualization_id,
        "created_at": rfc3339(plan.start),
        "updated_at": rfc3339(state.updated_at),
    }


def aoi_download(download: AoiDownloadView, base_url: str) -> dict[str, Any]:
    signed = base_url.rstrip("/") + download.signed_path if download.signed_path else ""
    return {"download_id": download.id, "signed_url": signed, "status": download.status}
