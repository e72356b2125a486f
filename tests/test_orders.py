"""The order desk: the lifecycles without HTTP under frozen times, then through the API
(pricing, refusals naming the field, tenancy, the catalog and its GeoTIFFs, stores and
their secrets, deliveries written to the stores folder, download ZIPs, the CSV report,
scenarios, polls mode, snapshots)."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import zipfile
from datetime import datetime
from typing import Any

import pytest
from rasterio.io import MemoryFile

from pixxel_mock.server import instance_of
from pixxel_mock.server.model.orders import (
    DAY,
    HOUR,
    ItemSpec,
    OrderRecord,
    OrderSettings,
    item_state,
    plan_order,
    specs_json,
    specs_of,
)

from .conftest import START, advance
from .helpers import AGRI, ALPHA, BETA, URBAN

VNIR = "2d1b6a3e-52f4-4f0e-9d0c-6a1f3c2b7e10"  # 1 capture
FULL = "8f3c2a71-0b6d-4e59-a1c4-5d7e9f0a2b36"  # 2 captures
POLYGON = {
    "type": "Polygon",
    "coordinates": [[[75.8, 30.88], [75.9, 30.88], [75.9, 30.96], [75.8, 30.96], [75.8, 30.88]]],
}  # about 85 km²: billed as 100
GEOMETRY = {"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": POLYGON}]}
MARCH_10, MARCH_18 = "2026-03-10T00:00:00Z", "2026-03-18T00:00:00Z"  # START is March 6


# -- the lifecycle, no HTTP -------------------------------------------------------------
def _spec(outcome: str = "success", kind: str = "TASKING", windows: int = 1) -> ItemSpec:
    start = START + 4 * DAY
    period = 30 * DAY
    return ItemSpec(
        id="item-1",
        project_id=AGRI,
        name="n",
        usecase="agriculture",
        type=kind,
        polygons=[POLYGON],
        area_km2=85.0,
        archive_items=[],
        bandset_id=VNIR,
        recurrence="ONCE" if windows == 1 else "MONTHLY",
        occurrences=[(start + k * period, start + k * period + 8 * DAY) for k in range(windows)],
        no_of_occurrences=windows,
        cloud_cover=20,
        off_nadir=20,
        delivery_speed="STANDARD",
        store_id="",
        delivery_path="",
        delivery_outcome="success",
        outcome=outcome,
        base_amount=200.0,
        uplifts=[],
        final_amount=200.0,
    )


def test_an_order_items_integers_past_64_bits_are_kept_exactly() -> None:
    """A position's height may be any JSON number; orjson writes none past 64 bits and
    would read one back as a float."""
    high = {
        "type": "Polygon",
        "coordinates": [[[*p, 2**70 + 1] for p in POLYGON["coordinates"][0]]],
    }
    spec = dataclasses.replace(_spec(), polygons=[high])
    record = OrderRecord("default", "order-1", 1, "org", "sa", START, 0, specs_json([spec]))
    assert specs_of(record)[0].polygons == [high]


def _timeline(spec: ItemSpec, days: int = 80) -> list[tuple[str, tuple[str, ...]]]:
    """(item status, task statuses) every 6 hours, each distinct step once."""
    record = OrderRecord("default", "order-1", 1, "org", "sa", START, 0, specs_json([spec]))
    plan = plan_order(record, [spec], OrderSettings(), lambda task: ())
    steps: list[tuple[str, tuple[str, ...]]] = []
    for quarter in range(days * 4):
        state = item_state(
            spec, plan.tasks[spec.id], START, plan.paid_at, START + quarter * 6 * HOUR
        )
        step = (state.status, tuple(t.status for t in state.tasks))
        if not steps or steps[-1] != step:
            steps.append(step)
    return steps


def test_a_tasking_item_is_paid_submitted_captured_in_its_window_then_fulfilled() -> None:
    assert _timeline(_spec()) == [
        ("DRAFT", ("DRAFT",)),  # unpaid at placement
        ("ACTIVE", ("SUBMITTED",)),
        ("ACTIVE", ("IN_PROGRESS",)),  # the window opened
        ("FULFILLED", ("FULFILLED",)),  # captured in the window, delivered 36 h later
    ]


def test_a_recurring_task_stays_draft_until_five_days_before_its_window() -> None:
    spec = _spec(kind="RECURRING", windows=2)
    record = OrderRecord("default", "o", 1, "org", "sa", START, 0, specs_json([spec]))
    plan = plan_order(record, [spec], OrderSettings(), lambda task: ())
    second_start = spec.occurrences[1][0]
    state = item_state(spec, plan.tasks[spec.id], START, plan.paid_at, second_start - 5 * DAY - 1)
    assert [t.status for t in state.tasks] == ["FULFILLED", "DRAFT"]
    assert state.status == "ACTIVE" and state.tokens_used == 100  # charged per task
    state = item_state(spec, plan.tasks[spec.id], START, plan.paid_at, second_start - 5 * DAY)
    assert [t.status for t in state.tasks] == ["FULFILLED", "SUBMITTED"]
    assert state.tokens_used == 200


@pytest.mark.parametrize(
    ("outcome", "item", "task"),
    [
        ("expired", "FAILED", "EXPIRED"),
        ("cloudy", "PARTIALLY_FULFILLED", "PARTIALLY_FULFILLED"),
        ("infeasible", "FAILED", "CANCELLED"),
    ],
)
def test_scenario_outcomes_end_items_and_tasks(outcome: str, item: str, task: str) -> None:
    assert _timeline(_spec(outcome))[-1] == (item, (task,))


def test_feasibility_is_rechecked_daily_until_the_window_opens() -> None:
    spec = _spec("weak_feasibility")
    record = OrderRecord("default", "o", 1, "org", "sa", START, 0, specs_json([spec]))
    plan = plan_order(record, [spec], OrderSettings(), lambda task: ())
    first = item_state(spec, plan.tasks[spec.id], START, plan.paid_at, START)
    later = item_state(spec, plan.tasks[spec.id], START, plan.paid_at, START + 1.5 * DAY)
    assert (first.feasibility_status, first.last_feasibility_check) == ("WEAK_SUCCESS", START)
    assert (later.feasibility_status, later.last_feasibility_check) == ("SUCCESS", START + DAY)


# -- through the API --------------------------------------------------------------------
def _tasking(**changes: Any) -> dict[str, Any]:
    item = {
        "project_id": AGRI,
        "usecase": "agriculture",
        "name": "wheat",
        "geometry": GEOMETRY,
        "bandset": {"bandset_id": VNIR},
        "recurrence": "ONCE",
        "start_date": MARCH_10,
        "end_date": MARCH_18,
    }
    item.update(changes)
    return {k: v for k, v in item.items() if v is not None}


def _archive_ids(client: Any, count: int = 2) -> list[str]:
    found = client.post(
        "/v0/archives/search", headers=ALPHA, json={"intersects": POLYGON, "limit": count}
    ).json
    return [f["id"] for f in found["features"]]


def _order(client: Any, *items: dict[str, Any], headers: dict = ALPHA, dry: bool = False) -> Any:
    return client.post(
        "/v0/orders", headers=headers, json={"dry_run": dry, "order_items": list(items)}
    )


def store_body(name: str = "bucket", bucket: str = "acme-imagery", **extra: Any) -> dict:
    """A Create Store body (an S3 bucket); `extra` adds or replaces fields."""
    configs = {"bucket": bucket, "region": "ap-south-1"}
    return {"name": name, "type": "S3", "configs": configs, "secrets": {}, **extra}


def _store(client: Any, name: str = "bucket", headers: dict = ALPHA) -> dict[str, Any]:
    body = store_body(
        name,
        configs={"bucket": "acme-imagery", "region": "ap-south-1", "path_prefix": "pixxel"},
        secrets={"access_key_id": "AKIAEXAMPLE", "secret_access_key": "hunter2-secret"},
        labels={"env": "prod"},
    )
    answer = client.post("/v0/stores", headers=headers, json=body)
    assert answer.status_code == 200, answer.json
    return answer.json


def test_bandsets_list_their_captures_and_bands(client: Any) -> None:
    bandsets = client.get("/v0/bandsets", headers=ALPHA).json["bandsets"]
    assert {b["id"]: b["captures"] for b in bandsets} == {VNIR: 1, FULL: 2}
    assert bandsets[0]["bands"][0] == {"name": "B013", "wavelength": 487}


def test_pricing_bills_100_km2_at_least_per_capture_with_documented_uplifts(client: Any) -> None:
    answer = _order(client, _tasking(bandset={"bandset_id": FULL}), dry=True)
    assert answer.status_code == 201, answer.json
    item = answer.json["order_items"][0]
    assert item["area"] == 85  # the polygon's own area, km²
    assert item["base_amount"] == 100 * 2.0 * 2  # billed 100 km² x rate x 2 captures
    assert item["uplifts"] == [] and item["final_amount"] == item["base_amount"]  # 8 days: flexible
    urgent = _order(
        client,
        _tasking(end_date="2026-03-12T00:00:00Z", delivery_speed="EXPEDITED"),
        dry=True,
    ).json["order_items"][0]
    assert [(u["title"], u["percentage"]) for u in urgent["uplifts"]] == [
        ("Delivery speed", 20),
        ("Capture timeline", 40),  # a window of 2 days: critical
    ]
    assert urgent["final_amount"] == 200 + 40 + 80
    assert urgent["tokens_used"] == 0 and answer.json["status"] == "UNPAID"


def test_a_dry_run_answers_the_same_shape_and_stores_nothing(client: Any) -> None:
    dry = _order(client, _tasking(), dry=True).json
    assert dry["order_items"][0]["status"] == "DRAFT"
    assert client.get("/v0/orders", headers=ALPHA).json["pagination"]["total"] == 0
    assert client.get(f"/v0/orders/{dry['id']}", headers=ALPHA).status_code == 404


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"start_date": "2026-03-06T12:00:00Z"}, "order_items[0].start_date"),  # < 24 h
        ({"end_date": MARCH_10}, "order_items[0].end_date"),  # not after start
        ({"bandset": None}, "order_items[0].bandset"),  # neither archive nor tasking
        ({"bandset": {"bandset_id": URBAN}}, "order_items[0].bandset.bandset_id"),
        ({"recurrence": None}, "order_items[0].recurrence"),
        ({"item_ids": ["TD1_000000_20250101_L2A_20250102_01001001"]}, "order_items[0].bandset"),
        ({"bandset": None, "item_ids": ["TD1_nope"]}, "order_items[0].item_ids"),
        ({"recurrence": "MONTHLY", "no_of_occurrences": 2}, "order_items[0].no_of_occurrences"),
        (
            {
                "geometry": {
                    "type": "FeatureCollection",
                    "features": [
                        {
                            "type": "Feature",
                            "geometry": {
                                "type": "Polygon",
                                "coordinates": [
                                    [[75.8, 30.88], [75.9, 30.88], [75.9, 30.96], [75.8, 30.96]]
                                ],
                            },
                        }
                    ],
                }
            },
            "order_items[0].geometry.features[0].geometry",
        ),  # not closed
        ({"cloud_delivery": {"config": URBAN}}, "order_items[0].cloud_delivery.config"),
    ],
)
def test_each_refusal_is_a_400_naming_the_field(client: Any, changes: dict, field: str) -> None:
    answer = _order(client, _tasking(), _tasking(**changes))
    assert answer.status_code == 400, answer.json
    assert answer.json["error"]["details"]["parameter"] == field.replace(
        "order_items[0]", "order_items[1]"
    )
    assert client.get("/v0/orders", headers=ALPHA).json["pagination"]["total"] == 0


def test_polygons_more_than_200_km_apart_are_refused(client: Any) -> None:
    far = json.loads(json.dumps(POLYGON).replace("75.", "79."))
    geometry = {
        **GEOMETRY,
        "features": [*GEOMETRY["features"], {"type": "Feature", "geometry": far}],
    }
    answer = _order(client, _tasking(geometry=geometry))
    assert answer.json["error"]["details"]["parameter"] == "order_items[0].geometry"


def test_orders_items_catalogs_and_stores_are_the_workspaces_own(client: Any) -> None:
    order = _order(client, _tasking()).json
    store = _store(client)
    assert _order(client, _tasking(), headers=BETA).status_code == 403  # AGRI is not beta's
    item_id = order["order_items"][0]["id"]
    assert client.get(f"/v0/orders/{order['id']}", headers=BETA).status_code == 404
    assert client.get(f"/v0/order-items/{item_id}", headers=BETA).status_code == 403
    assert client.get("/v0/orders", headers=BETA).json["orders"] == []
    assert client.get("/v0/order-items", headers=BETA).json["order_items"] == []
    assert client.get("/v0/stores", headers=BETA).json["stores"] == []
    assert client.delete(f"/v0/stores/{store['id']}", headers=BETA).status_code == 403
    assert _store(client, headers=BETA)["name"] == "bucket"  # names are per workspace


def _fulfilled(client: Any, app: Any, **tasking: Any) -> tuple[dict, dict]:
    """An order of one tasking item delivered to a store and one archive item, after the
    capture window and the delivery time."""
    store = _store(client)
    archive = {"project_id": AGRI, "usecase": "agriculture", "geometry": GEOMETRY}
    archive["item_ids"] = _archive_ids(client)
    item = _tasking(cloud_delivery={"config": store["id"], "path": "march"}, **tasking)
    order = _order(client, item, archive)
    assert order.status_code == 201, order.json
    assert order.json["status"] == "UNPAID"
    advance(client, 14 * DAY)
    return order.json, store


def test_a_fulfilled_order_fills_the_catalog_with_real_geotiffs(client: Any, app: Any) -> None:
    order, _ = _fulfilled(client, app)
    got = client.get(f"/v0/orders/{order['id']}", headers=ALPHA).json
    assert got["status"] == "PAID" and got["paid_at"] and got["transaction_id"]
    tasking, archive = got["order_items"]
    assert (tasking["status"], archive["status"]) == ("FULFILLED", "FULFILLED")
    assert tasking["tokens_used"] == 200 and archive["feasibility_status"] == "NOT_APPLICABLE"
    found = client.post("/v0/catalogs/search", headers=ALPHA, json={}).json
    assert found["pagination"] == {"limit": 2, "offset": 0, "total": 3}  # limit defaults to 2
    everything = client.post("/v0/catalogs/search", headers=ALPHA, json={"limit": 10}).json
    details = [c["details"] for c in everything["catalogs"]]
    assert {d["id"] for d in details[1:]} == {i["item_id"] for i in archive["images"]}
    capture = everything["catalogs"][0]
    assert capture["bandset_id"] == VNIR
    props = capture["details"]["properties"]
    assert (
        isinstance(props["gsd"], int) and props["proj:epsg"] == 4326 and "sat:orbit_state" in props
    )
    href = capture["details"]["assets"]["data"]["href"]
    tif = client.get(href.replace("http://localhost", ""))
    assert tif.status_code == 200
    with MemoryFile(tif.data) as memory, memory.open() as raster:
        assert raster.count == 4 and raster.crs.to_epsg() == 4326
    by_item = client.post(
        "/v0/catalogs/search", headers=ALPHA, json={"order_item_ids": [archive["id"]], "limit": 10}
    ).json
    assert by_item["pagination"]["total"] == 2
    queried = client.post(
        "/v0/catalogs/search",
        headers=ALPHA,
        json={"query": {"usecase": {"eq": "agriculture"}, "platform": {"eq": "TD2"}}, "limit": 10},
    ).json
    assert [c["id"] for c in queried["catalogs"]] == [capture["id"]]
    assert client.get(f"/v0/catalogs/{capture['id']}", headers=ALPHA).json == capture
    assert client.get(f"/v0/catalogs/{capture['id']}", headers=BETA).status_code == 403


def test_a_catalog_entrys_json_follows_the_host_and_the_order_it_came_from(
    client: Any, app: Any
) -> None:
    """Written once and kept, an entry's STAC item still names the host each client
    asked, and a reset's new order with the same ids gets its own."""

    def details(base_url: str = "http://localhost") -> list[dict[str, Any]]:
        body = {"limit": 10}
        found = client.post("/v0/catalogs/search", headers=ALPHA, json=body, base_url=base_url)
        return [c["details"] for c in found.json["catalogs"]]

    _fulfilled(client, app)
    for base in ("http://localhost", "http://127.0.0.1:9", "http://localhost"):
        hrefs = [d["assets"]["data"]["href"] for d in details(base)]
        assert len(hrefs) == 3 and all(h.startswith(f"{base}/") for h in hrefs), hrefs
    first = sorted(tuple(d["bbox"]) for d in details())
    assert client.post("/__mock/reset").status_code == 200
    shifted = {**POLYGON, "coordinates": [[[x + 0.1, y] for x, y in POLYGON["coordinates"][0]]]}
    moved = {"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": shifted}]}
    _fulfilled(client, app, geometry=moved)  # the same order id, the capture elsewhere
    again = sorted(tuple(d["bbox"]) for d in details())
    assert len(again) == 3 and again != first


def test_automatic_delivery_writes_the_package_at_path_plus_target_path(
    client: Any, app: Any
) -> None:
    order, store = _fulfilled(client, app)
    deliveries = client.get("/v0/catalogs/deliveries", headers=ALPHA).json["deliveries"]
    (auto,) = deliveries
    assert auto["status"] == "SUCCESS" and auto["task_id"]
    package = (
        instance_of(app).deliveries.stores_dir
        / "default"
        / store["configs"]["bucket"]
        / store["configs"]["path_prefix"]
        / auto["cloud_delivery"]["path"]
        / auto["target_path"]
    )
    with zipfile.ZipFile(package) as archive:
        names = archive.namelist()
        manifest = json.loads(archive.read("manifest.json"))
    assert manifest["delivery_id"] == auto["delivery_id"] and any(n.endswith(".tif") for n in names)
    assert not list(package.parent.glob(".*.part"))  # written aside, renamed into place
    item = client.get(f"/v0/order-items/{order['order_items'][0]['id']}", headers=ALPHA).json
    assert [t["delivery_status"] for t in item["tasks"]] == ["SUCCESSFUL"]
    stores_dir = instance_of(app).deliveries.stores_dir
    (stores_dir / "notes.txt").write_text("the user's, not a namespace's")
    assert client.post("/__mock/reset").status_code == 200  # a fresh start: no package left
    assert not package.exists() and (stores_dir / "notes.txt").exists()


@pytest.mark.parametrize(("namespace", "folder"), [("..", "%2E%2E"), (".", "%2E"), ("a.b", "a.b")])
def test_a_namespace_folder_stays_inside_the_stores_dir(
    app: Any, namespace: str, folder: str
) -> None:
    deliveries = instance_of(app).deliveries
    assert deliveries.namespace_folder(namespace) == deliveries.stores_dir / folder


def test_manual_deliveries_and_the_store_they_use(client: Any, app: Any) -> None:
    order, store = _fulfilled(client, app)
    archive_item = order["order_items"][1]["id"]
    both = {
        "catalog_ids": ["00000000-0000-4000-8000-000000000000"],
        "order_item_ids": [archive_item],
    }
    refused = client.post(
        "/v0/catalogs/deliveries",
        headers=ALPHA,
        json={"deliveries": [{**both, "cloud_info": {"config": store["id"]}}]},
    )
    assert refused.status_code == 400
    made = client.post(
        "/v0/catalogs/deliveries",
        headers=ALPHA,
        json={
            "deliveries": [
                {
                    "order_item_ids": [archive_item],
                    "cloud_info": {"config": store["id"], "path": "manual"},
                }
            ]
        },
    )
    assert made.status_code == 201
    assert [(d["status"], d["task_id"]) for d in made.json["deliveries"]] == [("CREATED", None)] * 2
    assert client.delete(f"/v0/stores/{store['id']}", headers=ALPHA).status_code == 409
    advance(client, 60)
    listed = client.get("/v0/catalogs/deliveries", headers=ALPHA).json["deliveries"]
    assert {d["status"] for d in listed} == {"SUCCESS"} and len(listed) == 3
    assert client.delete(f"/v0/stores/{store['id']}", headers=ALPHA).status_code == 204
    assert client.get("/v0/stores", headers=ALPHA).json["stores"] == []


def test_a_store_keeps_no_secret_and_its_name_is_unique(client: Any, app: Any) -> None:
    store = _store(client)
    assert "secrets" not in store and store["labels"] == {"env": "prod"}
    assert client.post("/v0/stores", headers=ALPHA, json={**store, "secrets": {}}).status_code in (
        400,
        409,
    )
    duplicate = client.post("/v0/stores", headers=ALPHA, json=store_body(type="GCS"))
    assert duplicate.status_code == 409
    snapshot = json.dumps(client.get("/__mock/state").json)
    assert "hunter2-secret" not in snapshot and "acme-imagery" in snapshot


def test_the_recorder_writes_secrets_redacted() -> None:
    from pixxel_mock.contract.har import redact_body

    body = json.dumps({"name": "s", "secrets": {"secret_access_key": "hunter2"}, "labels": {}})
    assert json.loads(redact_body(body)) == {"name": "s", "secrets": "REDACTED", "labels": {}}


def test_a_download_resource_gets_a_signed_url_to_a_real_zip(client: Any, app: Any) -> None:
    order, _ = _fulfilled(client, app)
    created = client.post(
        "/v0/catalogs/download",
        headers=ALPHA,
        json={"order_item_ids": [order["order_items"][1]["id"]]},
    ).json
    assert (created["status"], created["signed_url"]) == ("created", "")
    advance(client, 3)
    assert (
        client.get(f"/v0/catalogs/download/{created['id']}", headers=ALPHA).json["status"]
        == "in_progress"
    )
    advance(client, 10)
    done = client.get(f"/v0/catalogs/download/{created['id']}", headers=ALPHA).json
    assert done["status"] == "success" and done["signed_url"]
    assert client.get(f"/v0/catalogs/download/{created['id']}", headers=BETA).status_code == 404
    package = client.get(done["signed_url"].replace("http://localhost", ""))
    with zipfile.ZipFile(io.BytesIO(package.data)) as archive:
        assert sum(n.endswith(".tif") for n in archive.namelist()) == 2
    tampered = done["signed_url"].replace("signature=", "signature=0")
    assert client.get(tampered.replace("http://localhost", "")).status_code == 403
    advance(client, 3601)  # past the URL's hour on the mock's clock
    assert client.get(done["signed_url"].replace("http://localhost", "")).status_code == 403


def test_the_report_reads_back_with_csv_in_the_zone_asked(client: Any, app: Any) -> None:
    order, _ = _fulfilled(client, app)
    answer = client.get("/v0/reports?tz=Asia/Kolkata", headers=ALPHA)
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(answer.data.decode())))
    assert [r["order_item_id"] for r in rows] == [i["id"] for i in order["order_items"]]
    assert {r["order_id"] for r in rows} == {order["id"]}
    created = datetime.fromisoformat(rows[0]["created_at"])
    assert created.utcoffset().total_seconds() == 5.5 * 3600 and created.timestamp() == START
    assert rows[0]["status"] == "FULFILLED" and rows[1]["item_ids"].split() == [
        i["item_id"] for i in order["order_items"][1]["images"]
    ]
    bad = client.get("/v0/reports?tz=Mars/Olympus_Mons", headers=ALPHA)
    assert bad.status_code == 400 and bad.json["error"]["details"]["parameter"] == "tz"
    header = answer.data.decode().splitlines()[0]
    assert client.get("/v0/reports", headers=BETA).data.decode().splitlines() == [header]


def test_a_failed_delivery_writes_no_package(client: Any, app: Any) -> None:
    assert client.post("/__mock/scenarios/failed-delivery").status_code == 200
    order, _ = _fulfilled(client, app)
    (auto,) = client.get("/v0/catalogs/deliveries", headers=ALPHA).json["deliveries"]
    assert auto["status"] == "FAILED"
    assert not list(instance_of(app).deliveries.stores_dir.rglob("*.zip"))
    item = client.get(f"/v0/order-items/{order['order_items'][0]['id']}", headers=ALPHA).json
    assert item["tasks"][0]["delivery_status"] == "FAILED"


@pytest.mark.parametrize(
    ("scenario", "item_status", "payment"),
    [
        ("infeasible-tasking", "FAILED", "REFUND"),
        ("cloudy-window", "PARTIALLY_FULFILLED", "PAID"),
        ("expired-window", "FAILED", "REFUND"),
    ],
)
def test_scenarios_make_tasking_fail_or_partial(
    client: Any, scenario: str, item_status: str, payment: str
) -> None:
    assert client.post(f"/__mock/scenarios/{scenario}").status_code == 200
    order = _order(client, _tasking()).json
    advance(client, 14 * DAY)
    got = client.get(f"/v0/orders/{order['id']}", headers=ALPHA).json
    assert got["order_items"][0]["status"] == item_status
    assert got["order_items"][0]["payment_status"] == payment
    assert got["status"] == ("REFUND" if payment == "REFUND" else "PAID")
    catalogs = client.post("/v0/catalogs/search", headers=ALPHA, json={}).json["catalogs"]
    assert bool(catalogs) == (item_status == "PARTIALLY_FULFILLED")
    if catalogs:
        assert catalogs[0]["details"]["properties"]["eo:cloud_cover"] > 20
    states = client.get("/__mock/coverage").json["states"]
    assert item_status in states["order_items"]


def test_polls_mode_moves_an_order_a_step_per_read(client: Any) -> None:
    client.put("/__mock/clock", json={"mode": "polls"})
    order = _order(client, _tasking()).json
    seen = [
        client.get(f"/v0/orders/{order['id']}", headers=ALPHA).json["order_items"][0]["status"]
        for _ in range(6)
    ]
    assert seen[0] == "ACTIVE" and seen[-1] == "FULFILLED"
    assert seen == sorted(seen, key=["DRAFT", "ACTIVE", "FULFILLED"].index)


def test_snapshots_keep_orders_stores_and_deliveries(client: Any, app: Any) -> None:
    order, store = _fulfilled(client, app)
    client.get("/v0/catalogs/deliveries", headers=ALPHA)
    before = client.get(f"/v0/orders/{order['id']}", headers=ALPHA).json
    snapshot = client.get("/__mock/state").json
    assert [o["id"] for o in snapshot["orders"]] == [order["id"]]
    assert [s["id"] for s in snapshot["stores"]] == [store["id"]]
    client.post("/__mock/reset")
    assert client.get(f"/v0/orders/{order['id']}", headers=ALPHA).status_code == 404
    assert client.put("/__mock/state", json=snapshot).status_code == 200
    assert client.get(f"/v0/orders/{order['id']}", headers=ALPHA).json == before


def test_the_inspector_lists_orders_with_their_tasks(client: Any) -> None:
    _order(client, _tasking())
    (order,) = client.get("/__mock/orders").json["orders"]
    (item,) = order["items"]
    assert item["windows"][0][1] - item["windows"][0][0] == 8 * DAY
    assert item["tasks"][0]["status"] == "DRAFT"
    assert b"order-timeline" in client.get("/__mock/ui").data


def test_the_order_fixtures_are_closed(tmp_path: Any) -> None:
    import shutil

    from pixxel_mock.server.model.catalog import FixtureError
    from pixxel_mock.server.model.orders import load_order_fixtures
    from pixxel_mock.server.spec.resources import FIXTURES_DIR

    satellites = {s.id: s for s in instance_of_fixture_satellites()}
    shutil.copytree(FIXTURES_DIR, tmp_path / "fixtures")
    path = tmp_path / "fixtures" / "bandsets.yaml"
    path.write_text(
        path.read_text().replace("    captures: 1\n", "    captures: 1\n    colour: blue\n")
    )
    with pytest.raises(FixtureError, match=r"bandsets\.yaml: bandsets/0: .*'colour'"):
        load_order_fixtures(tmp_path / "fixtures", satellites)


def instance_of_fixture_satellites() -> Any:
    from pixxel_mock.server.model.archive import load_archive_fixtures
    from pixxel_mock.server.spec.resources import FIXTURES_DIR

    return load_archive_fixtures(FIXTURES_DIR).satellites


def test_order_items_filter_by_type_user_and_area(client: Any) -> None:
    _order(client, _tasking(), _tasking(recurrence="MONTHLY", end_date=None, no_of_occurrences=3))
    listed = client.get("/v0/order-items?type=RECURRING", headers=ALPHA).json["order_items"]
    assert [len(i["tasks"]) for i in listed] == [3]
    user = client.get("/v0/orders", headers=ALPHA).json["orders"][0]["user_id"]
    assert (
        client.get(f"/v0/order-items?user_id={user.upper()}", headers=ALPHA).json["pagination"][
            "total"
        ]
        == 2
    )
    assert client.get("/v0/order-items?area=90/..", headers=ALPHA).json["order_items"] == []
    assert client.get("/v0/order-items?area=big", headers=ALPHA).status_code == 400


def test_catalog_search_filters_by_place_time_ids_and_sorts(client: Any, app: Any) -> None:
    _fulfilled(client, app)

    def found(**body: Any) -> list[dict]:
        answer = client.post("/v0/catalogs/search", headers=ALPHA, json={"limit": 10, **body})
        assert answer.status_code == 200, answer.json
        return answer.json["catalogs"]

    everything = found()
    assert len(everything) == 3
    assert len(found(bbox=[75.7, 30.8, 76.0, 31.0])) == 3
    assert found(bbox=[10.0, 10.0, 11.0, 11.0]) == []
    assert (
        found(
            intersects={
                "type": "Polygon",
                "coordinates": [[[10, 10], [11, 10], [11, 11], [10, 10]]],
            }
        )
        == []
    )
    assert found(datetime="2030-01-01T00:00:00Z/..") == []
    capture = everything[0]
    assert [c["id"] for c in found(ids=[capture["id"]])] == [capture["id"]]
    assert [c["id"] for c in found(item_ids=[capture["details"]["id"]])] == [capture["id"]]
    clouds = [
        c["details"]["properties"]["eo:cloud_cover"]
        for c in found(sort_by=[{"eo:cloud_cover": "ASC"}])
    ]
    assert clouds == sorted(clouds)
    both = {"bbox": [75.7, 30.8, 76.0, 31.0], "intersects": POLYGON}
    assert client.post("/v0/catalogs/search", headers=ALPHA, json=both).status_code == 400
    page = client.post("/v0/catalogs/search", headers=ALPHA, json={"offset": 2}).json
    assert len(page["catalogs"]) == 1 and page["pagination"]["total"] == 3
