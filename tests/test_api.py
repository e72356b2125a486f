"""The API in-process (Flask test client): every documented 400/403 case, and the journey."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from pixxel_mock.server import instance_of
from pixxel_mock.server.model.errors import NO_ACCESS
from pixxel_mock.server.model.sessions import BAD_KEY

from .conftest import advance
from .helpers import (
    AGRI,
    ALPHA,
    BETA,
    COAST,
    REVOKED,
    URBAN,
    WF_FAILING,
    WF_LINEAR,
    WF_MANY,
    check_progression,
    open_zip,
)

UNKNOWN_UUID = "11111111-2222-4333-8444-555555555555"


def create(client: FlaskClient, workflow: str = WF_LINEAR, project: str = AGRI, headers=ALPHA):
    response = client.post(f"/v0/workflows/{workflow}/jobs?project_id={project}", headers=headers)
    assert response.status_code == 200, response.json
    return response.json


def error_of(response) -> dict:
    assert response.mimetype == "application/json"
    body = response.json
    assert set(body) == {"error"} and {"code", "message", "details"} <= set(body["error"])
    return body["error"]


def test_ping_needs_no_key(client: FlaskClient) -> None:
    response = client.get("/ping")
    assert response.status_code == 200 and response.json == "pong"


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": ""}, {"Authorization": "nope"}, REVOKED, {"Authorization": "Bearer x"}],
    ids=["missing", "empty", "unknown", "revoked", "bearer-unknown"],
)
def test_bad_keys_answer_403(client: FlaskClient, headers: dict[str, str]) -> None:
    response = client.get("/v0/workflows", headers=headers)
    assert response.status_code == 403
    assert error_of(response) == {"code": "forbidden", "message": BAD_KEY, "details": None}


def test_bearer_prefix_is_accepted(client: FlaskClient) -> None:
    response = client.get("/v0/projects", headers={"Authorization": "Bearer pxm_demo_alpha"})
    assert response.status_code == 200 and response.json["count"] == 2


@pytest.mark.parametrize(
    ("path", "parameter"),
    [
        (f"/v0/workflows/not-a-uuid?project_id={AGRI}", "workflow_id"),
        (f"/v0/workflows/{WF_LINEAR}", "project_id"),
        (f"/v0/workflows/{WF_LINEAR}?project_id=abc", "project_id"),
        ("/v0/workflows?limit=0", "limit"),
        ("/v0/workflows?limit=501", "limit"),
        ("/v0/workflows?limit=ten", "limit"),
        ("/v0/workflows?offset=-1", "offset"),
        ("/v0/workflows?limit=5&limit=6", "limit"),
        ("/v0/workflows?created_on=yesterday", "created_on"),
        ("/v0/blocks?mode=batch", "mode"),
        ("/v0/blocks/Cloud_Mask", "name"),
        ("/v0/projects?page_size=1000", "page_size"),
        (f"/v0/workflows/{WF_LINEAR}/jobs/42", "job_id"),
    ],
)
def test_malformed_parameters_answer_400_naming_the_parameter(
    client: FlaskClient, path: str, parameter: str
) -> None:
    response = client.get(path, headers=ALPHA)
    assert response.status_code == 400
    error = error_of(response)
    assert error["details"]["parameter"] == parameter
    assert parameter in error["message"]


def test_missing_project_id_on_create_is_400(client: FlaskClient) -> None:
    response = client.post(f"/v0/workflows/{WF_LINEAR}/jobs", headers=ALPHA)
    assert response.status_code == 400
    assert error_of(response)["code"] == "missing_parameter"


def test_body_where_none_is_defined_is_400(client: FlaskClient) -> None:
    response = client.post(
        f"/v0/workflows/{WF_LINEAR}/jobs?project_id={AGRI}", headers=ALPHA, json={"x": 1}
    )
    assert response.status_code == 400
    assert error_of(response)["code"] == "unexpected_body"


def test_foreign_and_unknown_resources_answer_the_same_403(client: FlaskClient) -> None:
    job = create(client)
    foreign = [
        client.get(f"/v0/workflows/{WF_MANY}?project_id={URBAN}", headers=ALPHA),
        client.get(f"/v0/workflows/{WF_LINEAR}/estimate", headers=BETA),
        client.get(f"/v0/workflows/{WF_LINEAR}/jobs/{job['id']}", headers=BETA),
        client.get(f"/v0/workflows/{WF_LINEAR}/jobs", headers=BETA),
        client.put(f"/v0/workflows/{WF_LINEAR}/jobs/{job['id']}/download", headers=BETA),
        client.post(f"/v0/workflows/{WF_LINEAR}/jobs?project_id={AGRI}", headers=BETA),
        client.get(f"/v0/workflows?project_id={AGRI}", headers=BETA),
    ]
    unknown = [
        client.get(f"/v0/workflows/{UNKNOWN_UUID}?project_id={AGRI}", headers=ALPHA),
        client.get(f"/v0/workflows/{WF_LINEAR}?project_id={COAST}", headers=ALPHA),
        client.get(f"/v0/workflows/{WF_LINEAR}/jobs/{UNKNOWN_UUID}", headers=ALPHA),
        client.get(f"/v0/workflows/{WF_FAILING}/jobs/{job['id']}", headers=ALPHA),
        client.put(f"/v0/workflows/{WF_LINEAR}/jobs/{UNKNOWN_UUID}/download", headers=ALPHA),
        client.put(
            f"/v0/workflows/{WF_LINEAR}/jobs/{job['id']}/tasks/{UNKNOWN_UUID}/download",
            headers=ALPHA,
        ),
    ]
    for response in foreign + unknown:
        assert response.status_code == 403
        assert error_of(response)["message"] == NO_ACCESS


def test_projects_of_other_tenants_are_not_found(client: FlaskClient) -> None:
    assert client.get(f"/v0/projects/{AGRI}", headers=ALPHA).json["project"]["id"] == AGRI
    for headers in (BETA,):
        hidden = client.get(f"/v0/projects/{AGRI}", headers=headers)
        missing = client.get(f"/v0/projects/{UNKNOWN_UUID}", headers=headers)
        assert hidden.status_code == missing.status_code == 404
        assert error_of(hidden) == error_of(missing)


def test_project_pages(client: FlaskClient) -> None:
    first = client.get("/v0/projects?page_size=1", headers=ALPHA).json
    second = client.get("/v0/projects?page_size=1&page_num=2", headers=ALPHA).json
    assert first["count"] == second["count"] == 2
    assert first["projects"][0]["id"] != second["projects"][0]["id"]


def test_blocks(client: FlaskClient) -> None:
    every = client.get("/v0/blocks", headers=ALPHA).json["blocks"]
    insight = client.get("/v0/blocks?mode=insight", headers=ALPHA).json["blocks"]
    assert len(every) == 18 and 0 < len(insight) < len(every)
    versions = client.get("/v0/blocks/cloud-mask", headers=ALPHA).json["blocks"]
    assert sorted(b["spec"]["version"] for b in versions) == ["1.0.0", "1.1.0"]
    one = client.get("/v0/blocks/cloud-mask/versions/1.1.0", headers=ALPHA).json
    assert one["spec"]["name"] == "cloud-mask" and one["spec"]["inputs"][0]["format"] == "raster"
    guide = client.get("/v0/blocks/workflows?name=ndvi&version=1.1.0", headers=ALPHA).json
    assert [(b["name"], b["version"]) for b in guide["blocks"]] == [("ndvi", "1.1.0")]
    assert client.get("/v0/blocks/insights", headers=ALPHA).json["blocks"]
    for path in ("/v0/blocks/no-such-block", "/v0/blocks/cloud-mask/versions/9.9.9"):
        response = client.get(path, headers=ALPHA)
        assert response.status_code == 404 and error_of(response)["code"] == "not_found"


def test_workflow_list_filters_and_pages(client: FlaskClient) -> None:
    listed = client.get("/v0/workflows", headers=ALPHA).json
    assert listed["pagination"] == {"limit": 50, "offset": 0, "total": 3}
    page = client.get("/v0/workflows?limit=1&offset=1", headers=ALPHA).json
    assert len(page["workflows"]) == 1 and page["pagination"]["total"] == 3
    by_name = client.get("/v0/workflows?name=ndvi", headers=ALPHA).json["workflows"]
    assert [w["id"] for w in by_name] == [WF_LINEAR]
    by_day = client.get("/v0/workflows?created_on=2026-03-02", headers=ALPHA).json["workflows"]
    assert [w["id"] for w in by_day] == [WF_LINEAR]
    coast = client.get(f"/v0/workflows?project_id={COAST}", headers=ALPHA).json["workflows"]
    assert [w["id"] for w in coast] == [WF_FAILING]


def test_workflow_estimate_matches_the_job_cost(client: FlaskClient) -> None:
    workflow = client.get(f"/v0/workflows/{WF_LINEAR}?project_id={AGRI}", headers=ALPHA).json
    estimate = client.get(f"/v0/workflows/{WF_LINEAR}/estimate", headers=ALPHA).json
    job = create(client)
    assert workflow["estimated_cost"] == estimate["estimated_cost"] == job["cost"] > 0
    assert [t["name"] for t in workflow["spec"]["tasks"]] == [t["name"] for t in job["tasks"]]


def test_create_job_answers_200_with_a_queued_job(client: FlaskClient) -> None:
    job = create(client)
    assert job["status"] == "queued" and job["progress"] == "0%"
    assert job["finished_at"] == "" and job["exec_created_at"] == ""
    assert all(t["status"] == "created" for t in job["tasks"])
    listed = client.get(f"/v0/workflows/{WF_LINEAR}/jobs", headers=ALPHA).json["jobs"]
    assert [j["id"] for j in listed] == [job["id"]]


def test_job_ids_are_deterministic_for_a_seed(client: FlaskClient) -> None:
    first = create(client)["id"]
    client.post("/__mock/reset")
    assert create(client)["id"] == first


def test_download_before_the_end_is_400_not_finished(client: FlaskClient) -> None:
    job = create(client)
    response = client.put(f"/v0/workflows/{WF_LINEAR}/jobs/{job['id']}/download", headers=ALPHA)
    assert response.status_code == 400
    assert error_of(response) == {
        "code": "not_finished",
        "message": error_of(response)["message"],
        "details": {"status": "queued"},
    }
    task = job["tasks"][0]["id"]
    path = f"/v0/workflows/{WF_LINEAR}/jobs/{job['id']}/tasks/{task}/download"
    assert error_of(client.put(path, headers=ALPHA))["code"] == "not_finished"


def test_manual_clock_journey_with_packages(client: FlaskClient) -> None:
    job = create(client)
    path = f"/v0/workflows/{WF_LINEAR}/jobs/{job['id']}"
    previous = None
    statuses = []
    for _ in range(40):
        current = client.get(path, headers=ALPHA).json
        check_progression(previous, current)
        statuses.append(current["status"])
        previous = current
        if current["status"] == "completed":
            break
        advance(client, 30)
    assert statuses[0] == "queued" and "running" in statuses and statuses[-1] == "completed"
    assert previous["progress"] == "100%" and previous["time_taken"]

    pending = client.put(path + "/download", headers=ALPHA).json
    assert pending["status"] == "pending" and pending["signed_url"] == ""
    assert pending["workflowId"] == WF_LINEAR
    assert client.put(path + "/download", headers=ALPHA).json == pending  # same download
    advance(client, 30)
    ready = client.put(path + "/download", headers=ALPHA).json
    assert ready["status"] == "ready" and ready["id"] == pending["id"]
    package = client.get(ready["signed_url"].removeprefix("http://localhost"))
    assert package.status_code == 200 and package.mimetype == "application/zip"
    manifest, files = open_zip(package.data)
    assert manifest["job_id"] == job["id"] and manifest["kind"] == "job"
    assert [t["id"] for t in manifest["tasks"]] == [t["id"] for t in previous["tasks"]]
    assert {f["path"] for f in manifest["files"]} == set(files)
    assert any(p.startswith("inputs/") for p in files)
    again = client.get(ready["signed_url"].removeprefix("http://localhost"))
    assert again.data == package.data  # byte-identical


def test_signed_urls_expire_on_the_mock_clock_and_reject_tampering(client: FlaskClient) -> None:
    job = create(client)
    path = f"/v0/workflows/{WF_LINEAR}/jobs/{job['id']}/download"
    advance(client, 3000)
    client.put(path, headers=ALPHA)
    advance(client, 60)
    url = client.put(path, headers=ALPHA).json["signed_url"].removeprefix("http://localhost")
    base, query = url.split("?")
    expires = query.split("&")[0].split("=")[1]
    tampered = [
        url[:-1] + ("0" if url[-1] != "0" else "1"),
        url.replace(f"expires={expires}", f"expires={int(expires) + 3600}"),
        url.replace("/default/", "/other/"),
        base,
    ]
    for candidate in tampered:
        assert client.get(candidate).status_code in (400, 403)
    assert client.get(url).status_code == 200
    advance(client, 3600)
    expired = client.get(url)
    assert expired.status_code == 403 and error_of(expired)["code"] == "forbidden"


def test_unknown_route_wrong_method_and_large_body(client: FlaskClient) -> None:
    assert error_of(client.get("/v0/nothing"))["code"] == "not_found"
    wrong = client.delete(f"/v0/workflows/{WF_LINEAR}/jobs", headers=ALPHA)
    assert wrong.status_code == 405 and error_of(wrong)["code"] == "method_not_allowed"
    assert "GET" in wrong.headers["Allow"] and "POST" in wrong.headers["Allow"]
    big = client.put(
        f"/v0/workflows/{WF_LINEAR}/jobs/{UNKNOWN_UUID}/download",
        headers=ALPHA,
        data=b"x" * (2 << 20),
    )
    assert big.status_code == 400 and error_of(big)["code"] == "unexpected_body"
    huge = client.put("/__mock/state", data=b"{" * (2 << 20), content_type="application/json")
    assert huge.status_code == 413 and error_of(huge)["code"] == "payload_too_large"


def test_the_contract_is_served(client: FlaskClient) -> None:
    assert client.get("/openapi.json").json["openapi"] == "3.1.0"
    assert b"openapi: 3.1.0" in client.get("/openapi.yaml").data


def test_journal_records_requests_and_violations(client: FlaskClient) -> None:
    client.get("/v0/workflows?limit=0", headers=ALPHA)
    client.get("/v0/workflows", headers=ALPHA)
    entries = client.get("/__mock/requests?limit=2").json["requests"]
    assert [e["status"] for e in entries] == [400, 200]
    assert entries[0]["violations"] and not entries[1]["violations"]
    assert entries[1]["operation_id"] == "listWorkflows"
    client.delete("/__mock/requests")
    assert client.get("/__mock/requests").json["requests"] == []


def test_clock_control(client: FlaskClient) -> None:
    clock = client.get("/__mock/clock").json
    assert clock["mode"] == "manual" and clock["now"] == "2026-03-06T10:00:00Z"
    advance(client, 90)
    assert client.get("/__mock/clock").json["now"] == "2026-03-06T10:01:30Z"
    back = client.put("/__mock/clock", json={"now": "2026-01-01T00:00:00Z"})
    assert back.status_code == 400 and error_of(back)["code"] == "clock_backwards"
    wall = client.put("/__mock/clock", json={"mode": "wall", "speed": 120}).json
    assert wall["mode"] == "wall" and wall["speed"] == 120
    bad = client.put("/__mock/clock", data="mode=wall", content_type="text/plain")
    assert bad.status_code == 415
    assert client.post("/__mock/clock/advance", json={"seconds": -5}).status_code == 400


def test_state_export_and_import_round_trip(client: FlaskClient) -> None:
    job = create(client)
    snapshot = client.get("/__mock/state").json
    client.post("/__mock/reset")
    assert client.get(f"/v0/workflows/{WF_LINEAR}/jobs", headers=ALPHA).json["jobs"] == []
    imported = client.put("/__mock/state", json=snapshot)
    assert imported.status_code == 200 and imported.json["jobs"] == 1
    again = client.get(f"/v0/workflows/{WF_LINEAR}/jobs/{job['id']}", headers=ALPHA).json
    assert again["id"] == job["id"] and again["created_at"] == job["created_at"]
    assert client.put("/__mock/state", json={"format": "other"}).status_code == 400


def test_control_plane_refuses_remote_clients_without_a_token(client: FlaskClient) -> None:
    remote = {"REMOTE_ADDR": "203.0.113.9"}
    response = client.get("/__mock/clock", environ_base=remote)
    assert response.status_code == 403 and error_of(response)["code"] == "control_forbidden"
    # the API itself and signed URLs stay reachable
    assert client.get("/v0/projects", headers=ALPHA, environ_base=remote).status_code == 200


def test_control_token_is_required_when_configured() -> None:
    from pixxel_mock.server import create_app

    app = create_app({"control_token": "s3cret", "clock_mode": "manual"})
    client = app.test_client()
    assert client.get("/__mock/clock").status_code == 403
    assert client.get("/__mock/clock", headers={"X-Mock-Token": "wrong"}).status_code == 403
    remote = {"REMOTE_ADDR": "203.0.113.9"}
    ok = client.get("/__mock/clock", headers={"X-Mock-Token": "s3cret"}, environ_base=remote)
    assert ok.status_code == 200


def test_sessions_have_their_own_jobs_and_clock(client: FlaskClient) -> None:
    mine = {**ALPHA, "X-Mock-Session": "worker-1"}
    job = create(client, headers=mine)
    assert client.get(f"/v0/workflows/{WF_LINEAR}/jobs", headers=ALPHA).json["jobs"] == []
    assert (
        client.get(f"/v0/workflows/{WF_LINEAR}/jobs/{job['id']}", headers=ALPHA).status_code == 403
    )
    advance(client, 500, session="worker-1")
    assert client.get("/__mock/clock").json["now"] == "2026-03-06T10:00:00Z"
    bad = client.get("/v0/projects", headers={**ALPHA, "X-Mock-Session": "a b"})
    assert bad.status_code == 400


def test_the_hot_path_compiles_no_schema_and_reads_no_file(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    import builtins

    import jsonschema_rs

    job = create(client)
    advance(client, 100)

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("per-request schema compilation or file I/O")

    monkeypatch.setattr(builtins, "open", forbidden)
    monkeypatch.setattr(jsonschema_rs, "Draft202012Validator", forbidden)
    response = client.get(f"/v0/workflows/{WF_LINEAR}/jobs/{job['id']}", headers=ALPHA)
    assert response.status_code == 200 and response.json["status"] == "running"


def test_in_polls_mode_a_package_is_pending_for_the_first_put_and_its_scenario_polls() -> None:
    from pixxel_mock.server import create_app

    client = create_app({"clock_mode": "polls"}).test_client()
    job = create(client)
    path = f"/v0/workflows/{WF_LINEAR}/jobs/{job['id']}"
    while client.get(path, headers=ALPHA).json["status"] != "completed":
        pass
    puts = [client.put(f"{path}/download", headers=ALPHA).json["status"] for _ in range(3)]
    assert puts == ["pending", "ready", "ready"]  # ready at the next PUT (package_polls 1)
    client.put("/__mock/scenario", json={"downloads": {"pending_polls": 3}})
    task = client.get(path, headers=ALPHA).json["tasks"][0]["id"]
    puts = [client.put(f"{path}/tasks/{task}/download", headers=ALPHA).json for _ in range(5)]
    assert [p["status"] for p in puts] == ["pending"] * 3 + ["ready"] * 2  # pending for 3 PUTs


def test_lists_see_jobs_written_by_another_worker_at_once(tmp_path: Path) -> None:
    """Two apps on one state file, as two gunicorn workers: each caches its lists, and
    a job created (or a reset made) by one shows in the other's next list."""
    from pixxel_mock.server import create_app, instance_of

    config = {"state_file": tmp_path / "state.sqlite", "clock_mode": "manual", "seed": 3}
    first, second = create_app(config), create_app(config)
    try:
        lister, writer = first.test_client(), second.test_client()
        listing = f"/v0/workflows/{WF_LINEAR}/jobs"
        assert lister.get(listing, headers=ALPHA).json == {"jobs": []}  # cached, empty
        made = [create(writer)["id"] for _ in range(2)]
        assert [j["id"] for j in lister.get(listing, headers=ALPHA).json["jobs"]] == made[::-1]
        assert writer.post("/__mock/reset").status_code == 200
        assert lister.get(listing, headers=ALPHA).json == {"jobs": []}
    finally:
        instance_of(first).close()
        instance_of(second).close()


def test_a_new_job_answered_from_its_workflow_template_reads_the_same_when_fetched(
    app: Flask, client: FlaskClient
) -> None:
    """createJob fills a per-workflow template (api/queued.py) instead of planning the job:
    for every workflow, the answer is byte for byte what a read at the same moment shows."""
    instance = instance_of(app)
    for workflow in instance.catalog.workflows.values():
        key = next(
            k for k in instance.catalog.keys.values() if workflow.project_id in k.project_ids
        )
        headers = {"Authorization": key.key}
        path = f"/v0/workflows/{workflow.id}/jobs"
        created = client.post(f"{path}?project_id={workflow.project_id}", headers=headers)
        assert created.status_code == 200, created.json
        assert instance.queued_answers.proved(workflow.id), workflow.name
        fetched = client.get(f"{path}/{created.json['id']}", headers=headers)
        assert fetched.data == created.data


@pytest.mark.parametrize(
    ("operation", "body", "field"),
    [
        ("/v0/aois", {"name": "fields \udab8", "item_ids": []}, "name"),
        ("/v0/archives/search", {"ids": ["ok", "\ud800"]}, "ids/1"),
        ("/v0/indices", {"\udfff": 1}, "\\udfff"),
    ],
)
def test_a_lone_surrogate_anywhere_in_a_body_is_a_400_naming_it(
    client: Any, operation: str, body: dict[str, Any], field: str
) -> None:
    # JSON's \ud800 escapes let one through; UTF-8, SQLite and every answer cannot carry it.
    answer = client.post(
        operation,
        data=json.dumps(body),
        headers={**ALPHA, "Content-Type": "application/json"},
    )
    assert answer.status_code == 400
    error = answer.get_json()["error"]
    assert error["code"] == "invalid_body" and "lone surrogate" in error["message"]
    assert error["details"]["parameter"] == field
