"""The fixture files are validated closed: a stray key stops the mock at start, by name."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from pixxel_mock.server.model.archive import load_archive_fixtures
from pixxel_mock.server.model.catalog import FIXTURE_FILES, FixtureError, load_catalog
from pixxel_mock.server.spec.document import ApiSpec
from pixxel_mock.server.spec.resources import API_SPEC, FIXTURES_DIR, FIXTURES_SCHEMA


def _copy(tmp_path: Path) -> Path:
    target = tmp_path / "fixtures"
    shutil.copytree(FIXTURES_DIR, target)
    return target


def test_the_shipped_fixtures_load() -> None:
    catalog = load_catalog(FIXTURES_DIR)
    assert catalog.projects and catalog.blocks and catalog.workflows


def test_a_data_type_with_a_stray_key_is_refused(tmp_path: Path) -> None:
    # The bug this guards against: an unquoted comma in a YAML flow mapping made a key.
    fixtures = _copy(tmp_path)
    blocks = fixtures / "blocks.yaml"
    blocks.write_text(
        blocks.read_text().replace(
            'description: "NDVI raster, one band"', "description: NDVI raster, one band"
        )
    )
    with pytest.raises(FixtureError, match=r"blocks\.yaml: blocks/2/outputs/0: .*'one band'"):
        load_catalog(fixtures)


@pytest.mark.parametrize("name", FIXTURE_FILES)
def test_an_unknown_key_in_any_record_is_refused(tmp_path: Path, name: str) -> None:
    fixtures = _copy(tmp_path)
    document = yaml.safe_load((fixtures / name).read_text())
    (records,) = document.values()
    records[0]["colour"] = "blue"
    (fixtures / name).write_text(yaml.safe_dump(document))
    with pytest.raises(FixtureError, match=rf"{name}: \w+/0: .*'colour'"):
        load_catalog(fixtures)


def test_a_wrongly_typed_value_is_refused(tmp_path: Path) -> None:
    fixtures = _copy(tmp_path)
    document = yaml.safe_load((fixtures / "blocks.yaml").read_text())
    document["blocks"][0]["versions"][0]["estimated_time_duration"] = "two minutes"
    (fixtures / "blocks.yaml").write_text(yaml.safe_dump(document))
    with pytest.raises(FixtureError, match="blocks/0/versions/0/estimated_time_duration"):
        load_catalog(fixtures)


def test_the_closed_data_type_names_the_fields_of_the_contracts() -> None:
    fixture_fields = yaml.safe_load(FIXTURES_SCHEMA.read_text())["$defs"]["DataType"]
    contract_fields = ApiSpec.load(API_SPEC).resolved["components"]["schemas"]["DataType"]
    assert fixture_fields["properties"].keys() == contract_fields["properties"].keys()


def test_the_archive_file_is_closed_too(tmp_path: Path) -> None:
    fixtures = _copy(tmp_path)
    document = yaml.safe_load((fixtures / "archive.yaml").read_text())
    document["satellites"][0]["colour"] = "blue"
    (fixtures / "archive.yaml").write_text(yaml.safe_dump(document))
    with pytest.raises(FixtureError, match=r"archive\.yaml: satellites/0: .*'colour'"):
        load_archive_fixtures(fixtures)
