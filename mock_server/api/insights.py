"""Handlers of the Insights operations, and their shapes on the wire."""

from __future__ import annotations

from typing import Any

from flask import Response

from pixxel_mock.server.handling import Call, HandlerRegistry, Reply
from pixxel_mock.server.model.catalog import ApiKey
from pixxel_mock.server.model.coverage import insight_download_states, insight_states
from pixxel_mock.server.model.insight_downloads import InsightDownloadView
from pixxel_mock.server.model.insights import InsightView, NewInsight
from pixxel_mock.server.model.timefmt import parse_rfc3339, rfc3339, utc_day

HANDLERS = HandlerRegistry()
CREATED = "Insight created"


def _key(call: Call) -> ApiKey:
    assert call.key is not None, "secured operations always carry a key"
    return call.key


def _id(call: Call, name: str) -> str:
    """UUIDs compare in canonical lower case, whatever case the client sent."""
    return str(call.params[name]).lower()


@HANDLERS("createInsights")
def create_insights(call: Call) -> Reply:
    body = call.params["body"]
    block = body["block"]
    project_id = body.get("project_id")
    new = NewInsight(
        name=body.get("name", ""),
        block_name=block.get("name"),
        block_id=block["string"].lower() if "string" in block else None,
        block_version=block["version"],
        input=body["input"],
        project_id=project_id.lower() if project_id else None,
        metadata=body.get("metadata") or {},
    )
    insights, aoi_id = call.mock.insights, _id(call, "aoi_id")
    if body.get("estimate"):
        return 200, {"estimate": insights.estimate(_key(call), call.session, aoi_id, new)}
    view = insights.create(_key(call), call.session, aoi_id, new)
    return 201, {"id": view.record.id, "message": CREATED}


@HANDLERS("listInsights")
def list_insights(call: Call) -> Reply:
    filters = {n: call.params[n] for n in ("status", "created_by") if call.params.get(n)}
    if call.params.get("id") is not None:
        filters["id"] = _id(call, "id")
    if call.params.get("created_on") is not None:
        filters["created_on"] = utc_day(parse_rfc3339(call.params["created_on"]))
    views = call.mock.insights.matching(_key(call), call.session, _id(call, "aoi_id"), filters)
    call.observe(insight_states(v.status for v in views))
    return 200, {"insights": [insight(v) for v in views]}


@HANDLERS("downloadInsights")
def download_insights(call: Call) -> Reply:
    body = call.params.get("body") or {}
    download = call.mock.insight_downloads.open(
        _key(call),
        call.session,
        _id(call, "aoi_id"),
        _id(call, "insight_id"),
        body.get("inputs"),
        body.get("outputs"),
    )
    call.observe(insight_download_states(download.status))
    return 200, insight_download(download, call.base_url)


@HANDLERS("deleteInsights")
def delete_insights(call: Call) -> Reply:
    call.mock.insights.delete(
        _key(call),
        call.session,
        _id(call, "aoi_id"),
        _id(call, "insight_id"),
        _id(call, "project_id"),
    )
    response = Response(status=200)
    del response.headers["Content-Type"]  # documented: no body
    return response


def insight(view: InsightView) -> dict[str, Any]:
    record, state = view.record, view.state
    return {
        "id": record.id,
        "name": record.name,
        "aoi_id": record.aoi_id,
        "created_by": record.created_by,
        "created_at": rfc3339(record.created_at),
        "status": view.status,
        "progress": state.progress,
        "estimated_time_in_min": view.estimated_time_in_min,
        "cost": view.block.price,
        "err_msg": record.err_msg if view.status == "failed" else "",
        "deleted_at": None,  # deleted insights are not listed
        "input": view.input,
        "output": view.outputs(),
        "metadata": view.metadata,
    }


def insight_download(download: InsightDownloadView, base_url: str) -> dict[str, Any]:
    signed = base_url.rstrip("/") + download.signed_path if download.signed_path else ""
    return {"id": download.id, "status": download.status, "signed_url": signed}
