"""Handlers of openapi/control.yaml: reset, clock, journal, state, faults, scenarios,
replay and packages."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

from flask import Response

from pixxel_mock.server.faults.replay import (
    package_bytes,
    parse_recording,
    read_recording,
    spec_violations,
)
from pixxel_mock.server.faults.scenarios import install_recordings
from pixxel_mock.server.handling import ApiError, Call, HandlerRegistry, Reply
from pixxel_mock.server.model.coverage import Observation, coverage_of, documented_statuses
from pixxel_mock.server.model.faults import with_absolute_times
from pixxel_mock.server.model.replay import recording_id
from pixxel_mock.server.model.sessions import Session
from pixxel_mock.server.model.timefmt import parse_rfc3339, rfc3339
from pixxel_mock.server.state.clock import Clock
from pixxel_mock.server.state.snapshot import restore, snapshot_of

HANDLERS = HandlerRegistry()
ALL = "*"
COG_TYPE = "image/tiff; application=geotiff; profile=cloud-optimized"


def clock_body(namespace: str, clock: Clock) -> dict[str, object]:
    now = clock.now(time.time())
    return {
        "namespace": namespace,
        "mode": clock.mode,
        "speed": clock.speed,
        "now": rfc3339(now),
        "epoch": now,
    }


def _scope(call: Call) -> str | None:
    """None means every namespace."""
    return None if call.params.get("all") else call.namespace


@HANDLERS("resetMock")
def reset(call: Call) -> Reply:
    scope = _scope(call)
    call.mock.reset(scope)
    return 200, {"reset": scope or ALL}


@HANDLERS("getClock")
def get_clock(call: Call) -> Reply:
    return 200, clock_body(call.namespace, call.mock.store.namespaces.clock(call.namespace))


@HANDLERS("advanceClock")
def advance_clock(call: Call) -> Reply:
    namespaces = call.mock.store.namespaces
    clock = namespaces.clock(call.namespace).advanced(call.params["body"]["seconds"], time.time())
    namespaces.set_clock(call.namespace, clock)
    return 200, clock_body(call.namespace, clock)


@HANDLERS("setClock")
def set_clock(call: Call) -> Reply:
    namespaces, body, real_now = call.mock.store.namespaces, call.params["body"], time.time()
    clock = namespaces.clock(call.namespace)
    if "now" in body:
        target = parse_rfc3339(body["now"])
        if target < clock.now(real_now):
            raise ApiError(
                400,
                "clock_backwards",
                "The simulated clock never runs backwards; give a time not before its current one.",
                {"parameter": "now", "current": rfc3339(clock.now(real_now))},
            )
        clock = clock.advanced(target - clock.now(real_now), real_now)
    clock = clock.reconfigured(
        body.get("mode", clock.mode), body.get("speed", clock.speed), real_now
    )
    namespaces.set_clock(call.namespace, clock)
    return 200, clock_body(call.namespace, clock)


@HANDLERS("listRequests")
def list_requests(call: Call) -> Reply:
    entries = call.mock.store.journal.entries(_scope(call), call.params["limit"])
    return 200, {"requests": entries}


@HANDLERS("getCoverage")
def get_coverage(call: Call) -> Reply:
    entries = call.mock.store.journal.entries(call.namespace, call.mock.config.journal_size)
    observations = (
        Observation(
            e["operation_id"],
            e["status"],
            fault=e["fault"],
            violations=tuple(e["violations"]),
            states=e["states"],
        )
        for e in entries
    )
    return 200, coverage_of(documented_statuses(call.mock.api_spec), observations).as_dict()


@HANDLERS("clearRequests")
def clear_requests(call: Call) -> Reply:
    scope = _scope(call)
    call.mock.store.journal.clear(scope)
    return 200, {"cleared": scope or ALL}


@HANDLERS("exportState")
def export_state(call: Call) -> Reply:
    return 200, snapshot_of(call.mock.store)


@HANDLERS("importState")
def import_state(call: Call) -> Reply:
    snapshot = call.params["body"]
    try:
        restore(call.mock.store, snapshot)
    except (TypeError, ValueError) as exc:
        raise ApiError(400, "invalid_body", f"The snapshot cannot be imported: {exc}") from exc
    return 200, {key: len(snapshot[key]) for key in ("jobs", "downloads", "namespaces")}


def _own_faults(call: Call) -> list[dict]:
    return call.mock.store.namespaces.rules(call.namespace)[0]


def _stored(rule: dict, scope: str, counts: dict[str, int]) -> dict:
    return {**rule, "scope": scope, "matched": counts.get(rule["id"], 0)}


@HANDLERS("listFaults")
def list_faults(call: Call) -> Reply:
    counts = call.mock.store.namespaces.match_counts(call.namespace)
    own = [_stored(rule, "namespace", counts) for rule in _own_faults(call)]
    server = [
        _stored(dict(r.document), "server", counts) for r in call.mock.sessions.server_rules.faults
    ]
    return 200, {"faults": own + server}


@HANDLERS("createFault")
def create_fault(call: Call) -> Reply:
    faults = _own_faults(call)
    taken = {rule["id"] for rule in faults}
    rule = dict(call.params["body"])
    rule["id"] = rule.get("id") or next(
        f"rule-{n}" for n in range(1, len(taken) + 2) if f"rule-{n}" not in taken
    )
    if rule["id"] in taken:
        raise ApiError(
            400, "duplicate_id", f"A fault rule with id {rule['id']!r} exists.", {"id": rule["id"]}
        )
    call.mock.scenario_loader.check_faults([rule])
    call.mock.store.namespaces.set_rules(call.namespace, faults=[*faults, rule])
    return 200, _stored(rule, "namespace", {})


@HANDLERS("clearFaults")
def clear_faults(call: Call) -> Reply:
    removed = len(_own_faults(call))
    call.mock.store.namespaces.set_rules(call.namespace, faults=[])
    return 200, {"removed": removed}


@HANDLERS("deleteFault")
def delete_fault(call: Call) -> Reply:
    faults = _own_faults(call)
    kept = [rule for rule in faults if rule["id"] != call.params["rule_id"]]
    if len(kept) == len(faults):
        raise ApiError(
            404, "not_found", f"No fault rule {call.params['rule_id']!r} in this namespace."
        )
    call.mock.store.namespaces.set_rules(call.namespace, faults=kept)
    return 200, {"removed": 1}


@HANDLERS("getScenario")
def get_scenario(call: Call) -> Reply:
    return 200, call.mock.store.namespaces.rules(call.namespace)[1]


@HANDLERS("setScenario")
def set_scenario(call: Call) -> Reply:
    scenario = with_absolute_times(call.params["body"], call.session.now)
    replay = scenario.get("replay")
    if replay is not None and call.mock.store.recording(replay["recording"]) is None:
        raise ApiError(
            400,
            "invalid_body",
            f"No recording {replay['recording']!r} is loaded; load it with POST /__mock/replay.",
            {"field": "replay.recording"},
        )
    call.mock.store.namespaces.set_rules(call.namespace, scenario=scenario)
    return 200, scenario


@HANDLERS("listScenarios")
def list_scenarios(call: Call) -> Reply:
    library = call.mock.library
    return 200, {
        "scenarios": [
            {"name": name, "description": file.description, "content": file.content}
            for name, file in sorted(library.items())
        ]
    }


@HANDLERS("applyScenario")
def apply_scenario(call: Call) -> Reply:
    name = call.params["name"]
    file = call.mock.library.get(name)
    if file is None:
        raise ApiError(404, "not_found", f"No scenario {name!r}; see GET /__mock/scenarios.")
    added = {rule["id"] for rule in file.faults}
    faults = [rule for rule in _own_faults(call) if rule["id"] not in added] + file.faults
    install_recordings([file], call.mock.store)
    scenario = file.scenario(call.session.now)
    call.mock.store.namespaces.set_rules(call.namespace, faults=faults, scenario=scenario)
    return 200, {"name": name, "faults": len(file.faults)}


@HANDLERS("loadReplay")
def load_replay(call: Call) -> Reply:
    body = call.params["body"]
    source = body.get("file", "the request body")
    try:
        text = read_recording(Path(body["file"])) if "file" in body else json.dumps(body["har"])
        recording = parse_recording(text, source)
    except (OSError, ValueError) as exc:
        raise ApiError(400, "invalid_body", f"Cannot load the recording: {exc}") from exc
    identity = recording_id(text)
    call.mock.store.put_recording(identity, text)
    replay = {
        "recording": identity,
        "strict": bool(body.get("strict", False)),
        "timing": body.get("timing", "polls"),
        "started": rfc3339(call.session.now),
    }
    scenario = {**call.mock.store.namespaces.rules(call.namespace)[1], "replay": replay}
    call.mock.store.namespaces.set_rules(call.namespace, scenario=scenario)
    return 200, {
        "recording": identity,
        "exchanges": len(recording),
        "requests": len(recording.answers),
        "violations": spec_violations(text, source, call.mock.api_spec),
        "replay": replay,
    }


@HANDLERS("getReplayedPackage")
def get_replayed_package(call: Call) -> Reply:
    replay = call.session.scenario.replay
    recording = call.mock.recording(replay.recording) if replay else None
    content = package_bytes(recording, call.params["package"]) if recording else None
    if content is None:
        raise ApiError(
            404, "not_found", "No such package in this namespace's replay (or no replay)."
        )
    return Response(content, status=200, mimetype="application/zip")


@HANDLERS("getPackage")
def get_package(call: Call) -> Reply:
    return _zip(call, call.mock.downloads.package)


@HANDLERS("getAoiPackage")
def get_aoi_package(call: Call) -> Reply:
    return _zip(call, call.mock.aoi_downloads.package)


@HANDLERS("getInsightPackage")
def get_insight_package(call: Call) -> Reply:
    return _zip(call, call.mock.insight_downloads.package)


def _zip(call: Call, package: Callable[[Session, str, str, str], bytes]) -> Reply:
    """The ZIP behind a signed URL, as an attachment named by its download."""
    download_id = call.params["download_id"]
    content = package(call.session, download_id, call.params["expires"], call.params["signature"])
    return Response(
        content,
        status=200,
        mimetype="application/zip",
        headers={"Content-Disposition": f"attachment; filename={download_id}.zip"},
    )


@HANDLERS("getArchiveGeoTiff")
def get_archive_geotiff(call: Call) -> Reply:
    content = call.mock.archive.geotiff(call.params["cid"], call.params["item_id"])
    return _archive_file(call, content, COG_TYPE, f"{call.params['item_id']}.tif")


@HANDLERS("getArchiveThumbnail")
def get_archive_thumbnail(call: Call) -> Reply:
    content = call.mock.archive.thumbnail(call.params["cid"], call.params["item_id"])
    return _archive_file(call, content, "image/png", f"{call.params['item_id']}.png")


def _archive_file(call: Call, content: bytes, media_type: str, name: str) -> Response:
    """A file of the archive: the seed makes it, so it never changes and may be cached;
    a `Range` gets its part (206), as COG readers ask for the header first."""
    response = Response(
        content,
        status=200,
        content_type=media_type,
        headers={
            "Cache-Control": "public, max-age=86400",
            "Content-Disposition": f"inline; filename={name}",
        },
    )
    return response.make_conditional(call.request, accept_ranges=True, complete_length=len(content))


@HANDLERS("listNamespaces")
def list_namespaces(call: Call) -> Reply:
    return 200, {"namespaces": call.mock.store.namespaces.names()}


@HANDLERS("inspectAois")
def inspect_aois(call: Call) -> Reply:
    aois = [
        {
            "id": aoi.record.id,
            "name": aoi.record.name,
            "project_id": aoi.record.project_id,
            "created_at": aoi.record.created_at,
            "status": aoi.state.status,
            "progress": aoi.state.progress,
            "geometry": aoi.record.geometry,
            "assets": [
                {
                    "id": asset.plan.id,
                    "name": asset.plan.name,
                    "asset_type": asset.plan.asset_type,
                    "status": asset.status,
                    "progress": asset.progress,
                    "footprint": asset.plan.footprint.rings,
                }
                for asset in aoi.state.assets
            ],
        }
        for aoi in call.mock.aois.of_namespace(call.session)
    ]
    return 200, {"namespace": call.namespace, "now": call.session.now, "aois": aois}


@HANDLERS("inspectInsights")
def inspect_insights(call: Call) -> Reply:
    downloads = call.mock.insight_downloads.of_namespace(call.session)
    insights = [
        {
            "id": view.record.id,
            "name": view.record.name,
            "aoi_id": view.record.aoi_id,
            "block": f"{view.block.name}@{view.block.version}",
            "created_at": view.record.created_at,
            "status": view.status,
            "progress": view.state.progress,
            "err_msg": view.record.err_msg if view.status == "failed" else "",
            "deleted_at": call.mock.insights.deleted_at(call.session, view.record.id),
            "downloads": [
                {"status": d.status, "signed_path": d.signed_path}
                for d in downloads.get(view.record.id, [])
            ],
        }
        for view in call.mock.insights.of_namespace(call.session)
    ]
    return 200, {"namespace": call.namespace, "now": call.session.now, "insights": insights}


@HANDLERS("inspectVisualizations")
def inspect_visualizations(call: Call) -> Reply:
    visualizations = [
        {
            "id": view.record.id,
            "aoi_id": view.record.aoi_id,
            "aoi_name": view.aoi.record.name,
            "index_name": view.record.index_name,
            "expression_type": view.record.expression_type,
            "created_at": view.record.created_at,
            "status": view.status,
            "progress": view.state.progress,
            "modes": list(view.modes),
            "previews": [
                {
                    "date": date,
                    "mode": mode,
                    "path": f"/__mock/visualizations/{view.record.id}.png?date={date}"
                    + (f"&mode={mode}" if mode else ""),
                }
                for date in view.dates
                for mode in view.modes or ("",)
            ],
        }
        for view in call.mock.visualizations.of_namespace(call.session)
    ]
    return 200, {
        "namespace": call.namespace,
        "now": call.session.now,
        "visualizations": visualizations,
    }


@HANDLERS("getVisualizationPreview")
def get_visualization_preview(call: Call) -> Reply:
    content = call.mock.visualizations.preview(
        call.session,
        call.params["visualization_id"].lower(),
        call.params["date"],
        call.params.get("mode", ""),
    )
    return Response(content, status=200, content_type="image/png")


@HANDLERS("inspectJobs")
def inspect_jobs(call: Call) -> Reply:
    downloads_by_job = call.mock.downloads.by_job(call.session)
    jobs = []
    for job in call.mock.jobs.of_namespace(call.session):
        downloads = downloads_by_job.get(job.record.id, [])
        task_names = {t.plan.id: t.plan.template.name for t in job.state.tasks}
        jobs.append(
            {
                "id": job.record.id,
                "workflow_id": job.workflow.id,
                "workflow_name": job.workflow.name,
                "project_id": job.record.project_id,
                "created_at": job.record.created_at,
                "at": max(call.session.now, job.state.at),
                "status": job.state.status,
                "progress": job.state.progress,
                "tasks": [
                    {
                        "name": task.plan.template.name,
                        "status": task.status,
                        "progress": task.progress,
                        "start": task.plan.start,
                        "end": task.plan.end,
                        "depends_on": list(task.plan.template.depends_on),
                    }
                    for task in job.state.tasks
                ],
                "downloads": [
                    {
                        "id": d.id,
                        "task": task_names.get(d.task_id, ""),
                        "status": d.status,
                        "signed_url": d.signed_path,
                    }
                    for d in downloads
                ],
            }
        )
    return 200, {"namespace": call.namespace, "now": call.session.now, "jobs": jobs}


@HANDLERS("getCatalogPackage")
def get_catalog_package(call: Call) -> Reply:
    return _zip(call, call.mock.catalog_downloads.package)


@HANDLERS("getCatalogGeoTiff")
def get_catalog_geotiff(call: Call) -> Reply:
    catalog_id = str(call.params["catalog_id"]).lower()
    content = call.mock.deliveries.entry_geotiff(call.session, catalog_id)
    return _archive_file(call, content, COG_TYPE, f"{catalog_id}.tif")


@HANDLERS("inspectOrders")
def inspect_orders(call: Call) -> Reply:
    orders = [
        {
            "id": view.record.id,
            "created_at": view.record.created_at,
            "paid_at": view.plan.paid_at,
            "status": view.status,
            "items": [
                {
                    "id": item.spec.id,
                    "name": item.spec.name,
                    "type": item.spec.type,
                    "project_id": item.spec.project_id,
                    "status": item.status,
                    "windows": [list(w) for w in item.spec.occurrences],
                    "tasks": [
                        {
                            "id": task.plan.id,
                            "status": task.status,
                            "submitted_at": task.plan.submitted_at,
                            "started_at": task.plan.started_at,
                            "ended_at": task.plan.ended_at,
                            "captured_at": task.plan.captured_at,
                        }
                        for task in item.tasks
                    ],
                }
                for item in view.items
            ],
        }
        for view in call.mock.orders.of_namespace(call.session)
    ]
    return 200, {"namespace": call.namespace, "now": call.session.now, "orders": orders}
