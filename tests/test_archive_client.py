"""examples/archive_client.py: archive search -> AOI -> assets -> download -> rasterio,
under the pixxel_mock fixture and under explore."""

from __future__ import annotations

from pathlib import Path

from examples.archive_client import ArchiveClient, ArchiveOutcome, run_archive
from examples.pipeline_client import PixxelError
from pixxel_mock.contract.explore import ClientRun

from .helpers import AGRI, explore_example


def test_the_example_client_downloads_an_aoi_and_opens_its_geotiff(pixxel_mock, tmp_path) -> None:
    pixxel_mock.set_clock(mode="polls")
    client = ArchiveClient(pixxel_mock.url, pixxel_mock.keys["alpha"], poll_delay=0)
    outcome = run_archive(client, AGRI, tmp_path / "aoi.zip")
    assert outcome.aoi_status == "success"
    assert outcome.assets == len(outcome.item_ids) + 1  # one per item and the mosaic
    assert sum(name.endswith(".tif") for name in outcome.files) == outcome.assets
    assert outcome.bands > 0 and outcome.crs == "EPSG:4326"
    assert (tmp_path / "aoi.zip").read_bytes()[:2] == b"PK"
    pixxel_mock.assert_no_violations()


def test_the_example_client_reports_a_failed_aoi(pixxel_mock, tmp_path) -> None:
    pixxel_mock.set_clock(mode="polls")
    pixxel_mock.apply_scenario("aoi-failed")
    client = ArchiveClient(pixxel_mock.url, pixxel_mock.keys["alpha"], poll_delay=0)
    outcome = run_archive(client, AGRI, tmp_path / "aoi.zip")
    assert outcome.aoi_status == "failed" and not outcome.files
    assert not (tmp_path / "aoi.zip").exists()


def test_the_example_client_survives_explore(pixxel_mock, tmp_path: Path) -> None:
    operations = (
        "listSatellites",
        "searchSatelliteImages",
        "createAoi",
        "getAoi",
        "listAoiAssets",
        "createAoiDownload",
        "getAoiDownload",
    )

    def client(base_url: str, key: str) -> ArchiveOutcome:
        archive = ArchiveClient(base_url, key, poll_delay=0.0, max_delay=0.0)
        return run_archive(archive, AGRI, tmp_path / "aoi.zip", deadline=30.0)

    def check(run: ClientRun) -> None:
        outcome = run.returned
        if not isinstance(outcome, ArchiveOutcome):
            return  # refused by a fault: reported as PixxelError
        assert outcome.aoi_status not in ("success", "partial_success") or outcome.bands > 0

    explore_example(pixxel_mock, operations, client, check, (PixxelError, TimeoutError))
