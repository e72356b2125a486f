"""kill -9 while orders are placed and their deliveries written: no acknowledged order is
lost, and no half-written package stands at a store path (write, then rename)."""

from __future__ import annotations

import threading
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest
import requests

from pixxel_mock.contract.live import LiveMock
from pixxel_mock.server.model.deliveries import write_atomically

from .helpers import AGRI, ALPHA
from .test_orders import GEOMETRY, POLYGON


def _archive_order(store_id: str, item_ids: list[str]) -> dict[str, Any]:
    return {
        "order_items": [
            {
                "project_id": AGRI,
                "usecase": "agriculture",
                "geometry": GEOMETRY,
                "item_ids": item_ids,
                "cloud_delivery": {"config": store_id, "path": "crash"},
            }
        ]
    }


def _load(url: str, body: dict, acknowledged: list[str], stop: threading.Event) -> None:
    """Place orders and list deliveries (which writes the packages) until the server dies."""
    session = requests.Session()
    while not stop.is_set():
        try:
            placed = session.post(f"{url}/v0/orders", headers=ALPHA, json=body, timeout=5)
            if placed.status_code == 201:
                acknowledged.append(placed.json()["id"])
            session.get(f"{url}/v0/catalogs/deliveries", headers=ALPHA, timeout=5)
        except requests.RequestException:
            return


def test_kill_9_during_deliveries_loses_no_order_and_leaves_no_partial_package(
    tmp_path: Path,
) -> None:
    state, stores = tmp_path / "state.sqlite", tmp_path / "stores"
    args = ["--state-file", str(state), "--stores-dir", str(stores), "--speed", "20000"]
    acknowledged: list[str] = []
    with LiveMock(args) as first:
        store = requests.post(
            f"{first.url}/v0/stores",
            headers=ALPHA,
            json={
                "name": "crash",
                "type": "S3",
                "configs": {"bucket": "crash-test", "region": "r"},
                "secrets": {},
            },
            timeout=5,
        ).json()
        found = requests.post(
            f"{first.url}/v0/archives/search",
            headers=ALPHA,
            json={"intersects": POLYGON, "limit": 1},
            timeout=5,
        ).json()
    body = _archive_order(store["id"], [f["id"] for f in found["features"]])
    for _ in range(2):
        server = LiveMock(["--workers", "2", *args])
        stop = threading.Event()
        threads = [
            threading.Thread(target=_load, args=(server.url, body, acknowledged, stop))
            for _ in range(3)
        ]
        for thread in threads:
            thread.start()
        time.sleep(1.5)  # an hour of simulated time: archive items are fulfilled, delivered
        server.kill()
        stop.set()
        for thread in threads:
            thread.join(10)
    with LiveMock(args) as restarted:
        listed = requests.get(
            f"{restarted.url}/v0/orders", headers=ALPHA, params={"limit": 500}, timeout=10
        ).json()
        assert set(acknowledged) <= {o["id"] for o in listed["orders"]}
        requests.get(f"{restarted.url}/v0/catalogs/deliveries", headers=ALPHA, timeout=30)
    packages = list(stores.rglob("*.zip"))
    assert acknowledged and packages
    for package in packages:  # every package at a store path is whole
        with zipfile.ZipFile(package) as archive:
            assert archive.testzip() is None and "manifest.json" in archive.namelist()


def test_a_write_that_dies_before_its_rename_leaves_nothing_at_the_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "bucket" / "order" / "delivery.zip"

    def die(*_: object) -> None:
        raise KeyboardInterrupt  # the process stops between the write and the rename

    monkeypatch.setattr("os.replace", die)
    with pytest.raises(KeyboardInterrupt):
        write_atomically(target, b"PK" + b"\0" * 1000)
    assert not target.exists()
