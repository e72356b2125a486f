"""Handlers of the Visualizations operations, and their shapes on the wire."""

from __future__ import annotations

from typing import Any

from flask import Response

from pixxel_mock.server.api.aois import _id, _key, _page, asset
from pixxel_mock.server.handling import Call, HandlerRegistry, Reply
from pixxel_mock.server.model.coverage import visualization_states
from pixxel_mock.server.model.timefmt import rfc3339
from pixxel_mock.server.model.visualizations import (
    LegendEntry,
    NewVisualization,
    VisualizationView,
)

HANDLERS = HandlerRegistry()
FILTERS = ("type", "user_id", "expression_type", "index_id", "visualization_id")


@HANDLERS("listVisualizations")
def list_visualizations(call: Call) -> Reply:
    filters = {n: str(call.params[n]) for n in FILTERS if call.params.get(n) is not None}
    for name in ("index_id", "visualization_id"):
        if name in filters:
            filters[name] = filters[name].lower()
    visualizations = call.mock.visualizations
    views = visualizations.matching(_key(call), call.session, _id(call, "aoi_id"), filters)
    page, pagination = _page(call, views)
    page = visualizations.poll(call.session, page)
    call.observe(visualization_states(v.status for v in page))
    return 200, {"visualization": [list_item(v) for v in page], "pagination": pagination}


@HANDLERS("createVisualization")
def create_visualization(call: Call) -> Reply:
    body = call.params["body"]
    asked = body.get("src_asset_ids")
    view = call.mock.visualizations.create(
        _key(call),
        call.session,
        _id(call, "aoi_id"),
        NewVisualization(
            index_id=body["index_id"].lower(),
            src_asset_ids=tuple(a.lower() for a in asked) if asked is not None else None,
            resolution=body.get("resolution"),
        ),
    )
    call.observe(visualization_states([view.status]))
    return 201, detail(view)


@HANDLERS("updateVisualizationMetadata")
def update_visualization_metadata(call: Call) -> Reply:
    body = call.params["body"]
    view = call.mock.visualizations.update_legend(
        _key(call),
        call.session,
        _id(call, "aoi_id"),
        _id(call, "visualization_id"),
        body["visualization_mode"],
        {
            date: [
                LegendEntry(e["color"].lower(), e["label"], e.get("min"), e.get("max"))
                for e in entries
            ]
            for date, entries in body["legend"].items()
        },
        body.get("dynamic_bins"),
    )
    return 200, metadata(view)


@HANDLERS("rollbackVisualizationMetadata")
def rollback_visualization_metadata(call: Call) -> Reply:
    body = call.params["body"]
    view = call.mock.visualizations.recompute_legend(
        _key(call),
        call.session,
        _id(call, "aoi_id"),
        _id(call, "visualization_id"),
        body["index_id"].lower(),
        body["dates"],
        body["visualization_mode"],
    )
    call.observe(visualization_states([view.status]))
    return 200, detail(view)


@HANDLERS("generateIndexPng")
def generate_index_png(call: Call) -> Reply:
    body = call.params["body"]
    content = call.mock.visualizations.png(
        _key(call),
        call.session,
        _id(call, "aoi_id"),
        _id(call, "visualization_id"),
        body["index_id"].lower(),
        body["date"],
        body["visualization_mode"],
    )
    return Response(content, status=200, content_type="image/png")


@HANDLERS("generateVisualizationSld")
def generate_visualization_sld(call: Call) -> Reply:
    body = call.params["body"]
    documents = call.mock.visualizations.sld(
        _key(call),
        call.session,
        _id(call, "aoi_id"),
        _id(call, "visualization_id"),
        body["dates"],
        body["visualization_modes"],
    )
    return 200, {"sld": documents}


def list_item(view: VisualizationView) -> dict[str, Any]:
    record = view.record
    return {
        "id": record.id,
        "aoi_id": record.aoi_id,
        "index_id": record.index_id,
        "progress": view.state.progress,
        "status": view.status,
        "tenant_id": record.workspace,
        "user_id": record.created_by,
        "created_at": rfc3339(record.created_at),
        "updated_at": rfc3339(view.state.updated_at),
    }


def metadata(view: VisualizationView) -> dict[str, Any]:
    return {
        "legend": {
            date: {
                mode: [
                    {
                        "area": item.area,
                        "area_percentage": item.area_percentage,
                        "color": item.bin.color,
                        "label": item.bin.label,
                        "max": item.bin.max,
                        "min": item.bin.min,
                    }
                    for item in items
                ]
                for mode, items in modes.items()
            }
            for date, modes in view.legend.items()
        }
    }


def detail(view: VisualizationView) -> dict[str, Any]:
    record = view.record
    return {
        **list_item(view),
        "index_name": record.index_name,
        "expression": record.expression,
        "expression_type": record.expression_type,
        "type": record.index_type,
        "rescale": [record.rescale_low, record.rescale_high],
        "assets": [asset(view.aoi, a, record.id) for a in view.state.assets],
        "metadata": metadata(view),
    }
