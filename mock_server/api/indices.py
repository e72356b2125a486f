"""Handlers of the Indices operations, and the index's shape on the wire."""

from __future__ import annotations

from typing import Any

from pixxel_mock.server.api.aois import _key, _page
from pixxel_mock.server.handling import Call, HandlerRegistry, Reply
from pixxel_mock.server.model.indices import Index, NewIndex, matches
from pixxel_mock.server.model.timefmt import rfc3339

HANDLERS = HandlerRegistry()
FILTERS = ("satellite_id", "type", "expression_type", "index_id")


@HANDLERS("listIndices")
def list_indices(call: Call) -> Reply:
    filters = {name: call.params.get(name) for name in FILTERS}
    for name in ("satellite_id", "index_id"):
        if filters[name] is not None:
            filters[name] = str(filters[name]).lower()
    rows = [i for i in call.mock.indices.visible(_key(call), call.session) if matches(i, filters)]
    page, pagination = _page(call, rows)
    return 200, {"indices": [index(i) for i in page], "pagination": pagination}


@HANDLERS("createIndex")
def create_index(call: Call) -> Reply:
    body = call.params["body"]
    created = call.mock.indices.create(
        _key(call),
        call.session,
        NewIndex(
            name=body["name"],
            description=body["description"],
            expression=body["expression"],
            colormap=body["colormap"],
            satellite_id=body["satellite_id"].lower(),
            expression_type=body["expression_type"],
            rescale=(body["rescale"][0], body["rescale"][1]),
        ),
    )
    return 201, index(created)


def index(i: Index) -> dict[str, Any]:
    return {
        "id": i.id,
        "name": i.name,
        "description": i.description,
        "expression": i.expression,
        "colormap": i.colormap,
        "satellite_id": i.satellite_id,
        "bands": list(i.bands),
        "rescale": list(i.rescale),
        "expression_type": i.expression_type,
        "type": i.type,
        "created_at": rfc3339(i.created_at),
        "updated_at": rfc3339(i.created_at),
    }
