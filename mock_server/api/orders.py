"""Handlers of the order desk (Bandsets, Order, Report, Stores, Catalog) and their wire
shapes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from flask import Response

from pixxel_mock.server.api.aois import _id, _key, _page
from pixxel_mock.server.api.stac import rendered_json
from pixxel_mock.server.handling import Call, HandlerRegistry, Reply
from pixxel_mock.server.model import reports
from pixxel_mock.server.model.catalog_downloads import CatalogDownloadView
from pixxel_mock.server.model.catalog_search import search
from pixxel_mock.server.model.coverage import order_item_states, order_states
from pixxel_mock.server.model.deliveries import DeliveryRequest, DeliveryView
from pixxel_mock.server.model.errors import AccessDenied, InvalidInput
from pixxel_mock.server.model.ids import derived_uuid
from pixxel_mock.server.model.orders import (
    Bandset,
    CatalogEntry,
    ItemState,
    OrderView,
    band_facts,
    interval,
)
from pixxel_mock.server.model.stores import StoreRecord
from pixxel_mock.server.model.timefmt import rfc3339

HANDLERS = HandlerRegistry()
STAC_EXTENSIONS = [
    "https://stac-extensions.github.io/eo/v1.1.0/schema.json",
    "https://stac-extensions.github.io/projection/v1.1.0/schema.json",
    "https://stac-extensions.github.io/sat/v1.0.0/schema.json",
    "https://stac-extensions.github.io/view/v1.0.0/schema.json",
]
COG = "image/tiff; application=geotiff; profile=cloud-optimized"
NO_CATALOG = "The API key does not have access to this catalog, or it does not exist."


def _ids(call: Call, name: str) -> list[str] | None:
    value = call.params.get(name)
    return value.lower().split(",") if value else None


def _lower(values: list[str] | None) -> list[str] | None:
    return [v.lower() for v in values] if values else None


# -- bandsets, orders, order items, report ----------------------------------------------


@HANDLERS("listBandsets")
def list_bandsets(call: Call) -> Reply:
    return 200, {
        "bandsets": [
            {
                "id": b.id,
                "name": b.name,
                "description": b.description,
                "captures": b.captures,
                "bands": [{"name": n, "wavelength": w} for n, w in b.bands],
            }
            for b in call.mock.orders.bandsets
        ]
    }


@HANDLERS("listOrders")
def list_orders(call: Call) -> Reply:
    views = call.mock.orders.listing(_key(call), call.session)
    user = call.params.get("user_id")
    if user:
        views = [v for v in views if v.record.created_by == user.lower()]
    page, pagination = _page(call, views)
    bandsets = call.mock.orders.fixtures.bandsets
    return 200, {"orders": [order(v, bandsets) for v in page], "pagination": pagination}


@HANDLERS("submitOrder")
def submit_order(call: Call) -> Reply:
    body = call.params["body"]
    view = call.mock.orders.submit(
        _key(call), call.session, body["order_items"], bool(body.get("dry_run", False))
    )
    call.observe(order_states(view.status, (i.status for i in view.items)))
    return 201, order(view, call.mock.orders.fixtures.bandsets)


@HANDLERS("getOrderById")
def get_order(call: Call) -> Reply:
    view = call.mock.orders.get(_key(call), call.session, _id(call, "id"), poll=True)
    call.observe(order_states(view.status, (i.status for i in view.items)))
    return 200, order(view, call.mock.orders.fixtures.bandsets)


@HANDLERS("listOrderItems")
def list_order_items(call: Call) -> Reply:
    params = call.params
    created = interval(params["created_at"], "created_at") if params.get("created_at") else None
    area = _area_range(params.get("area"))
    wanted = {n: _ids(call, n) for n in ("order_ids", "project_ids", "ids")}
    users = {n: _id(call, n) if params.get(n) else None for n in ("user_id", "created_by")}
    rows: list[tuple[OrderView, ItemState]] = []
    for view in call.mock.orders.listing(_key(call), call.session):
        for item in view.items:
            spec = item.spec
            checks = (
                users["user_id"] in (None, view.record.created_by),
                users["created_by"] in (None, view.record.created_by),
                params.get("type") in (None, spec.type),
                params.get("status") in (None, item.status),
                not wanted["order_ids"] or view.record.id in wanted["order_ids"],
                not wanted["project_ids"] or spec.project_id in wanted["project_ids"],
                not wanted["ids"] or spec.id in wanted["ids"],
                created is None or _within(view.record.created_at, created),
                area is None or _within(spec.area_km2, area),
            )
            if all(checks):
                rows.append((view, item))
    page, pagination = _page(call, rows)
    return 200, {
        "order_items": [order_item_response(call, v, i) for v, i in page],
        "pagination": pagination,
    }


@HANDLERS("getOrderItemById")
def get_order_item(call: Call) -> Reply:
    view, item = call.mock.orders.item(_key(call), call.session, _id(call, "id"), poll=True)
    call.observe(order_item_states(item.status, (t.status for t in item.tasks)))
    return 200, order_item_response(call, view, item)


@HANDLERS("downloadOrderReport")
def download_order_report(call: Call) -> Reply:
    tz = reports.zone(call.params.get("tz") or "UTC")
    text = reports.report(call.mock.orders.listing(_key(call), call.session), tz)
    return Response(
        text,
        status=200,
        mimetype="text/csv",
        headers={"Content-Disposition": "attachment; filename=order-report.csv"},
    )


def _area_range(text: str | None) -> tuple[float | None, float | None] | None:
    if not text:
        return None
    parts = text.split("/")  # the contract's pattern makes it two numbers or open ends
    try:
        if len(parts) != 2:
            raise ValueError(text)
        low, high = (None if p in ("", "..") else float(p) for p in parts)
    except ValueError:
        raise InvalidInput(
            "invalid_parameter",
            "area must be a range min/max of square kilometres (`..` for an open end).",
            {"parameter": "area", "in": "query"},
        ) from None
    return low, high


def _within(value: float, bounds: tuple[float | None, float | None]) -> bool:
    low, high = bounds
    return (low is None or value >= low) and (high is None or value <= high)


Bandsets = Mapping[str, Bandset]


def order(view: OrderView, bandsets: Bandsets) -> dict[str, Any]:
    record = view.record
    paid = view.at >= view.plan.paid_at
    return {
        "id": record.id,
        "org_id": record.org_id,
        "user_id": record.created_by,
        "created_by": record.created_by,
        "updated_by": record.created_by,
        "order_items": [order_item(view, item, bandsets) for item in view.items],
        "status": view.status,
        "total_amount": view.total_amount,
        "transaction_id": derived_uuid(record.id, "transaction") if paid else "",
        "paid_at": rfc3339(view.plan.paid_at) if paid else "",
        "created_at": rfc3339(record.created_at),
        "updated_at": rfc3339(view.updated_at),
    }


def order_item(view: OrderView, item: ItemState, bandsets: Bandsets) -> dict[str, Any]:
    spec, record = item.spec, view.record
    bandset = bandsets.get(spec.bandset_id)
    windows = spec.occurrences
    if bandset is None:
        bands, band_count = (
            {"bandset_id": "", "bands": [], "custom": []},
            max((len(f["band_names"]) for f in spec.archive_items), default=0),
        )
    else:
        bands = {
            "bandset_id": bandset.id,
            "bands": [{"name": n, "wavelength": w} for n, w in bandset.bands],
            "custom": [],
        }
        band_count = len(bandset.bands)
    return {
        "id": spec.id,
        "order_id": record.id,
        "org_id": record.org_id,
        "project_id": spec.project_id,
        "user_id": record.created_by,
        "created_by": record.created_by,
        "updated_by": record.created_by,
        "transaction_id": item.transaction_id,
        "name": spec.name,
        "type": spec.type,
        "status": item.status,
        "payment_status": item.payment_status,
        "feasibility_status": item.feasibility_status,
        "last_feasibility_check": rfc3339(item.last_feasibility_check),
        "recurrence": spec.recurrence,
        "delivery_speed": spec.delivery_speed,
        "image_type": "VNIR",
        "area": max(1, round(spec.area_km2)),
        "base_amount": spec.base_amount,
        "final_amount": spec.final_amount,
        "uplifts": list(spec.uplifts),
        "tokens_used": item.tokens_used,
        "cloud_cover": spec.cloud_cover,
        "off_nadir": spec.off_nadir,
        "start_date": rfc3339(windows[0][0]) if windows else "",
        "end_date": rfc3339(windows[-1][1]) if windows else "",
        "no_of_occurrences": spec.no_of_occurrences,
        "occurrences": [{"start": rfc3339(s), "end": rfc3339(e)} for s, e in windows],
        "number_of_bands": band_count,
        "bandset": bands,
        "cloud_delivery": (
            {"config": spec.store_id, "path": spec.delivery_path} if spec.store_id else None
        ),
        "images": [{"item_id": f["id"], "geometry": f["geometry"]} for f in spec.archive_items],
        "usecase": spec.usecase,
        "created_at": rfc3339(record.created_at),
        "updated_at": rfc3339(item.updated_at),
    }


def order_item_response(call: Call, view: OrderView, item: ItemState) -> dict[str, Any]:
    """An item with its tasks (List / Get Order Item)."""
    body = order_item(view, item, call.mock.orders.fixtures.bandsets)
    deliveries = call.mock.deliveries
    entries = call.mock.orders.entries_of(view) if item.spec.store_id else []
    charged = item.tokens_used > 0
    body["tasks"] = [
        {
            "id": task.plan.id,
            "order_item_id": item.spec.id,
            "type": task.plan.type,
            "status": task.status,
            "delivery_status": deliveries.task_status(item.spec, task, entries),
            "number_of_strips": 0 if task.plan.type == "ARCHIVE" else 1,
            "tokens_used": task.plan.tokens if charged and task.status != "DRAFT" else 0,
            "transaction_id": (
                derived_uuid(task.plan.id, "transaction")
                if charged and task.status != "DRAFT"
                else ""
            ),
            "start_date": rfc3339(task.plan.window[0]) if task.plan.window else "",
            "end_date": rfc3339(task.plan.window[1]) if task.plan.window else "",
            "created_at": rfc3339(view.record.created_at),
            "updated_at": rfc3339(task.updated_at),
            "created_by": view.record.created_by,
            "updated_by": view.record.created_by,
        }
        for task in item.tasks
    ]
    body["validation_errors"] = []
    return body


# -- stores -----------------------------------------------------------------------------


@HANDLERS("listStores")
def list_stores(call: Call) -> Reply:
    return 200, {"stores": [store(r) for r in call.mock.stores.listing(_key(call), call.session)]}


@HANDLERS("createStore")
def create_store(call: Call) -> Reply:
    return 200, store(call.mock.stores.create(_key(call), call.session, call.params["body"]))


@HANDLERS("deleteStore")
def delete_store(call: Call) -> Reply:
    call.mock.stores.delete(_key(call), call.session, _id(call, "id"))
    return Response(status=204)


def store(record: StoreRecord) -> dict[str, Any]:
    configs = {"bucket": record.bucket, "region": record.region}
    if record.path_prefix:
        configs["path_prefix"] = record.path_prefix
    return {
        "id": record.id,
        "name": record.name,
        "type": record.type,
        "configs": configs,
        "labels": record.label_map,
        "created_at": rfc3339(record.created_at),
        "updated_at": rfc3339(record.created_at),
        "created_by": record.created_by,
    }


# -- catalog: deliveries, downloads, search, get ---------------------------------------


@HANDLERS("listDeliveries")
def list_deliveries(call: Call) -> Reply:
    filters = {
        name: _id(call, name)
        for name in ("delivery_id", "catalog_id", "task_id", "order_item_id")
        if call.params.get(name) is not None
    }
    views = call.mock.deliveries.listing(_key(call), call.session, filters)
    call.observe({"deliveries": tuple(dict.fromkeys(v.status for v in views))})
    return 200, {"deliveries": [delivery(v) for v in views]}


@HANDLERS("createDelivery")
def create_delivery(call: Call) -> Reply:
    requests = [
        DeliveryRequest(
            catalog_ids=_lower(entry.get("catalog_ids")),
            order_item_ids=_lower(entry.get("order_item_ids")),
            store_id=entry["cloud_info"]["config"].lower(),
            path=entry["cloud_info"].get("path", ""),
        )
        for entry in call.params["body"]["deliveries"]
    ]
    views = call.mock.deliveries.create(_key(call), call.session, requests)
    call.observe({"deliveries": tuple(dict.fromkeys(v.status for v in views))})
    return 201, {"deliveries": [delivery(v) for v in views]}


def delivery(view: DeliveryView) -> dict[str, Any]:
    return {
        "delivery_id": view.id,
        "catalog_id": view.entry.id,
        "task_id": view.task_id,
        "status": view.status,
        "cloud_delivery": {"config": view.store_id, "path": view.path},
        "target_path": view.target_path,
        "created_at": rfc3339(view.created_at),
        "updated_at": rfc3339(view.updated_at),
        "created_by": view.created_by,
        "updated_by": view.created_by,
    }


@HANDLERS("createDownload")
def create_download(call: Call) -> Reply:
    body = call.params["body"]
    view = call.mock.catalog_downloads.create(
        _key(call),
        call.session,
        _lower(body.get("catalog_ids")),
        _lower(body.get("order_item_ids")),
    )
    call.observe({"catalog_downloads": (view.status,)})
    return 201, catalog_download(view, call.base_url)


@HANDLERS("getDownloadById")
def get_download(call: Call) -> Reply:
    view = call.mock.catalog_downloads.get(_key(call), call.session, _id(call, "download_id"))
    call.observe({"catalog_downloads": (view.status,)})
    return 200, catalog_download(view, call.base_url)


def catalog_download(view: CatalogDownloadView, base_url: str) -> dict[str, Any]:
    signed = base_url.rstrip("/") + view.signed_path if view.signed_path else ""
    return {"id": view.id, "signed_url": signed, "status": view.status}


@HANDLERS("searchCatalogs")
def search_catalogs(call: Call) -> Reply:
    body = call.params["body"]
    entries = search(call.mock.orders.catalogs(_key(call), call.session), body)
    offset, limit = int(body.get("offset", 0)), int(body.get("limit", 2))  # 5.0 is an integer
    page = entries[offset : offset + limit]
    return 200, {
        "catalogs": [catalog(call, e) for e in page],
        "pagination": {"limit": limit, "offset": offset, "total": len(entries)},
    }


@HANDLERS("getCatalogById")
def get_catalog(call: Call) -> Reply:
    wanted = _id(call, "id")
    for entry in call.mock.orders.catalogs(_key(call), call.session):
        if entry.id == wanted:
            return 200, catalog(call, entry)
    raise AccessDenied("forbidden", NO_CATALOG)


def catalog(call: Call, entry: CatalogEntry) -> dict[str, Any]:
    status = call.mock.deliveries.catalog_status(call.namespace, entry)
    return {
        "id": entry.id,
        "org_id": entry.order.org_id,
        "task_id": entry.task.id,
        "bandset_id": entry.spec.bandset_id,
        "area": entry.spec.area_km2,
        "delivery_status": status,
        "details": stac_item_json(call, entry),
        "created_at": rfc3339(entry.created_at),
        "updated_at": rfc3339(entry.created_at),
        "created_by": entry.order.created_by,
        "updated_by": entry.order.created_by,
    }


def stac_item_json(call: Call, entry: CatalogEntry) -> orjson.Fragment:
    """The entry's STAC item, written once: it depends on the host, the namespace and
    the order's record alone (whose creation and items tell a reset's reused ids apart)."""
    key = (
        "catalog",
        call.base_url,
        call.namespace,
        entry.id,
        entry.order.created_at,
        entry.order.items,
    )
    return rendered_json(call.mock.rendered_items, key, lambda: stac_item(call, entry))


def stac_item(call: Call, entry: CatalogEntry) -> dict[str, Any]:
    """The catalog's STAC item: `proj:epsg`, `sat:*` and an integer `gsd`, unlike the
    archive's items; its `data` asset is a real GeoTIFF the mock serves."""
    base = call.base_url.rstrip("/")
    props = entry.properties
    code = str(props.get("proj:code", "EPSG:4326"))
    satellite = call.mock.orders.satellites.get(entry.satellite_id)
    bands = band_facts(satellite, entry.band_names) if satellite else []
    created = rfc3339(entry.created_at)
    return {
        "id": entry.item_id,
        "type": "Feature",
        "collection": entry.collection,
        "stac_version": "1.0.0",
        "stac_extensions": STAC_EXTENSIONS,
        "bbox": list(entry.bbox),
        "geometry": {"type": "Polygon", "coordinates": entry.geometry["coordinates"]},
        "links": [
            {"href": f"{base}/v0/catalogs/{entry.id}", "rel": "self", "type": "application/json"}
        ],
        "assets": {
            "data": {
                "href": f"{base}/__catalogs/{call.namespace}/{entry.id}.tif",
                "type": COG,
                "title": "Surface reflectance",
                "roles": ["data"],
                "eo:bands": [
                    {
                        "name": b.name,
                        "common_name": b.common_name,
                        "center_wavelength": b.wavelength,
                        "fwhm": b.fwhm,
                    }
                    for b in bands
                ],
            }
        },
        "properties": {
            "datetime": rfc3339(entry.datetime),
            "created": created,
            "updated": created,
            "platform": props.get("platform", ""),
            "constellation": props.get("constellation", ""),
            "instruments": list(props.get("instruments", [])),
            "gsd": round(float(props.get("gsd", 10))),
            "eo:cloud_cover": props.get("eo:cloud_cover", 0.0),
            "proj:epsg": int(code.split(":")[-1]) if code.split(":")[-1].isdigit() else 4326,
            "proj:shape": list(props.get("proj:shape", [32, 32])),
            "proj:transform": list(props.get("proj:transform", [])),
            "sat:orbit_state": "descending",
            "sat:relative_orbit": 1 + int(entry.datetime // 86400) % 233,
            "view:off_nadir": props.get("view:off_nadir", 0.0),
            "view:satellite_look_angle": props.get("view:off_nadir", 0.0),
            "view:sun_azimuth": props.get("view:sun_azimuth", 0.0),
            "view:sun_elevation": props.get("view:sun_elevation", 0.0),
        },
    }
