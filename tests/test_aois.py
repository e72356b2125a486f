"""AOIs, their assets and AOI downloads: the lifecycle without HTTP under a frozen clock,
then through the API (refusals, lists, tenancy, scenarios, the ZIP, restarts)."""

from __future__ import annotations

import io
import itertools
import zipfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from rasterio.io import MemoryFile

from pixxel_mock.server.model.aois import (
    AoiItem,
    AoiRecord,
    AoiSettings,
    evaluate,
    footprint,
    plan_aoi,
)
from pixxel_mock.server.model.archive import ArchiveSearch

from .conftest import START, advance
from .helpers import AGRI, ALPHA, BETA, COAST, URBAN

TD1 = "0004ab8d-0ad1-4d62-8a3f-fe18a7000e70"
TD2 = "0005c5bb-0bd2-4c80-9393-4a808341c54c"
SQUARE = ((75.8, 30.88), (75.9, 30.88), (75.9, 30.96), (75.8, 30.96), (75.8, 30.88))
POLYGON = {"type": "Polygon", "coordinates": [[list(p) for p in SQUARE]]}
SETTINGS = AoiSettings(start_seconds=10, item_seconds=60, mosaic_seconds=120)
AOI_RANK = {"started": 0, "running": 1, "success": 2, "partial_success": 2, "failed": 2}


# -- the lifecycle, no HTTP -------------------------------------------------------
def _record(outcome: str = "success", items: int = 2) -> AoiRecord:
    item = AoiItem("TD2_X", "pixxel-td-l2a", START - 86400, ("B013", "B031"), 10.0, (SQUARE,))
    return AoiRecord(
        namespace="default",
        id="aoi-1",
        seq=1,
        project_id=AGRI,
        name="fields",
        description="",
        satellite_id=TD2,
        provider="pixxel",
        created_by="sa",
        created_at=START,
        polls=0,
        geometry=(SQUARE,),
        items=tuple(replace(item, id=f"TD2_{n}") for n in range(items)),
        outcome=outcome,
    )


def _timeline(outcome: str, items: int = 2) -> list[Any]:
    plan = plan_aoi(_record(outcome, items), SETTINGS)
    moments = sorted({START, *plan.events, *(e + 0.5 for e in plan.events), plan.finished_at + 999})
    return [evaluate(plan, START, at) for at in moments]


def test_an_aoi_starts_runs_and_succeeds_making_its_assets_in_turn() -> None:
    states = _timeline("success")
    assert [s.status for s in states[:2]] == ["started", "running"]
    assert states[0].progress == 0 and not states[0].assets
    final = states[-1]
    assert (final.status, final.progress) == ("success", 100)
    assert [(a.plan.asset_type, a.status) for a in final.assets] == [
        ("stac_item", "success"),
        ("stac_item", "success"),
        ("mosaic", "success"),
    ]
    for before, after in itertools.pairwise(states):
        assert AOI_RANK[after.status] >= AOI_RANK[before.status]
        assert after.progress >= before.progress
        assert len(after.assets) >= len(before.assets)
    running = [s for s in states if s.status == "running"]
    assert all(0 <= s.progress < 100 for s in running)
    # an asset appears `creating` and only the last one to appear may still be creating
    assert any(s.assets and s.assets[-1].status == "creating" for s in running)
    assert all(a.status == "success" for s in running for a in s.assets[:-1])
    # the mosaic starts once every item's asset is done
    plan = plan_aoi(_record("success"), SETTINGS)
    assert plan.assets[-1].start == max(a.end for a in plan.assets[:-1])
    assert plan.finished_at == START + 10 + 2 * 60 + 120


def test_a_failed_aoi_stops_at_its_first_asset_and_keeps_its_progress() -> None:
    final = _timeline("failed", items=3)[-1]
    assert final.status == "failed"
    assert [(a.plan.asset_type, a.status) for a in final.assets] == [("stac_item", "failed")]
    assert 0 < final.progress < 100


def test_a_partial_success_has_every_item_but_a_failed_mosaic() -> None:
    final = _timeline("partial_success")[-1]
    assert (final.status, final.progress) == ("partial_success", 100)
    assert [a.status for a in final.assets] == ["success", "success", "failed"]


def test_polls_mode_steps_through_the_plan_events() -> None:
    plan = plan_aoi(_record(), SETTINGS)
    times = [plan.step_time(n) for n in range(len(plan.events) + 2)]
    assert times[1:] == sorted(times[1:]) and times[-1] == plan.finished_at
    assert evaluate(plan, START, max(START, times[-1])).status == "success"


def test_area_is_geodesic_and_the_centroid_is_the_polygon_s() -> None:
    shape = footprint((SQUARE,))
    assert shape.area_in_sq_m == pytest.approx(84_777_632, rel=1e-6)  # pyproj Geod, WGS 84
    assert shape.centroid == pytest.approx((75.85, 30.92))
    assert shape.bounds == (75.8, 30.88, 75.9, 30.96)


# -- through the API ------------------------------------------------------------
def _pick(app: Any) -> tuple[str, list[str]]:
    """A satellite with two items over the polygon in the seeded archive, and those items."""
    from pixxel_mock.server import instance_of

    found = instance_of(app).archive.search(ArchiveSearch(intersects=POLYGON, limit=100))
    by_satellite: dict[str, list[str]] = {}
    for item in found:
        by_satellite.setdefault(item.satellite_id, []).append(item.id)
    satellite = next(s for s in (TD2, TD1, *by_satellite) if len(by_satellite.get(s, [])) >= 2)
    return satellite, by_satellite[satellite][:2]


def _body(app: Any, **changes: Any) -> dict[str, Any]:
    satellite, items = _pick(app)
    return {
        "name": "Ludhiana wheat fields",
        "description": "Rabi-season wheat",
        "satellite_id": satellite,
        "provider": "pixxel",
        "project_id": AGRI,
        "geometry": POLYGON,
        "item_ids": items,
        **changes,
    }


def _create(client: Any, app: Any, headers: dict[str, str] = ALPHA, **changes: Any) -> Any:
    response = client.post("/v0/aois", json=_body(app, **changes), headers=headers)
    assert response.status_code == 201, response.json
    return response.json


def test_create_answers_201_with_the_computed_geometry_facts(client: Any, app: Any) -> None:
    aoi = _create(client, app)
    assert aoi["status"] == "started" and aoi["progress"] == 0
    assert aoi["area_in_sq_m"] == pytest.approx(84_777_632, rel=1e-6)
    assert aoi["centroid"] == pytest.approx([75.85, 30.92])
    assert aoi["geometry"] == POLYGON
    satellite, items = _pick(app)
    assert set(aoi["images"]) == set(items)
    assert aoi["eo_bands"] and aoi["satellite_id"] == satellite and aoi["project_id"] == AGRI
    assert client.get(f"/v0/aoi/{aoi['aoi_id']}", headers=ALPHA).json == aoi


def _polygon(*positions: tuple[float, float]) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": [[list(p) for p in positions]]}


BAD_BODIES = {
    "ring-not-closed": ({"geometry": _polygon(*SQUARE[:-1])}, "invalid_geometry", "geometry"),
    "self-intersecting": (
        {
            "geometry": _polygon(
                (75.8, 30.9), (75.9, 31.0), (75.9, 30.9), (75.8, 31.0), (75.8, 30.9)
            )
        },
        "invalid_geometry",
        "geometry",
    ),
    "out-of-range": (
        {"geometry": _polygon((190, 30.9), (191, 30.9), (191, 31), (190, 30.9))},
        "invalid_geometry",
        "geometry",
    ),
    "unknown-item": (
        {"item_ids": ["TD2_000000_20250101_L2A_20250101_00000000"]},
        "invalid_item",
        "item_ids",
    ),
    "other-satellite": (
        {"satellite_id": "0002a3a3-00a2-4b55-842b-44d8202c6d60"},  # Sentinel-2
        "invalid_item",
        "item_ids",
    ),
    "item-outside": (
        {"geometry": _polygon((10, 10), (11, 10), (11, 11), (10, 10))},
        "invalid_item",
        "item_ids",
    ),
}


@pytest.mark.parametrize(("change", "code", "field"), BAD_BODIES.values(), ids=BAD_BODIES)
def test_bad_polygons_and_items_answer_400_naming_the_field(
    client: Any, app: Any, change: dict[str, Any], code: str, field: str
) -> None:
    response = client.post("/v0/aois", json=_body(app, **change), headers=ALPHA)
    assert response.status_code == 400, response.json
    assert response.json["error"]["code"] == code
    assert response.json["error"]["details"]["parameter"] == field


def test_the_older_lens_satellite_id_is_not_accepted_for_satellite_id(
    client: Any, app: Any
) -> None:
    body = _body(app)
    body["lens_satellite_id"] = body.pop("satellite_id")
    response = client.post("/v0/aois", json=body, headers=ALPHA)
    assert response.status_code == 400
    assert "satellite_id" in response.json["error"]["message"]


def test_foreign_and_unknown_projects_answer_the_same_403(client: Any, app: Any) -> None:
    answers = [
        client.post("/v0/aois", json=_body(app, project_id=project), headers=ALPHA)
        for project in (URBAN, "00000000-0000-4000-8000-000000000000")
    ]
    assert [a.status_code for a in answers] == [403, 403]
    assert answers[0].json == answers[1].json


def test_a_name_is_unique_within_its_project(client: Any, app: Any) -> None:
    _create(client, app)
    again = client.post("/v0/aois", json=_body(app), headers=ALPHA)
    assert again.status_code == 409 and again.json["error"]["code"] == "duplicate_name"
    _create(client, app, project_id=COAST)  # the same name in another project


def test_lists_page_filter_and_show_only_the_key_s_projects(client: Any, app: Any) -> None:
    made = [_create(client, app, name=f"field {n}") for n in range(3)]
    made.append(_create(client, app, name="coast", project_id=COAST))
    advance(client, 86400)
    _create(client, app, name="late field")
    page = client.get("/v0/aois", headers=ALPHA).json
    assert page["pagination"] == {"limit": 10, "offset": 0, "total": 5}
    assert [a["name"] for a in page["aois"]][:2] == ["late field", "coast"]  # newest first
    second = client.get("/v0/aois?offset=1&limit=2", headers=ALPHA).json
    assert [a["aoi_id"] for a in second["aois"]] == [a["aoi_id"] for a in page["aois"][1:3]]
    assert second["pagination"] == {"limit": 2, "offset": 1, "total": 5}

    def names(query: str, headers: dict[str, str] = ALPHA) -> list[str]:
        return sorted(
            a["name"] for a in client.get(f"/v0/aois?{query}", headers=headers).json["aois"]
        )

    assert names("aoi_name=FIELD") == ["field 0", "field 1", "field 2", "late field"]
    assert names(f"aoi_id={made[1]['aoi_id'].upper()}") == ["field 1"]
    assert names(f"project_ids={COAST}") == ["coast"]
    assert names(f"project_ids={COAST},{URBAN}") == ["coast"]  # a foreign project adds nothing
    assert names("created_at=2026-03-06") == ["coast", "field 0", "field 1", "field 2"]
    assert names("created_at=2026-03-07T08:00:00Z") == ["late field"]
    assert names("updated_at=2026-03-07") == ["late field"]  # the others ended on the 6th
    assert names("", BETA) == [] and names(f"project_ids={AGRI}", BETA) == []
    assert client.get("/v0/aois?project_ids=nope", headers=ALPHA).status_code == 400


def test_other_tenants_aois_assets_and_downloads_are_not_found(client: Any, app: Any) -> None:
    aoi = _create(client, app)["aoi_id"]
    unknown = "00000000-0000-4000-8000-000000000000"
    for path in ("/v0/aoi/{}", "/v0/aois/{}/assets", "/v0/aois/{}/downloads/" + unknown):
        foreign = client.get(path.format(aoi), headers=BETA)
        missing = client.get(path.format(unknown), headers=ALPHA)
        assert (foreign.status_code, missing.status_code) == (404, 404)
        assert foreign.json == missing.json
    post = client.post(f"/v0/aois/{aoi}/downloads", json={"asset_ids": [unknown]}, headers=BETA)
    assert post.status_code == 404


def test_assets_appear_as_the_aoi_runs(client: Any, app: Any) -> None:
    aoi = _create(client, app)["aoi_id"]
    seen = []
    for _ in range(6):
        state = client.get(f"/v0/aoi/{aoi}", headers=ALPHA).json
        assets = client.get(f"/v0/aois/{aoi}/assets", headers=ALPHA).json
        seen.append((state["status"], [(a["asset_type"], a["status"]) for a in assets["assets"]]))
        advance(client, 50)
    assert seen[0] == ("started", [])
    assert seen[1] == ("running", [("stac_item", "creating")])
    assert seen[-1] == ("success", [("stac_item", "success")] * 2 + [("mosaic", "success")])
    mosaic = client.get(f"/v0/aois/{aoi}/assets?offset=2&limit=1", headers=ALPHA).json
    assert mosaic["pagination"] == {"limit": 1, "offset": 2, "total": 3}
    (asset,) = mosaic["assets"]
    assert (asset["name"], asset["geometry"], asset["aoi_id"]) == ("mosaic", POLYGON, aoi)


def _finished(client: Any, app: Any, **changes: Any) -> tuple[str, list[dict[str, Any]]]:
    aoi = _create(client, app, **changes)["aoi_id"]
    advance(client, 3600)
    return aoi, client.get(f"/v0/aois/{aoi}/assets", headers=ALPHA).json["assets"]


def test_a_download_serves_a_zip_of_the_assets_geotiffs(client: Any, app: Any) -> None:
    aoi, assets = _finished(client, app)
    ids = [a["id"] for a in assets]
    created = client.post(f"/v0/aois/{aoi}/downloads", json={"asset_ids": ids}, headers=ALPHA)
    assert created.status_code == 201 and created.json["status"] == "SUCCESS"
    status = client.get(
        f"/v0/aois/{aoi}/downloads/{created.json['download_id']}", headers=ALPHA
    ).json
    assert status["status"] == "SUCCESS" and status["download_id"] == created.json["download_id"]
    package = client.get(created.json["signed_url"])  # no Authorization
    assert package.status_code == 200 and package.mimetype == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(package.data))
    assert archive.namelist() == [
        "manifest.json",
        *sorted(f"assets/{a['name']}.tif" for a in assets),
    ]
    for asset in assets:
        with (
            MemoryFile(archive.read(f"assets/{asset['name']}.tif")) as memory,
            memory.open() as tif,
        ):
            ring = asset["geometry"]["coordinates"][0]
            west, south = min(p[0] for p in ring), min(p[1] for p in ring)
            east, north = max(p[0] for p in ring), max(p[1] for p in ring)
            assert tif.crs.to_string() == "EPSG:4326"
            assert tuple(tif.bounds) == pytest.approx((west, south, east, north))
            assert list(tif.descriptions) == asset["band_list"]
    tampered = created.json["signed_url"].replace("signature=", "signature=0")
    assert client.get(tampered).status_code == 403
    advance(client, 3600)
    assert client.get(created.json["signed_url"]).status_code == 403  # expired


def test_download_refusals(client: Any, app: Any) -> None:
    aoi, assets = _finished(client, app)
    other, other_assets = _finished(client, app, name="other")
    path = f"/v0/aois/{aoi}/downloads"
    foreign = client.post(path, json={"asset_ids": [other_assets[0]["id"]]}, headers=ALPHA)
    assert (
        foreign.status_code == 400 and foreign.json["error"]["details"]["parameter"] == "asset_ids"
    )
    unknown = "00000000-0000-4000-8000-000000000000"
    body = {"asset_ids": [assets[0]["id"]]}
    assert client.post(f"/v0/aois/{unknown}/downloads", json=body, headers=ALPHA).status_code == 404
    download = client.post(path, json={"asset_ids": [assets[0]["id"]]}, headers=ALPHA).json
    of_other = client.get(f"/v0/aois/{other}/downloads/{download['download_id']}", headers=ALPHA)
    assert of_other.status_code == 404


def test_scenarios_make_aois_fail_or_partly_succeed_and_downloads_wait(
    client: Any, app: Any
) -> None:
    assert client.post("/__mock/scenarios/aoi-failed").status_code == 200
    failed, assets = _finished(client, app, name="failing")
    state = client.get(f"/v0/aoi/{failed}", headers=ALPHA).json
    assert state["status"] == "failed" and state["progress"] < 100
    assert [(a["asset_type"], a["status"]) for a in assets] == [("stac_item", "failed")]
    refused = client.post(
        f"/v0/aois/{failed}/downloads", json={"asset_ids": [assets[0]["id"]]}, headers=ALPHA
    )
    assert refused.status_code == 400  # a failed asset has no file

    client.put("/__mock/scenario", json={})
    assert client.post("/__mock/scenarios/aoi-partial-success").status_code == 200
    partial, assets = _finished(client, app, name="partial")
    assert client.get(f"/v0/aoi/{partial}", headers=ALPHA).json["status"] == "partial_success"
    assert [a["status"] for a in assets] == ["success", "success", "failed"]

    assert client.post("/__mock/scenarios/aoi-download-pending").status_code == 200
    download = client.post(
        f"/v0/aois/{partial}/downloads", json={"asset_ids": [assets[0]["id"]]}, headers=ALPHA
    ).json
    assert (download["status"], download["signed_url"]) == ("PENDING", "")
    status_path = f"/v0/aois/{partial}/downloads/{download['download_id']}"
    advance(client, 299)
    assert client.get(status_path, headers=ALPHA).json["status"] == "PENDING"
    advance(client, 1)
    ready = client.get(status_path, headers=ALPHA).json
    assert ready["status"] == "SUCCESS" and client.get(ready["signed_url"]).status_code == 200


def test_in_polls_mode_each_read_moves_the_aoi_and_the_download_one_step() -> None:
    from pixxel_mock.server import create_app

    app = create_app({"clock_mode": "polls", "start_time": START, "seed": 7})
    client = app.test_client()
    aoi = _create(client, app)["aoi_id"]
    reads = [client.get(f"/v0/aoi/{aoi}", headers=ALPHA).json["status"] for _ in range(7)]
    # 4 events: running (the first item's asset starts), its end (the second's start),
    # the second's end (the mosaic's start), the mosaic's end
    assert reads == ["running"] * 3 + ["success"] * 4
    assets = client.get(f"/v0/aois/{aoi}/assets", headers=ALPHA).json["assets"]
    client.put(
        "/__mock/scenario", json={"aoi_downloads": {"pending_seconds": 60, "pending_polls": 2}}
    )
    download = client.post(
        f"/v0/aois/{aoi}/downloads", json={"asset_ids": [assets[0]["id"]]}, headers=ALPHA
    ).json
    path = f"/v0/aois/{aoi}/downloads/{download['download_id']}"
    statuses = [client.get(path, headers=ALPHA).json["status"] for _ in range(3)]
    assert [download["status"], *statuses] == ["PENDING", "PENDING", "SUCCESS", "SUCCESS"]


def test_the_journal_and_coverage_note_aoi_and_asset_states(client: Any, app: Any) -> None:
    aoi, _ = _finished(client, app)
    client.get(f"/v0/aoi/{aoi}", headers=ALPHA)
    states = client.get("/__mock/coverage").json["states"]
    assert {"started", "success"} <= set(states["aois"])
    assert states["assets"] == ["success"]


def test_snapshots_and_restarts_keep_aois(tmp_path: Path, client: Any, app: Any) -> None:
    from pixxel_mock.server import create_app, instance_of

    aoi = _create(client, app)
    snapshot = client.get("/__mock/state").json
    assert [a["id"] for a in snapshot["aois"]] == [aoi["aoi_id"]]
    client.post("/__mock/reset")
    assert client.get(f"/v0/aoi/{aoi['aoi_id']}", headers=ALPHA).status_code == 404
    assert client.put("/__mock/state", json=snapshot).status_code == 200
    assert client.get(f"/v0/aoi/{aoi['aoi_id']}", headers=ALPHA).json == aoi

    config = {"clock_mode": "manual", "start_time": START, "seed": 7, "state_file": tmp_path / "s"}
    first = create_app(config)
    made = _create(first.test_client(), first)
    instance_of(first).close()
    second = create_app(config)
    try:
        again = second.test_client().get(f"/v0/aoi/{made['aoi_id']}", headers=ALPHA)
        assert again.json == made
    finally:
        instance_of(second).close()


def test_the_inspector_lists_aois_with_their_assets_and_outlines(client: Any, app: Any) -> None:
    aoi, assets = _finished(client, app)
    (inspected,) = client.get("/__mock/aois").json["aois"]
    assert (inspected["id"], inspected["status"], inspected["progress"]) == (aoi, "success", 100)
    assert inspected["geometry"] == POLYGON["coordinates"]
    assert [a["id"] for a in inspected["assets"]] == [a["id"] for a in assets]
    assert [a["footprint"] for a in inspected["assets"]] == [
        a["geometry"]["coordinates"] for a in assets
    ]
    page = client.get("/__mock/ui").get_data(as_text=True)
    assert 'id="aoi-map"' in page
