"""Insights: the lifecycle without HTTP under a frozen clock (the jobs' one, reused), then
through the API (estimate and create, refusals, lists, tenancy, scenarios, the ZIP,
deletion, snapshots)."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import pytest
from PIL import Image
from rasterio.io import MemoryFile

from pixxel_mock.server.model.catalog import load_catalog
from pixxel_mock.server.model.insights import InsightRecord, as_job
from pixxel_mock.server.model.lifecycle import evaluate, plan_job
from pixxel_mock.server.spec.resources import FIXTURES_DIR

from .conftest import START, advance
from .helpers import AGRI, ALPHA, BETA, COAST, URBAN, explore_example
from .test_aois import _create

CATALOG = load_catalog(FIXTURES_DIR)
CROPS = CATALOG.block_version("crop-classification", "1.1.0")  # 300 s, price 12
UNKNOWN = "00000000-0000-4000-8000-000000000000"


# -- the lifecycle, no HTTP -------------------------------------------------------
def _record(err_msg: str = "", polls: int = 0) -> InsightRecord:
    return InsightRecord(
        namespace="default",
        id="insight-1",
        seq=1,
        aoi_id="aoi-1",
        project_id=AGRI,
        name="crops",
        block_name="crop-classification",
        block_version="1.1.0",
        input="[]",
        metadata="{}",
        created_by="sa",
        created_at=START,
        polls=polls,
        err_msg=err_msg,
    )


def _states(err_msg: str = "") -> list[Any]:
    assert CROPS is not None
    plan = plan_job(*as_job(_record(err_msg), CROPS), seed=7, queue_seconds=0.0)
    return [evaluate(plan, START + t) for t in range(0, 400, 10)]


def test_an_insight_runs_its_block_as_a_one_task_job_and_completes() -> None:
    states = _states()
    assert states[0].status == "running" and states[0].progress == 0  # no queue
    assert states[-1].status == "completed" and states[-1].progress == 100
    progress = [s.progress for s in states]
    assert progress == sorted(progress) and 0 < progress[len(progress) // 2] < 100
    # the block's 300 s estimate, jittered by at most 10%
    finished = states[-1].finished_at
    assert finished is not None and 270 <= finished - START <= 330


def test_a_failing_insight_fails_part_way_with_its_message() -> None:
    final = _states("no valid pixels")[-1]
    assert final.status == "failed" and 0 < final.progress < 100
    (task,) = final.tasks
    assert task.status == "failed" and task.plan.failure is not None
    assert task.plan.failure.err_msg == "no valid pixels"
    assert final.finished_at is not None and final.finished_at - START < 0.7 * 330


# -- through the API ------------------------------------------------------------
def _aoi(client: Any, app: Any, **changes: Any) -> str:
    aoi = _create(client, app, **changes)["aoi_id"]
    advance(client, 3600)  # processed: success
    return aoi


def _body(**changes: Any) -> dict[str, Any]:
    return {
        "name": "crops",
        "block": {"name": "crop-classification", "version": "1.1.0"},
        "input": [{"name": "input_image", "format": "raster", "type": "url"}],
        "project_id": AGRI,
        "metadata": {"season": "rabi"},
        **changes,
    }


def _insight(client: Any, aoi: str, headers: dict[str, str] = ALPHA, **changes: Any) -> str:
    response = client.post(f"/v0/aoi/{aoi}/insights", json=_body(**changes), headers=headers)
    assert response.status_code == 201, response.json
    assert response.json["message"]
    return response.json["id"]


def _listed(client: Any, aoi: str, query: str = "", headers: dict[str, str] = ALPHA) -> Any:
    response = client.get(f"/v0/aoi/{aoi}/insights{query}", headers=headers)
    assert response.status_code == 200, response.json
    return response.json["insights"]


def test_estimate_answers_the_price_and_stores_nothing(client: Any, app: Any) -> None:
    aoi = _create(client, app)["aoi_id"]  # still processing: an estimate needs no result
    path = f"/v0/aoi/{aoi}/insights"
    estimate = client.post(path, json=_body(estimate=True), headers=ALPHA)
    assert (estimate.status_code, estimate.json) == (200, {"estimate": 12})
    other = {"name": "building-footprints", "version": "1.0.0"}
    assert client.post(path, json=_body(estimate=True, block=other), headers=ALPHA).json == {
        "estimate": 15
    }
    assert _listed(client, aoi) == []
    running = client.post(path, json=_body(), headers=ALPHA)
    assert running.status_code == 400 and running.json["error"]["code"] == "aoi_not_ready"


def test_a_created_insight_runs_then_completes_with_its_outputs(client: Any, app: Any) -> None:
    aoi = _aoi(client, app)
    insight_id = _insight(client, aoi)
    (running,) = _listed(client, aoi)
    assert running["id"] == insight_id and running["aoi_id"] == aoi
    assert (running["status"], running["progress"], running["output"]) == ("running", 0, [])
    assert (running["cost"], running["estimated_time_in_min"]) == (12, 5)
    assert running["deleted_at"] is None and running["err_msg"] == ""
    assert running["input"] == _body()["input"] and running["metadata"] == {"season": "rabi"}
    advance(client, 150)
    assert 0 < _listed(client, aoi)[0]["progress"] < 100
    advance(client, 200)
    (done,) = _listed(client, aoi)
    assert (done["status"], done["progress"]) == ("completed", 100)
    assert [o["name"] for o in done["output"]] == ["crop_map", "crop_areas"]
    assert done["output"][0]["value"].endswith(f"/{insight_id}/crop_map.geojson")


def test_the_block_may_be_named_by_its_id_the_documented_string_field(
    client: Any, app: Any
) -> None:
    aoi = _aoi(client, app)
    assert CROPS is not None
    by_id = {"string": CROPS.block_id.upper(), "version": "1.1.0"}
    _insight(client, aoi, block=by_id)
    assert _listed(client, aoi)[0]["cost"] == 12


BAD = {
    "unknown-block": ({"block": {"name": "nope", "version": "1.0.0"}}, "unknown_block"),
    "unknown-version": (
        {"block": {"name": "crop-classification", "version": "9.9.9"}},
        "unknown_block",
    ),
    "workflow-only-block": (
        {"block": {"name": "field-stats", "version": "1.0.0"}},
        "unknown_block",
    ),
    "id-and-name-disagree": (
        {
            "block": {
                "name": "ndvi",
                "string": "ec66a787-95e7-41d1-b731-af10506bf2ef",
                "version": "1.0.0",
            }
        },
        "unknown_block",
    ),
    "no-name-nor-id": ({"block": {"version": "1.0.0"}}, "unknown_block"),
    "unknown-input": ({"input": [{"name": "scene", "format": "raster"}]}, "invalid_input"),
    "project-not-the-aoi-s": ({"project_id": COAST}, "invalid_project"),
    "not-an-array": ({"input": "abc"}, "invalid_body"),
}


@pytest.mark.parametrize(("change", "code"), BAD.values(), ids=BAD)
def test_bad_bodies_answer_400(client: Any, app: Any, change: dict[str, Any], code: str) -> None:
    aoi = _aoi(client, app)
    for estimate in (False, True):
        body = _body(**change, estimate=estimate)
        response = client.post(f"/v0/aoi/{aoi}/insights", json=body, headers=ALPHA)
        assert response.status_code == 400, response.json
        assert response.json["error"]["code"] == code


def test_the_integer_form_of_input_is_accepted_as_documented(client: Any, app: Any) -> None:
    aoi = _aoi(client, app)
    _insight(client, aoi, input=[1, 2, 3])
    assert _listed(client, aoi)[0]["input"] == [1, 2, 3]


def test_other_tenants_aois_and_insights_answer_the_same_403(client: Any, app: Any) -> None:
    aoi = _aoi(client, app)
    insight_id = _insight(client, aoi)
    own_unknown = _aoi(client, app, name="other")
    calls = {
        "create": lambda a, h: client.post(f"/v0/aoi/{a}/insights", json=_body(), headers=h),
        "estimate": lambda a, h: client.post(
            f"/v0/aoi/{a}/insights", json=_body(estimate=True), headers=h
        ),
        "list": lambda a, h: client.get(f"/v0/aoi/{a}/insights", headers=h),
        "download": lambda a, h: client.put(
            f"/v0/aoi/{a}/insights/{insight_id}/download", headers=h
        ),
    }
    for name, call in calls.items():
        foreign, missing = call(aoi, BETA), call(UNKNOWN, ALPHA)
        assert (foreign.status_code, missing.status_code) == (403, 403), name
        assert foreign.json == missing.json, name
    # an insight of another AOI, and an unknown one, are refused alike
    elsewhere = client.put(f"/v0/aoi/{own_unknown}/insights/{insight_id}/download", headers=ALPHA)
    unknown = client.put(f"/v0/aoi/{aoi}/insights/{UNKNOWN}/download", headers=ALPHA)
    assert (elsewhere.status_code, unknown.status_code) == (403, 403)
    assert elsewhere.json == unknown.json
    assert _listed(client, own_unknown) == []
    urban = client.post(f"/v0/aoi/{aoi}/insights", json=_body(project_id=URBAN), headers=ALPHA)
    assert urban.status_code == 403


def test_lists_filter_by_id_status_creator_and_day(client: Any, app: Any) -> None:
    aoi = _aoi(client, app)
    first = _insight(client, aoi, name="first")
    advance(client, 86400)
    second = _insight(client, aoi, name="second")
    assert [i["id"] for i in _listed(client, aoi)] == [second, first]  # newest first

    def ids(query: str) -> list[str]:
        return [i["id"] for i in _listed(client, aoi, query)]

    assert ids(f"?id={first.upper()}") == [first]
    assert ids("?status=completed") == [first] and ids("?status=running") == [second]
    creator = _listed(client, aoi)[0]["created_by"]
    assert ids(f"?created_by={creator}") == [second, first] and ids("?created_by=x") == []
    assert ids("?created_on=2026-03-06T00:00:00Z") == [first]
    assert ids("?created_on=2026-03-07") == [second]
    assert client.get(f"/v0/aoi/{aoi}/insights?created_on=soon", headers=ALPHA).status_code == 400


def _completed(client: Any, app: Any) -> tuple[str, str]:
    aoi = _aoi(client, app)
    assets = client.get(f"/v0/aois/{aoi}/assets", headers=ALPHA).json["assets"]
    mosaic = next(a for a in assets if a["asset_type"] == "mosaic")
    source = {"id": mosaic["id"], "type": "mosaic"}
    insight_id = _insight(
        client,
        aoi,
        input=[{"name": "input_image", "format": "raster", "type": "url", "asset_source": source}],
    )
    advance(client, 400)
    return aoi, insight_id


def test_a_download_is_pending_then_serves_a_zip_of_inputs_and_outputs(
    client: Any, app: Any
) -> None:
    aoi, insight_id = _completed(client, app)
    path = f"/v0/aoi/{aoi}/insights/{insight_id}/download"
    first = client.put(path, headers=ALPHA)
    assert first.status_code == 200
    assert first.json == {"id": insight_id, "status": "pending", "signed_url": ""}
    advance(client, 30)
    ready = client.put(path, headers=ALPHA).json
    assert ready["status"] == "ready" and ready["id"] == insight_id
    package = client.get(ready["signed_url"])  # no Authorization
    assert package.status_code == 200 and package.mimetype == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(package.data))
    assert archive.namelist() == [
        "manifest.json",
        "inputs/input_image.tif",
        "outputs/crop_areas.csv",
        "outputs/crop_map.geojson",
    ]
    manifest = json.loads(archive.read("manifest.json"))
    assert (manifest["kind"], manifest["insight_id"], manifest["aoi_id"]) == (
        "insight",
        insight_id,
        aoi,
    )
    mosaic = next(
        a
        for a in client.get(f"/v0/aois/{aoi}/assets", headers=ALPHA).json["assets"]
        if a["asset_type"] == "mosaic"
    )
    with MemoryFile(archive.read("inputs/input_image.tif")) as memory, memory.open() as tif:
        ring = mosaic["geometry"]["coordinates"][0]
        assert tif.crs.to_string() == "EPSG:4326"
        assert tuple(tif.bounds) == pytest.approx(
            (
                min(p[0] for p in ring),
                min(p[1] for p in ring),
                max(p[0] for p in ring),
                max(p[1] for p in ring),
            )
        )
        assert list(tif.descriptions) == mosaic["band_list"]
    header = archive.read("outputs/crop_areas.csv").decode().splitlines()[0]
    assert header == "crop,area_ha"
    features = json.loads(archive.read("outputs/crop_map.geojson"))["features"]
    assert features and all(f["geometry"]["type"] == "Polygon" for f in features)
    tampered = ready["signed_url"].replace("signature=", "signature=0")
    assert client.get(tampered).status_code == 403
    advance(client, 3600)
    assert client.get(ready["signed_url"]).status_code == 403  # expired


def test_a_download_packages_only_the_selection(client: Any, app: Any) -> None:
    aoi, insight_id = _completed(client, app)
    path = f"/v0/aoi/{aoi}/insights/{insight_id}/download"
    body = {"inputs": [], "outputs": ["crop_map"]}
    assert client.put(path, json=body, headers=ALPHA).json["status"] == "pending"
    advance(client, 30)
    ready = client.put(path, json=body, headers=ALPHA).json
    names = zipfile.ZipFile(io.BytesIO(client.get(ready["signed_url"]).data)).namelist()
    assert names == ["manifest.json", "outputs/crop_map.geojson"]
    unknown = client.put(path, json={"outputs": ["nope"]}, headers=ALPHA)
    assert unknown.status_code == 400 and unknown.json["error"]["code"] == "invalid_output"
    unknown = client.put(path, json={"inputs": ["nope"]}, headers=ALPHA)
    assert unknown.status_code == 400 and unknown.json["error"]["code"] == "invalid_input"


def test_a_running_insight_cannot_be_downloaded(client: Any, app: Any) -> None:
    aoi = _aoi(client, app)
    insight_id = _insight(client, aoi)
    response = client.put(f"/v0/aoi/{aoi}/insights/{insight_id}/download", headers=ALPHA)
    assert response.status_code == 400 and response.json["error"]["code"] == "not_finished"


def test_delete_hides_the_insight_and_checks_the_project(client: Any, app: Any) -> None:
    aoi, insight_id = _completed(client, app)
    kept = _insight(client, aoi, name="kept")
    path = f"/v0/aoi/{aoi}/insights/{insight_id}"
    assert client.delete(path, headers=ALPHA).status_code == 400  # project_id is required
    wrong = client.delete(f"{path}?project_id={COAST}", headers=ALPHA)
    assert wrong.status_code == 400 and wrong.json["error"]["code"] == "invalid_project"
    assert client.delete(f"{path}?project_id={URBAN}", headers=ALPHA).status_code == 403
    assert client.delete(f"{path}?project_id={URBAN}", headers=BETA).status_code == 403
    deleted = client.delete(f"{path}?project_id={AGRI}", headers=ALPHA)
    assert (deleted.status_code, deleted.data) == (200, b"")
    assert "Content-Type" not in deleted.headers
    assert [i["id"] for i in _listed(client, aoi)] == [kept]
    assert _listed(client, aoi, f"?id={insight_id}") == []
    again = client.delete(f"{path}?project_id={AGRI}", headers=ALPHA)
    assert again.status_code == 403  # gone, as an unknown one
    download = client.put(f"{path}/download", headers=ALPHA)
    assert download.status_code == 403
    (inspected, *_) = [
        i for i in client.get("/__mock/insights").json["insights"] if i["id"] == insight_id
    ]
    assert inspected["deleted_at"] == START + 3600 + 400  # soft: kept, with deleted_at


def test_scenarios_make_insights_fail_and_downloads_stay_pending(client: Any, app: Any) -> None:
    aoi = _aoi(client, app)
    assert client.post("/__mock/scenarios/insight-failed").status_code == 200
    failing = _insight(client, aoi, name="failing")
    advance(client, 400)
    (failed,) = _listed(client, aoi)
    assert failed["id"] == failing and failed["status"] == "failed"
    assert failed["err_msg"].startswith("Model inference failed") and failed["output"] == []
    assert 0 < failed["progress"] < 100
    refused = client.put(f"/v0/aoi/{aoi}/insights/{failing}/download", headers=ALPHA)
    assert refused.status_code == 400 and refused.json["error"]["code"] == "not_finished"

    client.put("/__mock/scenario", json={})
    assert client.post("/__mock/scenarios/insight-download-pending").status_code == 200
    done = _insight(client, aoi, name="done")
    advance(client, 400)
    path = f"/v0/aoi/{aoi}/insights/{done}/download"
    assert client.put(path, headers=ALPHA).json["status"] == "pending"
    advance(client, 3599)
    assert client.put(path, headers=ALPHA).json["status"] == "pending"
    advance(client, 1)
    assert client.put(path, headers=ALPHA).json["status"] == "ready"


def test_a_failure_may_name_one_block(client: Any, app: Any) -> None:
    aoi = _aoi(client, app)
    client.put("/__mock/scenario", json={"insight_failures": [{"block": "building-footprints"}]})
    crops = _insight(client, aoi)
    buildings = _insight(client, aoi, block={"name": "building-footprints", "version": "1.1.0"})
    advance(client, 600)
    statuses = {i["id"]: (i["status"], i["err_msg"]) for i in _listed(client, aoi)}
    assert statuses[crops] == ("completed", "")
    assert statuses[buildings][0] == "failed" and statuses[buildings][1]


def test_in_polls_mode_each_list_moves_the_insight_and_each_put_the_download() -> None:
    from pixxel_mock.server import create_app, instance_of

    app = create_app({"clock_mode": "polls", "start_time": START, "seed": 7})
    client = app.test_client()
    try:
        aoi = _create(client, app)["aoi_id"]
        for _ in range(5):
            client.get(f"/v0/aoi/{aoi}", headers=ALPHA)
        insight_id = _insight(client, aoi)
        reads = [_listed(client, aoi)[0]["status"] for _ in range(3)]
        assert reads == ["running", "completed", "completed"]
        path = f"/v0/aoi/{aoi}/insights/{insight_id}/download"
        puts = [client.put(path, headers=ALPHA).json["status"] for _ in range(3)]
        assert puts == ["pending", "ready", "ready"]
    finally:
        instance_of(app).close()


def test_the_journal_and_coverage_note_insight_states(client: Any, app: Any) -> None:
    aoi, insight_id = _completed(client, app)
    _listed(client, aoi)
    client.put(f"/v0/aoi/{aoi}/insights/{insight_id}/download", headers=ALPHA)
    states = client.get("/__mock/coverage").json["states"]
    assert states["insights"] == ["completed"] and states["insight_downloads"] == ["pending"]


def test_snapshots_keep_insights_their_deletions_and_downloads(client: Any, app: Any) -> None:
    aoi, insight_id = _completed(client, app)
    kept = _insight(client, aoi, name="kept")
    client.put(f"/v0/aoi/{aoi}/insights/{insight_id}/download", headers=ALPHA)
    client.delete(f"/v0/aoi/{aoi}/insights/{insight_id}?project_id={AGRI}", headers=ALPHA)
    listed = _listed(client, aoi)
    snapshot = client.get("/__mock/state").json
    assert [i["id"] for i in snapshot["insights"]] == [insight_id, kept]
    assert [d["id"] for d in snapshot["insight_deletions"]] == [insight_id]
    assert [d["insight_id"] for d in snapshot["insight_downloads"]] == [insight_id]
    client.post("/__mock/reset")
    assert client.get("/__mock/state").json["insights"] == []
    assert client.put("/__mock/state", json=snapshot).status_code == 200
    assert _listed(client, aoi) == listed


# -- the example client ---------------------------------------------------------
def test_the_example_client_runs_an_insight_and_downloads_it(pixxel_mock, tmp_path) -> None:
    from examples.insight_client import InsightClient, run_insight

    client = InsightClient(pixxel_mock.url, pixxel_mock.keys["alpha"], poll_delay=0)
    pixxel_mock.set_clock(mode="polls")
    outcome = run_insight(client, AGRI, tmp_path / "insight.zip")
    assert (outcome.aoi_status, outcome.status, outcome.cost) == ("success", "completed", 12)
    assert outcome.visualization_status == "success"
    with Image.open(tmp_path / "insight.png") as png:  # the NDVI image with its legend
        assert png.format == "PNG" and png.size[0] > 0
    names = zipfile.ZipFile(tmp_path / "insight.zip").namelist()
    assert names == [
        "manifest.json",
        "inputs/input_image.tif",
        "outputs/crop_areas.csv",
        "outputs/crop_map.geojson",
    ]
    pixxel_mock.assert_no_violations()


def test_the_example_client_reports_a_failed_insight(pixxel_mock, tmp_path) -> None:
    from examples.insight_client import InsightClient, run_insight

    pixxel_mock.set_clock(mode="polls")
    pixxel_mock.apply_scenario("insight-failed")
    client = InsightClient(pixxel_mock.url, pixxel_mock.keys["alpha"], poll_delay=0)
    outcome = run_insight(client, AGRI, tmp_path / "insight.zip")
    assert outcome.status == "failed" and outcome.err_msg.startswith("Model inference failed")
    assert not (tmp_path / "insight.zip").exists()


def test_the_example_client_survives_explore(pixxel_mock, tmp_path) -> None:
    from examples.insight_client import InsightClient, InsightOutcome, run_insight
    from pixxel_mock.contract.explore import ClientRun

    operations = (
        "listSatellites",
        "searchSatelliteImages",
        "createAoi",
        "getAoi",
        "listAoiAssets",
        "listInsightBlocks",
        "listIndices",
        "createVisualization",
        "listVisualizations",
        "generateIndexPng",
        "createInsights",
        "listInsights",
        "downloadInsights",
    )

    def client(base_url: str, key: str) -> InsightOutcome:
        insight = InsightClient(base_url, key, poll_delay=0.0, max_delay=0.0)
        return run_insight(insight, AGRI, tmp_path / "insight.zip", deadline=30.0)

    def check(run: ClientRun) -> None:
        outcome = run.returned
        if not isinstance(outcome, InsightOutcome):
            return  # refused by a fault: reported as PixxelError
        assert outcome.status != "completed" or outcome.package_bytes > 0
        assert outcome.visualization_status != "success" or outcome.png_bytes > 0
        scenario = run.behaviour["scenario"]
        if outcome.status and "insight_failures" in scenario:
            assert (outcome.status, outcome.err_msg) == (
                "failed",
                scenario["insight_failures"][0]["err_msg"],
            )

    explore_example(pixxel_mock, operations, client, check)
