"""Catalog search: the documented filters over a workspace's catalog entries.

Entries are few (one per delivered image of a workspace), derived from orders at each
read, so the filter is plain Python with shapely for the spatial test, reusing the
archive search's parsing of `bbox`, `intersects` and `datetime` (the same 400s) and its
`query` operators; there is no index to keep in step with the orders.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import shapely

from pixxel_mock.server.model.archive import _bbox_shape, _geometry_shape, _interval
from pixxel_mock.server.model.errors import InvalidInput
from pixxel_mock.server.model.orders import CatalogEntry

_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq,
    "neq": operator.ne,
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
    "in": lambda value, options: value in options,
}


_ENTRY_FIELDS: dict[str, Callable[[CatalogEntry], Any]] = {
    "datetime": lambda e: e.datetime,
    "created_at": lambda e: e.created_at,
    "project_id": lambda e: e.spec.project_id,
    "usecase": lambda e: e.spec.usecase,
    "order_id": lambda e: e.order.id,
    "order_item_id": lambda e: e.spec.id,
    "item_id": lambda e: e.item_id,
    "collection": lambda e: e.collection,
}


# the entry's value for each list filter of the body
_LISTED: dict[str, Callable[[CatalogEntry], str]] = {
    "collections": lambda e: e.collection.lower(),
    "ids": lambda e: e.id,
    "item_ids": lambda e: e.item_id,
    "order_ids": lambda e: e.order.id,
    "order_item_ids": lambda e: e.spec.id,
}


def field_of(entry: CatalogEntry, name: str) -> Any:
    """A field `query` and `sort_by` may name: the order's, else the STAC item's property
    (None when it has neither)."""
    read = _ENTRY_FIELDS.get(name)
    return read(entry) if read is not None else entry.properties.get(name)


def search(entries: Sequence[CatalogEntry], body: Mapping[str, Any]) -> list[CatalogEntry]:
    """The entries matching every filter given, newest first unless `sort_by` says."""
    if body.get("bbox") is not None and body.get("intersects") is not None:
        raise InvalidInput(
            "invalid_parameter",
            "Give either bbox or intersects, not both.",
            {"parameter": "intersects", "in": "body"},
        )
    area = None
    if body.get("bbox") is not None:
        area = _bbox_shape(body["bbox"])
    elif body.get("intersects") is not None:
        area = _geometry_shape(dict(body["intersects"]))
    start, end = _interval(body["datetime"]) if body.get("datetime") else (None, None)
    sets = {
        name: {str(v).lower() if name != "item_ids" else str(v) for v in body[name]}
        for name in ("collections", "ids", "item_ids", "order_ids", "order_item_ids")
        if body.get(name)
    }
    query = body.get("query") or {}
    chosen = []
    for entry in entries:
        if sets and any(_LISTED[name](entry) not in wanted for name, wanted in sets.items()):
            continue
        if (start is not None and entry.datetime < start) or (
            end is not None and entry.datetime > end
        ):
            continue
        if area is not None and not area.intersects(shapely.geometry.shape(entry.geometry)):
            continue
        if query and not _matches(entry, query):
            continue
        chosen.append(entry)
    return _sorted(chosen, body.get("sort_by") or [])


def _matches(entry: CatalogEntry, query: Mapping[str, Mapping[str, Any]]) -> bool:
    for name, operators in query.items():
        value = field_of(entry, name)
        if value is None:
            return False
        for op, expected in operators.items():
            try:
                if not _COMPARE[op](value, expected):
                    return False
            except TypeError:  # a number compared with text: no match, not an error
                return False
    return True


def _sorted(
    entries: list[CatalogEntry], sort_by: Sequence[Mapping[str, str]]
) -> list[CatalogEntry]:
    entries.sort(key=lambda e: (e.created_at, e.id), reverse=True)
    for rule in reversed(sort_by):
        ((name, direction),) = rule.items()
        present = [e for e in entries if field_of(e, name) is not None]
        absent = [e for e in entries if field_of(e, name) is None]
        try:
            present.sort(key=lambda e: field_of(e, name), reverse=direction == "DESC")
        except TypeError:
            present.sort(key=lambda e: str(field_of(e, name)), reverse=direction == "DESC")
        entries = present + absent
    return entries
