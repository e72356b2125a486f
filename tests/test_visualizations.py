"""Visualizations: the lifecycle under a frozen clock without HTTP, the legends, the PNG
(decoded by Pillow) and the SLD (parsed by ElementTree), and the six operations through
the API: legends per index type, PUT/PATCH of one mode, refusals, scenarios, tenancy."""

from __future__ import annotations

import io
import itertools
import xml.etree.ElementTree as ET
from typing import Any

import numpy as np
import pytest
from PIL import Image

from pixxel_mock.server.api.visualizations import detail
from pixxel_mock.server.model import legends
from pixxel_mock.server.model.aois import AssetPlan, evaluate, footprint
from pixxel_mock.server.model.visualizations import (
    VisualizationRecord,
    VisualizationSettings,
    legend_modes,
    plan_visualization,
)

from .conftest import START, advance
from .helpers import ALPHA, BETA
from .test_aois import SQUARE, _create

SLD = "{http://www.opengis.net/sld}"
S2 = "0002a3a3-00a2-4b55-842b-44d8202c6d60"
TD2 = "0005c5bb-0bd2-4c80-9393-4a808341c54c"
PANEL = (legends.MAP_SIZE + legends.PANEL_WIDTH, legends.MAP_SIZE)


# -- the lifecycle, no HTTP -------------------------------------------------------
def _source(n: int) -> AssetPlan:
    return AssetPlan(
        id=f"asset-{n}",
        asset_type="stac_item",
        name=f"TD2_{n}",
        description="",
        band_names=("B050", "B078"),
        date=START - 86400 * n,
        resolution=10.0,
        footprint=footprint((SQUARE,)),
        start=0.0,
        end=1.0,
        fails=False,
    )


def _record(outcome: str) -> VisualizationRecord:
    return VisualizationRecord(
        namespace="default", id="viz-1", seq=1, aoi_id="aoi-1", index_id="ndvi",
        index_name="NDVI", index_type="preset", expression="(B078-B050)/(B078+B050)",
        expression_type="index", colormap="rdylgn", rescale_low=-1, rescale_high=1,
        workspace="org", created_by="sa", created_at=START, polls=0,
        source_ids="asset-0,asset-1,asset-2", resolution=0.0, outcome=outcome,
    )  # fmt: skip


def _timeline(outcome: str, sources: int = 3) -> list[Any]:
    plan = plan_visualization(
        _record(outcome), [_source(n) for n in range(sources)], VisualizationSettings(30)
    )
    moments = sorted({START, *plan.events, *(e + 0.5 for e in plan.events), plan.finished_at + 99})
    return [evaluate(plan, START, at) for at in moments]


def test_a_visualization_makes_one_asset_per_source_in_turn_then_succeeds() -> None:
    states = _timeline("success")
    assert states[0].status == "running" and states[0].progress == 0  # shown as creating
    final = states[-1]
    assert (final.status, final.progress) == ("success", 100)
    assert [(a.plan.asset_type, a.status) for a in final.assets] == [
        ("visualization", "success")
    ] * 3
    assert final.assets[0].plan.name == "NDVI_TD2_0" and final.assets[0].plan.date == START
    for before, after in itertools.pairwise(states):
        assert after.progress >= before.progress and len(after.assets) >= len(before.assets)
    assert states[-1].updated_at == START + 90


def test_failed_stops_at_the_first_asset_and_partial_success_fails_the_last() -> None:
    failed = _timeline("failed")[-1]
    assert failed.status == "failed" and [a.status for a in failed.assets] == ["failed"]
    assert failed.progress < 100
    partial = _timeline("partial_success")[-1]
    assert partial.status == "partial_success"
    assert [a.status for a in partial.assets] == ["success", "success", "failed"]
    assert _timeline("partial_success", sources=1)[-1].status == "failed"  # nothing would succeed


def test_the_documented_legend_rule_per_index_type() -> None:
    assert legend_modes("preset", "index") == ("dynamic", "theoretical")
    assert legend_modes("custom", "index") == ("dynamic",)
    for kind, expression_type in itertools.product(
        ("preset", "custom"), ("composite", "grayscale")
    ):
        assert legend_modes(kind, expression_type) == ()


# -- legends, PNG and SLD, no HTTP ------------------------------------------------
def test_bins_measure_the_share_and_area_of_the_valid_pixels() -> None:
    values = np.array([0.0, 0.1, 0.2, 0.9, 1.0, np.nan])
    bins = legends.equal_bins(0.0, 1.0, 2, ("#000000", "#ffffff"))
    assert [(b.min, b.max, b.label) for b in bins] == [(0.0, 0.5, "Class 1"), (0.5, 1.0, "Class 2")]
    items = legends.measure(values, bins, area=1000.0)
    assert [i.area_percentage for i in items] == [60.0, 40.0]  # the NaN counts in neither
    assert [i.area for i in items] == [600.0, 400.0]
    five = legends.equal_bins(-1, 1, 5, ("#d7191c", "#1a9641"))
    assert [b.label for b in five] == ["Very Low", "Low", "Moderate", "High", "Very High"]
    assert five[0].color == "#c42620" and five[-1].color == "#2d8a3d"  # sampled at bin centres


def test_the_png_decodes_to_the_classified_image_with_one_swatch_per_bin() -> None:
    values = np.array([[0.1, 0.9], [np.nan, 0.6]])
    bins = legends.equal_bins(0.0, 1.0, 2, ("#ff0000", "#0000ff"))
    image = Image.open(io.BytesIO(legends.png(legends.classified_rgba(values, bins), bins)))
    assert image.format == "PNG" and image.size == PANEL
    assert image.getpixel((10, 10)) == (*_rgb(bins[0].color), 255)
    assert image.getpixel((200, 10)) == (*_rgb(bins[1].color), 255)
    assert image.getpixel((10, 200))[3] == 0  # no data: transparent
    for row, b in enumerate(bins):
        left, top = legends.swatch_origin(row)
        assert image.getpixel((left + 3, top + 3))[:3] == _rgb(b.color)


def test_the_sld_has_a_styled_layer_descriptor_root_and_one_entry_per_bin() -> None:
    bins = legends.equal_bins(-1, 1, 4, ("#000000", "#ffffff"))
    root = ET.fromstring(legends.sld("NDVI_2026_03_06_dynamic", bins))
    assert root.tag == f"{SLD}StyledLayerDescriptor" and root.get("version") == "1.0.0"
    entries = root.findall(f".//{SLD}ColorMap/{SLD}ColorMapEntry")
    assert [(e.get("color"), float(e.get("quantity") or "nan")) for e in entries] == [
        (b.color, b.max) for b in bins
    ]


def _rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


# -- through the API ------------------------------------------------------------
def _aoi(client: Any, app: Any, **changes: Any) -> dict[str, Any]:
    aoi = _create(client, app, **changes)
    advance(client, 300)  # the AOI's two items and its mosaic are done
    return aoi


def _index(client: Any, satellite: str, name: str, headers: dict[str, str] = ALPHA) -> str:
    found = client.get(f"/v0/indices?limit=500&satellite_id={satellite}", headers=headers).json
    return next(i["id"] for i in found["indices"] if i["name"] == name)


def _visualize(
    client: Any, aoi: dict[str, Any], name: str = "NDVI", done: bool = True, **body: Any
) -> dict[str, Any]:
    index_id = _index(client, aoi["satellite_id"], name)
    response = client.post(
        f"/v0/aois/{aoi['aoi_id']}/visualizations",
        json={"index_id": index_id, **body},
        headers=ALPHA,
    )
    assert response.status_code == 201, response.json
    if done:
        advance(client, 100)
    return response.json


def _url(visualization: dict[str, Any], action: str = "") -> str:
    return f"/v0/aois/{visualization['aoi_id']}/visualizations/{visualization['id']}{action}"


def _listed(client: Any, visualization: dict[str, Any], headers: dict[str, str] = ALPHA) -> Any:
    return client.get(
        f"/v0/aois/{visualization['aoi_id']}/visualizations?visualization_id={visualization['id']}",
        headers=headers,
    )


def _rollback(client: Any, visualization: dict[str, Any], dates: list[str], mode: str) -> Any:
    body = {"index_id": visualization["index_id"], "dates": dates, "visualization_mode": mode}
    return client.patch(_url(visualization, "/metadata"), json=body, headers=ALPHA)


def _detail(app: Any, visualization: dict[str, Any]) -> dict[str, Any]:
    """The full visualization now, as createVisualization and PATCH show it (no operation
    reads one without changing it)."""
    from pixxel_mock.server import instance_of

    mock = instance_of(app)
    view = mock.visualizations.get(
        mock.catalog.keys[ALPHA["Authorization"]],
        mock.sessions.session("default"),
        visualization["aoi_id"],
        visualization["id"],
    )
    return detail(view)


def _dates(aoi: dict[str, Any]) -> list[str]:
    return sorted(image["datetime"][:10].replace("-", "_") for image in aoi["images"].values())


def test_create_answers_creating_then_success_with_assets_in_the_aoi_list(
    client: Any, app: Any
) -> None:
    aoi = _aoi(client, app)
    created = _visualize(client, aoi, done=False)
    assert created["status"] == "creating" and created["progress"] == 0
    assert created["metadata"] == {"legend": {}} and created["type"] == "preset"
    assert created["expression_type"] == "index" and created["index_name"] == "NDVI"
    assert [a["asset_type"] for a in created["assets"]] == ["visualization"]
    advance(client, 100)
    listed = _listed(client, created).json
    assert listed["pagination"]["total"] == 1
    (item,) = listed["visualization"]  # the singular key, as documented
    assert (item["status"], item["progress"]) == ("success", 100)
    assert set(item) == {"id", "aoi_id", "index_id", "progress", "status", "tenant_id",
                         "user_id", "created_at", "updated_at"}  # fmt: skip
    assets = client.get(f"/v0/aois/{aoi['aoi_id']}/assets?limit=50", headers=ALPHA).json["assets"]
    made = [a for a in assets if a["asset_type"] == "visualization"]
    assert len(made) == 2 and all(a["visualization_id"] == created["id"] for a in made)
    assert all(a["status"] == "success" and "/visualizations/" in a["path"] for a in made)
    assert {a["visualization_id"] for a in assets if a["asset_type"] != "visualization"} == {""}


def test_a_preset_index_has_both_legends_per_date_computed_from_the_rasters(
    client: Any, app: Any
) -> None:
    aoi = _aoi(client, app)
    legend = _detail(app, _visualize(client, aoi))["metadata"]["legend"]
    assert sorted(legend) == _dates(aoi)
    assets = client.get(f"/v0/aois/{aoi['aoi_id']}/assets", headers=ALPHA).json["assets"]
    area = {
        a["date"].replace("-", "_"): a["area_in_sq_m"]
        for a in assets
        if a["asset_type"] == "stac_item"
    }
    for date, modes in legend.items():
        assert set(modes) == {"dynamic", "theoretical"}
        dynamic, theoretical = modes["dynamic"], modes["theoretical"]
        assert len(dynamic) == len(theoretical) == 5
        assert (theoretical[0]["min"], theoretical[0]["max"]) == (-1.0, -0.6)
        assert theoretical[-1]["max"] == 1.0
        for bins in (dynamic, theoretical):
            assert sum(b["area_percentage"] for b in bins) == pytest.approx(100, abs=0.01)
            assert sum(b["area"] for b in bins) == pytest.approx(area[date], abs=1)
        assert dynamic[0]["min"] < dynamic[-1]["max"]  # spans the values actually found
        assert dynamic[0]["area_percentage"] > 0 and dynamic[-1]["area_percentage"] > 0


def test_a_custom_index_has_only_the_dynamic_legend_and_a_composite_none(
    client: Any, app: Any
) -> None:
    aoi = _aoi(client, app)
    custom = {
        "name": "Red edge", "description": "", "expression": "(B078-B062)/(B078+B062)",
        "colormap": "viridis", "satellite_id": aoi["satellite_id"], "rescale": [-1, 1],
        "expression_type": "index",
    }  # fmt: skip
    assert client.post("/v0/indices", json=custom, headers=ALPHA).status_code == 201
    legend = _detail(app, _visualize(client, aoi, "Red edge"))["metadata"]["legend"]
    assert legend and all(set(modes) == {"dynamic"} for modes in legend.values())
    composite = _visualize(client, aoi, "True colour")
    assert _detail(app, composite)["metadata"] == {"legend": {}}


def test_put_replaces_one_mode_for_the_dates_named_and_keeps_the_rest(
    client: Any, app: Any
) -> None:
    aoi = _aoi(client, app)
    visualization = _visualize(client, aoi)
    first, second = _dates(aoi)
    before = _detail(app, visualization)["metadata"]["legend"]
    entries = [{"color": "#112233", "label": "Low"}, {"color": "#445566", "label": "High",
                                                      "min": None, "max": None}]  # fmt: skip
    body = {"visualization_mode": "dynamic", "dynamic_bins": 3, "legend": {first: entries}}
    response = client.put(_url(visualization, "/metadata"), json=body, headers=ALPHA)
    assert response.status_code == 200, response.json
    after = response.json["legend"]
    dynamic = after[first]["dynamic"]
    assert [b["color"] for b in dynamic][:2] == ["#112233", "#445566"] and len(dynamic) == 3
    assert dynamic[0]["min"] == before[first]["dynamic"][0]["min"]  # the same value range
    assert sum(b["area_percentage"] for b in dynamic) == pytest.approx(100, abs=0.01)
    assert after[first]["theoretical"] == before[first]["theoretical"]  # the other mode kept
    assert after[second] == before[second]  # the other date kept
    bounds = [{"color": "#000000", "label": "neg", "min": -1, "max": 0},
              {"color": "#ffffff", "label": "pos", "min": 0, "max": 1}]  # fmt: skip
    body = {"visualization_mode": "theoretical", "legend": {first: bounds}}
    theoretical = client.put(_url(visualization, "/metadata"), json=body, headers=ALPHA).json
    assert [(b["min"], b["max"]) for b in theoretical["legend"][first]["theoretical"]] == [
        (-1, 0),
        (0, 1),
    ]
    assert theoretical["legend"][first]["dynamic"] == dynamic
    rolled = _rollback(client, visualization, [first], "dynamic")
    assert rolled.status_code == 200 and rolled.json["status"] == "success"
    legend = rolled.json["metadata"]["legend"]
    assert legend[first]["dynamic"] == before[first]["dynamic"]  # recomputed, five bins
    assert legend[first]["theoretical"] == theoretical["legend"][first]["theoretical"]


PUT_REFUSALS = {
    "dynamic-without-bins": (
        {"visualization_mode": "dynamic", "legend": {"D": [{"color": "#000000", "label": "a"}]}},
        "dynamic_bins",
    ),
    "bins-out-of-range": (
        {"visualization_mode": "dynamic", "dynamic_bins": 16,
         "legend": {"D": [{"color": "#000000", "label": "a"}]}},
        "dynamic_bins",
    ),
    "bins-zero": (
        {"visualization_mode": "dynamic", "dynamic_bins": 0,
         "legend": {"D": [{"color": "#000000", "label": "a"}]}},
        "dynamic_bins",
    ),
    "unknown-date": (
        {"visualization_mode": "dynamic", "dynamic_bins": 2,
         "legend": {"2001_01_01": [{"color": "#000000", "label": "a"}]}},
        "legend",
    ),
    "theoretical-without-bounds": (
        {"visualization_mode": "theoretical", "legend": {"D": [{"color": "#000000", "label": "a"}]}},
        "legend",
    ),
    "bounds-not-increasing": (
        {"visualization_mode": "theoretical",
         "legend": {"D": [{"color": "#000000", "label": "a", "min": 0, "max": 1},
                          {"color": "#ffffff", "label": "b", "min": 0.5, "max": 2}]}},
        "legend",
    ),
    "bins-disagree-with-the-legend": (
        {"visualization_mode": "dynamic", "dynamic_bins": 3,
         "legend": {"D": [{"color": "#000000", "label": "a", "min": 0, "max": 1}]}},
        "dynamic_bins",
    ),
    "lone-surrogate-label": (
        {"visualization_mode": "dynamic", "dynamic_bins": 1,
         "legend": {"D": [{"color": "#000000", "label": "\ud800"}]}},
        "label",
    ),
    "bad-colour": (
        {"visualization_mode": "dynamic", "dynamic_bins": 1,
         "legend": {"D": [{"color": "red", "label": "a"}]}},
        "color",
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", PUT_REFUSALS, ids=list(PUT_REFUSALS))
def test_a_bad_legend_change_is_a_400_naming_the_field(client: Any, app: Any, case: str) -> None:
    aoi = _aoi(client, app)
    visualization = _visualize(client, aoi)
    body, field = PUT_REFUSALS[case]
    date = _dates(aoi)[0]
    body = {**body, "legend": {k.replace("D", date): v for k, v in body["legend"].items()}}
    response = client.put(_url(visualization, "/metadata"), json=body, headers=ALPHA)
    assert response.status_code == 400, response.json
    assert field in str(response.json["error"]["details"])


def test_modes_a_visualization_lacks_and_other_indices_are_refused(client: Any, app: Any) -> None:
    aoi = _aoi(client, app)
    date = _dates(aoi)[0]
    composite = _visualize(client, aoi, "True colour")
    response = _rollback(client, composite, [date], "dynamic")
    assert response.status_code == 400 and response.json["error"]["code"] == "unknown_mode"
    ndvi = _visualize(client, aoi)
    wrong_index = {
        "index_id": composite["index_id"],
        "dates": [date],
        "visualization_mode": "dynamic",
    }
    response = client.patch(_url(ndvi, "/metadata"), json=wrong_index, headers=ALPHA)
    assert (
        response.status_code == 400 and response.json["error"]["details"]["parameter"] == "index_id"
    )
    response = _rollback(client, ndvi, ["1999_12_31"], "dynamic")
    assert response.status_code == 400 and response.json["error"]["details"]["parameter"] == "dates"
    sld = client.post(_url(composite, "/sld"), json={"dates": [date], "visualization_modes": ["dynamic"]},
                      headers=ALPHA)  # fmt: skip
    assert (
        sld.status_code == 400
        and sld.json["error"]["details"]["parameter"] == "visualization_modes"
    )


def test_the_png_of_a_date_is_the_index_coloured_by_its_legend(client: Any, app: Any) -> None:
    aoi = _aoi(client, app)
    visualization = _visualize(client, aoi)
    date = _dates(aoi)[0]
    legend = _detail(app, visualization)["metadata"]["legend"][date]["theoretical"]
    body = {
        "index_id": visualization["index_id"],
        "date": date,
        "visualization_mode": "theoretical",
    }
    response = client.post(_url(visualization, "/png"), json=body, headers=ALPHA)
    assert response.status_code == 200 and response.content_type == "image/png"
    image = Image.open(io.BytesIO(response.data)).convert("RGBA")
    assert image.size == PANEL
    colours = {b["color"] for b in legend if b["area_percentage"] > 0}
    pixels = np.asarray(image)[: legends.MAP_SIZE, : legends.MAP_SIZE].reshape(-1, 4)
    map_colours = {"#{:02x}{:02x}{:02x}".format(*p[:3]) for p in pixels if p[3] == 255}
    assert map_colours and map_colours <= {b["color"] for b in legend}
    assert colours <= map_colours
    for row, b in enumerate(legend):
        left, top = legends.swatch_origin(row)
        assert image.getpixel((left + 3, top + 3))[:3] == _rgb(b["color"])
    body["date"] = "1999_12_31"
    response = client.post(_url(visualization, "/png"), json=body, headers=ALPHA)
    assert response.status_code == 400 and response.json["error"]["details"]["parameter"] == "date"
    body["visualization_mode"] = "sepia"
    assert client.post(_url(visualization, "/png"), json=body, headers=ALPHA).status_code == 400


def test_a_composite_png_is_in_colour_without_a_legend(client: Any, app: Any) -> None:
    aoi = _aoi(client, app)
    composite = _visualize(client, aoi, "True colour")
    body = {
        "index_id": composite["index_id"],
        "date": _dates(aoi)[0],
        "visualization_mode": "dynamic",
    }
    response = client.post(_url(composite, "/png"), json=body, headers=ALPHA)
    assert response.status_code == 200
    image = Image.open(io.BytesIO(response.data)).convert("RGB")
    assert image.size == (legends.MAP_SIZE, legends.MAP_SIZE)
    assert len(np.unique(np.asarray(image).reshape(-1, 3), axis=0)) > 10  # not a flat colour


def test_the_sld_documents_are_grouped_by_mode_and_date_one_entry_per_bin(
    client: Any, app: Any
) -> None:
    aoi = _aoi(client, app)
    visualization = _visualize(client, aoi)
    dates = _dates(aoi)
    legend = _detail(app, visualization)["metadata"]["legend"]
    body = {"dates": dates, "visualization_modes": ["dynamic", "theoretical"]}
    response = client.post(_url(visualization, "/sld"), json=body, headers=ALPHA)
    assert response.status_code == 200, response.json
    documents = response.json["sld"]
    assert set(documents) == {"dynamic", "theoretical"}
    for mode, by_date in documents.items():
        assert sorted(by_date) == dates
        for date, text in by_date.items():
            root = ET.fromstring(text)
            assert root.tag == f"{SLD}StyledLayerDescriptor"
            entries = root.findall(f".//{SLD}ColorMapEntry")
            assert [e.get("color") for e in entries] == [b["color"] for b in legend[date][mode]]


def test_refusals_of_create(client: Any, app: Any) -> None:
    aoi = _create(client, app)  # still processing: no asset has succeeded
    url = f"/v0/aois/{aoi['aoi_id']}/visualizations"
    ndvi = _index(client, aoi["satellite_id"], "NDVI")
    response = client.post(url, json={"index_id": ndvi}, headers=ALPHA)
    assert response.status_code == 400 and response.json["error"]["code"] == "not_ready"
    advance(client, 300)
    other = next(s for s in (S2, TD2) if s != aoi["satellite_id"])
    response = client.post(url, json={"index_id": _index(client, other, "NDVI")}, headers=ALPHA)
    assert (
        response.status_code == 400 and response.json["error"]["details"]["parameter"] == "index_id"
    )
    unknown = {"index_id": "11111111-2222-4333-8444-555555555555"}
    assert client.post(url, json=unknown, headers=ALPHA).json["error"]["code"] == "invalid_index"
    foreign = {"index_id": ndvi, "src_asset_ids": ["11111111-2222-4333-8444-555555555555"]}
    response = client.post(url, json=foreign, headers=ALPHA)
    assert (
        response.status_code == 400
        and response.json["error"]["details"]["parameter"] == "src_asset_ids"
    )
    assets = client.get(f"/v0/aois/{aoi['aoi_id']}/assets", headers=ALPHA).json["assets"]
    mosaic = next(a["id"] for a in assets if a["asset_type"] == "mosaic")
    first = client.post(url, json={"index_id": ndvi, "src_asset_ids": [mosaic]}, headers=ALPHA)
    assert first.status_code == 201 and len(first.json["assets"]) == 1
    again = client.post(
        url, json={"index_id": ndvi, "src_asset_ids": [mosaic.upper()]}, headers=ALPHA
    )
    assert (
        again.status_code == 409
        and again.json["error"]["details"]["visualization_id"] == first.json["id"]
    )
    finer = client.post(url, json={"index_id": ndvi, "src_asset_ids": [mosaic], "resolution": 5},
                        headers=ALPHA)  # fmt: skip
    assert finer.status_code == 201 and finer.json["assets"][0]["resolution"] == 5


def test_other_tenants_see_neither_the_aoi_nor_its_visualizations(client: Any, app: Any) -> None:
    aoi = _aoi(client, app)
    visualization = _visualize(client, aoi)
    unknown = {**visualization, "id": "11111111-2222-4333-8444-555555555555"}
    date = _dates(aoi)[0]
    png = {"index_id": visualization["index_id"], "date": date, "visualization_mode": "dynamic"}
    for headers, target in ((BETA, visualization), (ALPHA, unknown)):
        answers = [
            client.post(_url(target, "/png"), json=png, headers=headers),
            client.post(_url(target, "/sld"), json={"dates": [date], "visualization_modes": ["dynamic"]},
                        headers=headers),
            _rollback(client, target, [date], "dynamic") if headers is ALPHA else
            client.patch(_url(target, "/metadata"), json={**png, "dates": [date]}, headers=headers),
        ]  # fmt: skip
        assert [a.status_code for a in answers] == [404, 404, 404]
        assert len({a.json["error"]["message"] for a in answers}) == 1
    assert _listed(client, visualization, BETA).status_code == 404
    created = client.post(f"/v0/aois/{aoi['aoi_id']}/visualizations",
                          json={"index_id": visualization["index_id"]}, headers=BETA)  # fmt: skip
    assert created.status_code == 404


def test_list_filters(client: Any, app: Any) -> None:
    aoi = _aoi(client, app)
    ndvi, composite = _visualize(client, aoi), _visualize(client, aoi, "True colour")
    base = f"/v0/aois/{aoi['aoi_id']}/visualizations"

    def ids(query: str) -> list[str]:
        return [v["id"] for v in client.get(base + query, headers=ALPHA).json["visualization"]]

    assert ids("") == [composite["id"], ndvi["id"]]  # newest first
    assert ids("?expression_type=composite") == [composite["id"]]
    assert ids(f"?index_id={ndvi['index_id']}") == [ndvi["id"]]
    assert ids("?type=custom") == []
    assert ids(f"?user_id={ndvi['user_id']}") == [composite["id"], ndvi["id"]]
    assert ids("?limit=1&offset=1") == [ndvi["id"]]


def test_the_visualization_fails_scenario(client: Any, app: Any) -> None:
    aoi = _aoi(client, app)
    assert client.post("/__mock/scenarios/visualization-fails").status_code == 200
    visualization = _visualize(client, aoi)
    (item,) = _listed(client, visualization).json["visualization"]
    assert item["status"] == "failed" and item["progress"] < 100
    assets = client.get(f"/v0/aois/{aoi['aoi_id']}/assets?limit=50", headers=ALPHA).json["assets"]
    assert [a["status"] for a in assets if a["asset_type"] == "visualization"] == ["failed"]
    body = {
        "index_id": visualization["index_id"],
        "date": _dates(aoi)[0],
        "visualization_mode": "dynamic",
    }
    response = client.post(_url(visualization, "/png"), json=body, headers=ALPHA)
    assert response.status_code == 400 and response.json["error"]["code"] == "unknown_date"


def test_partial_success_under_a_scenario_keeps_the_legend_of_the_dates_made(
    client: Any, app: Any
) -> None:
    aoi = _aoi(client, app)
    scenario = {"visualization_outcomes": [{"outcome": "partial_success", "index_name": "NDVI"}]}
    assert client.put("/__mock/scenario", json=scenario).status_code == 200
    visualization = _visualize(client, aoi)
    (item,) = _listed(client, visualization).json["visualization"]
    assert item["status"] == "partial_success" and item["progress"] == 100
    detail = _detail(app, visualization)
    assert [a["status"] for a in detail["assets"]] == ["success", "failed"]
    made = next(a["date"].replace("-", "_") for a in detail["assets"] if a["status"] == "success")
    assert list(detail["metadata"]["legend"]) == [made]
    untouched = _visualize(client, aoi, "NDWI")  # the entry names NDVI only
    assert _listed(client, untouched).json["visualization"][0]["status"] == "success"


def test_coverage_snapshots_and_reset_cover_visualizations_and_their_edits(
    client: Any, app: Any
) -> None:
    aoi = _aoi(client, app)
    visualization = _visualize(client, aoi, done=False)
    advance(client, 100)
    _listed(client, visualization)
    assert client.get("/__mock/coverage").json["states"]["visualizations"] == [
        "creating",
        "success",
    ]
    date = _dates(aoi)[0]
    assert _rollback(client, visualization, [date], "theoretical").status_code == 200
    custom = {
        "name": "Mine", "description": "", "expression": "B078", "colormap": "greys",
        "satellite_id": aoi["satellite_id"], "rescale": [0, 10000], "expression_type": "grayscale",
    }  # fmt: skip
    assert client.post("/v0/indices", json=custom, headers=ALPHA).status_code == 201
    snapshot = client.get("/__mock/state").json
    assert [v["id"] for v in snapshot["visualizations"]] == [visualization["id"]]
    assert [e["mode"] for e in snapshot["legend_edits"]] == ["theoretical"]
    assert [i["name"] for i in snapshot["indices"]] == ["Mine"]
    before = _detail(app, visualization)
    client.post("/__mock/reset")
    assert _listed(client, visualization).status_code == 404  # the AOI went too
    assert client.put("/__mock/state", json=snapshot).status_code == 200
    assert _detail(app, visualization) == before


def test_in_polls_mode_each_listing_moves_a_visualization_one_step(client: Any, app: Any) -> None:
    aoi = _aoi(client, app)
    assert client.put("/__mock/clock", json={"mode": "polls"}).status_code == 200
    visualization = _visualize(client, aoi, done=False)
    seen = [_listed(client, visualization).json["visualization"][0] for _ in range(5)]
    assert [v["progress"] for v in seen] == sorted(v["progress"] for v in seen)
    assert seen[0]["status"] == "creating" and seen[-1]["status"] == "success"


def test_visualization_assets_have_no_files_to_download(client: Any, app: Any) -> None:
    aoi = _aoi(client, app)
    made = _visualize(client, aoi)["assets"][0]["id"]
    response = client.post(
        f"/v0/aois/{aoi['aoi_id']}/downloads", json={"asset_ids": [made]}, headers=ALPHA
    )
    assert response.status_code == 400 and response.json["error"]["code"] == "invalid_asset"


def test_the_inspector_lists_visualizations_with_the_pngs_the_api_renders(
    client: Any, app: Any
) -> None:
    aoi = _aoi(client, app)
    visualization = _visualize(client, aoi)
    composite = _visualize(client, aoi, "True colour")
    listed = client.get("/__mock/visualizations").json["visualizations"]
    assert [v["id"] for v in listed] == [composite["id"], visualization["id"]]  # newest first
    shown = listed[1]
    assert (shown["aoi_name"], shown["index_name"], shown["status"]) == (
        aoi["name"],
        "NDVI",
        "success",
    )
    dates = _dates(aoi)
    assert {(p["date"], p["mode"]) for p in shown["previews"]} == {
        (date, mode) for date in dates for mode in ("dynamic", "theoretical")
    }
    assert {(p["date"], p["mode"]) for p in listed[0]["previews"]} == {(d, "") for d in dates}
    preview = next(p for p in shown["previews"] if p["mode"] == "theoretical")
    served = client.get(preview["path"])
    assert served.status_code == 200 and served.content_type == "image/png"
    body = {"index_id": visualization["index_id"], "date": preview["date"]}
    rendered = client.post(
        _url(visualization, "/png"),
        json={**body, "visualization_mode": "theoretical"},
        headers=ALPHA,
    )
    assert served.data == rendered.data
    assert Image.open(io.BytesIO(served.data)).size == PANEL
    unknown = client.get(f"/__mock/visualizations/{S2}.png?date={preview['date']}")
    assert unknown.status_code == 404
    wrong_date = client.get(f"/__mock/visualizations/{visualization['id']}.png?date=1999_12_31")
    assert wrong_date.status_code == 400
    assert wrong_date.json["error"]["details"]["parameter"] == "date"
