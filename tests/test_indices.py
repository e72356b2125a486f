"""Indices: the expression grammar (valid, invalid, unknown bands, never `eval`), the
preset fixtures, and List/Create index through the API (filters, 400, 409, tenancy)."""

from __future__ import annotations

import builtins
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from pixxel_mock.server.model.catalog import FixtureError
from pixxel_mock.server.model.expressions import ExpressionError, evaluate, parse
from pixxel_mock.server.model.indices import load_index_fixtures
from pixxel_mock.server.spec.resources import FIXTURES_DIR

from .helpers import ALPHA, BETA

TD2 = "0005c5bb-0bd2-4c80-9393-4a808341c54c"
S2 = "0002a3a3-00a2-4b55-842b-44d8202c6d60"
TD_BANDS = ("B013", "B031", "B050", "B062", "B078", "B091")
BANDS = {
    "B050": np.array([[0.1, 0.2], [0.0, 0.4]]),
    "B078": np.array([[0.5, 0.2], [0.0, 0.6]]),
}


# -- the grammar ------------------------------------------------------------------
def _value(text: str) -> np.ndarray:
    expression = parse(text, ("B050", "B078"))
    return evaluate(expression.parts[0], BANDS)


def test_a_normalised_difference_evaluates_per_pixel_with_nan_for_zero_over_zero() -> None:
    values = _value("(B078-B050)/(B078+B050)")
    assert values[0, 0] == pytest.approx(0.4 / 0.6)
    assert values[0, 1] == 0.0
    assert np.isnan(values[1, 0])  # 0/0: no data, not an error and not inf
    assert values[1, 1] == pytest.approx(0.2)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1 + 2 * 3", 7.0),
        ("(1 + 2) * 3", 9.0),
        ("-2 - -3", 1.0),
        ("8 / 4 / 2", 1.0),
        ("10 - 4 - 3", 3.0),
        ("+1.5e1 * .5", 7.5),
    ],
)
def test_precedence_associativity_and_signs(text: str, expected: float) -> None:
    assert float(_value(text)) == pytest.approx(expected)


def test_the_bands_read_are_listed_once_in_order_of_first_use() -> None:
    expression = parse("B078*2 - B050 + B078", TD_BANDS)
    assert expression.bands == ("B078", "B050")


def test_a_composite_has_one_part_per_channel() -> None:
    assert len(parse("B050, B031, B013", TD_BANDS).parts) == 3


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("(B050 + B078", "expected '\\)'"),
        ("B050 +", "ends where a value was expected"),
        ("B050 B078", "unexpected 'B078'"),
        ("B050 ** 2", "unexpected '\\*'"),
        ("B050 ^ 2", "unexpected '\\^'"),
        ("B050.real", "unexpected '\\.'"),
        ("B04 - B08", "'B04' at position 0 is not a band of the satellite"),
        ("__import__('os').system('true')", "'__import__' at position 0 is not a band"),
        ("(" * 40 + "B050" + ")" * 40, "nests deeper than 32"),
    ],
)
def test_what_does_not_parse_is_refused_with_where(text: str, message: str) -> None:
    with pytest.raises(ExpressionError, match=message):  # a regular expression
        parse(text, TD_BANDS)


def test_a_very_deep_formula_is_refused_before_python_recursion() -> None:
    with pytest.raises(ExpressionError, match="deeper"):
        parse("-" * 5000 + "B050", TD_BANDS)


def test_parsing_and_evaluating_never_call_eval_or_exec(monkeypatch: Any) -> None:
    def forbidden(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("eval/exec/compile called")

    for name in ("eval", "exec", "compile"):
        monkeypatch.setattr(builtins, name, forbidden)
    assert float(_value("(B078 - B050) * 0 + 2")[0, 0]) == 2.0


# -- the fixtures -----------------------------------------------------------------
def test_presets_parse_against_their_satellites_bands_and_a_wrong_band_stops_the_start(
    tmp_path: Path,
) -> None:
    bands = {TD2: TD_BANDS}
    folder = tmp_path / "fixtures"
    folder.mkdir()
    text = (FIXTURES_DIR / "indices.yaml").read_text()
    only_td = text[: text.index("  - satellite_id: 0002a3a3")]  # TD1, TD2
    (folder / "indices.yaml").write_text(
        only_td.replace("0004ab8d-0ad1-4d62-8a3f-fe18a7000e70", TD2, 1)
    )
    fixtures = load_index_fixtures(folder, bands)
    ndvi = next(p for p in fixtures.presets if p.name == "NDVI")
    assert ndvi.bands == ("B078", "B050") and ndvi.type == "preset"
    (folder / "indices.yaml").write_text(only_td.replace("(B078-B050)", "(B078-B04)", 1))
    with pytest.raises(FixtureError, match=r"preset NDVI.*'B04'"):
        load_index_fixtures(folder, {**bands, "0004ab8d-0ad1-4d62-8a3f-fe18a7000e70": TD_BANDS})


def test_an_unknown_key_in_indices_yaml_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "fixtures"
    shutil.copytree(FIXTURES_DIR, folder)
    path = folder / "indices.yaml"
    path.write_text(
        path.read_text().replace("colormap: rdylgn,", "colormap: rdylgn, colour: red,", 1)
    )
    with pytest.raises(FixtureError, match="colour"):
        load_index_fixtures(folder, {})


# -- through the API ----------------------------------------------------------------
def _new(**changes: Any) -> dict[str, Any]:
    return {
        "name": "Red-edge chlorophyll",
        "description": "Chlorophyll from the red edge",
        "expression": "(B078-B062)/(B078+B062)",
        "colormap": "viridis",
        "satellite_id": TD2,
        "rescale": [-1, 1],
        "expression_type": "index",
        **changes,
    }


def _list(client: Any, query: str = "", headers: dict[str, str] = ALPHA) -> list[dict[str, Any]]:
    response = client.get(f"/v0/indices?limit=500{query}", headers=headers)
    assert response.status_code == 200, response.json
    return response.json["indices"]


def test_presets_are_listed_per_satellite_with_their_bands(client: Any) -> None:
    td2 = _list(client, f"&satellite_id={TD2}")
    names = [i["name"] for i in td2]
    assert {"NDVI", "NDWI", "NDRE", "True colour"} <= set(names)
    ndvi = next(i for i in td2 if i["name"] == "NDVI")
    assert ndvi["bands"] == ["B078", "B050"] and ndvi["type"] == "preset"
    assert ndvi["expression_type"] == "index" and ndvi["rescale"] == [-1, 1]
    s2_ndvi = next(i for i in _list(client, f"&satellite_id={S2}") if i["name"] == "NDVI")
    assert s2_ndvi["expression"] == "(B08-B04)/(B08+B04)" and s2_ndvi["id"] != ndvi["id"]
    assert _list(client, "&type=custom") == []
    composites = _list(client, "&expression_type=composite")
    assert composites and all(i["expression_type"] == "composite" for i in composites)
    assert _list(client, f"&index_id={ndvi['id'].upper()}") == [ndvi]
    page = client.get("/v0/indices?limit=2&offset=1", headers=ALPHA).json
    assert len(page["indices"]) == 2 and page["pagination"]["total"] == len(_list(client))


def test_a_custom_index_is_created_and_listed_for_its_workspace_only(client: Any) -> None:
    response = client.post("/v0/indices", json=_new(), headers=ALPHA)
    assert response.status_code == 201, response.json
    created = response.json
    assert created["type"] == "custom" and created["bands"] == ["B078", "B062"]
    assert _list(client, "&type=custom") == [created]
    assert _list(client, "&type=custom", BETA) == []  # another organisation's workspace
    again = client.post("/v0/indices", json=_new(), headers=BETA)  # its own name space
    assert again.status_code == 201 and again.json["id"] != created["id"]


@pytest.mark.parametrize("name", ["NDVI", "ndvi", "Red-edge chlorophyll"])
def test_a_name_already_used_for_the_satellite_is_a_409(client: Any, name: str) -> None:
    assert client.post("/v0/indices", json=_new(), headers=ALPHA).status_code == 201
    response = client.post("/v0/indices", json=_new(name=name), headers=ALPHA)
    assert response.status_code == 409
    assert response.json["error"]["code"] == "duplicate_name"
    assert response.json["error"]["details"]["parameter"] == "name"
    other_satellite = client.post(
        "/v0/indices", json=_new(name=name, satellite_id=S2, expression="B08"), headers=ALPHA
    )
    assert other_satellite.status_code == (409 if name.lower() == "ndvi" else 201)


BAD = {
    "does-not-parse": ({"expression": "(B078-B062"}, "expression", "invalid_expression"),
    "unknown-band": ({"expression": "B04-B08"}, "expression", "invalid_expression"),
    "composite-of-one": (
        {"expression": "B050", "expression_type": "composite"},
        "expression",
        "invalid_expression",
    ),
    "index-of-three": ({"expression": "B050,B031,B013"}, "expression", "invalid_expression"),
    "unknown-colormap": ({"colormap": "jet"}, "colormap", "invalid_colormap"),
    "rescale-backwards": ({"rescale": [1, -1]}, "rescale", "invalid_rescale"),
    "unknown-satellite": (
        {"satellite_id": "11111111-2222-4333-8444-555555555555"},
        "satellite_id",
        "invalid_satellite",
    ),
    "a-lone-dot": ({"expression": ".E)"}, "expression", "invalid_expression"),
    "another-script's-digit": ({"expression": "B050 + \u0663"}, "expression", "invalid_expression"),
    "lone-surrogate": (
        {"name": "a\udae8"},
        "name",
        "invalid_body",
    ),  # refused with every body (checking/validation.py)
    "rescale-of-three": ({"rescale": [0, 1, 2]}, "rescale", None),
    "bad-type": ({"expression_type": "formula"}, "expression_type", None),
}


@pytest.mark.parametrize("case", BAD, ids=list(BAD))
def test_a_bad_index_is_a_400_naming_the_field(client: Any, case: str) -> None:
    changes, field, code = BAD[case]
    response = client.post("/v0/indices", json=_new(**changes), headers=ALPHA)
    assert response.status_code == 400, response.json
    error = response.json["error"]
    assert field in str(error["details"])
    if code:
        assert error["code"] == code and error["details"]["parameter"] == field


def test_the_old_lens_satellite_id_is_not_read(client: Any) -> None:
    body = _new()
    body["lens_satellite_id"] = body.pop("satellite_id")
    response = client.post("/v0/indices", json=body, headers=ALPHA)
    assert response.status_code == 400
    assert "satellite_id" in str(response.json["error"]["details"])


def test_a_composite_takes_any_colormap(client: Any) -> None:
    body = _new(
        name="False colour",
        expression="B078,B050,B031",
        expression_type="composite",
        colormap="none",
        rescale=[0, 3000],
    )
    assert client.post("/v0/indices", json=body, headers=ALPHA).status_code == 201
