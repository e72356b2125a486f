"""Reproducing error cases over real HTTP: Prefer, fault rules, scenarios, namespaces."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from pixxel_mock.contract.live import LiveMock
from pixxel_mock.server.handling import DROP_KEY
from pixxel_mock.server.model.faults import Delay
from pixxel_mock.server.spec.document import ApiSpec
from pixxel_mock.server.spec.resources import API_SPEC

from .helpers import AGRI, ALPHA, BETA, URBAN, WF_LINEAR, WF_MANY

SEED = 11
SPEC = ApiSpec.load(API_SPEC)


@pytest.fixture(scope="module")
def mock() -> Iterator[LiveMock]:
    with LiveMock(["--seed", str(SEED), "--validate-responses", "--workers", "2"]) as live:
        yield live


class Namespace:
    """A fresh X-Mock-Session on the shared server, with a manual clock."""

    def __init__(self, live: LiveMock) -> None:
        self.url = live.url
        self.name = f"t-{uuid.uuid4().hex[:10]}"
        self.session = requests.Session()
        self.session.headers["X-Mock-Session"] = self.name
        self.control("PUT", "/__mock/clock", json={"mode": "manual"})

    def control(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.session.request(method, self.url + path, **kwargs)
        assert response.status_code == 200, response.text
        return response.json()

    def api(self, method: str, path: str, headers: dict[str, str] = ALPHA, **kwargs: Any):
        return self.session.request(method, self.url + path, headers=headers, **kwargs)

    def fault(self, rule: dict[str, Any]) -> dict[str, Any]:
        return self.control("POST", "/__mock/faults", json=rule)

    def statuses(self, count: int, path: str = "/v0/projects") -> list[int]:
        return [self.api("GET", path).status_code for _ in range(count)]

    def create_job(self, workflow: str = WF_LINEAR, project: str = AGRI, headers=ALPHA) -> dict:
        response = self.api("POST", f"/v0/workflows/{workflow}/jobs?project_id={project}", headers)
        assert response.status_code == 200, response.text
        return response.json()

    def finish(self, job: dict, headers=ALPHA) -> dict:
        self.control("POST", "/__mock/clock/advance", json={"seconds": 100_000})
        return self.api(
            "GET", f"/v0/workflows/{job['workflow_id']}/jobs/{job['id']}", headers
        ).json()


@pytest.fixture
def ns(mock: LiveMock) -> Namespace:
    return Namespace(mock)


# -- Prefer -----------------------------------------------------------------


def test_prefer_code_answers_the_documented_example(ns: Namespace) -> None:
    forbidden = ns.api("GET", "/v0/projects", headers={**ALPHA, "Prefer": "code=403"})
    assert forbidden.status_code == 403 and forbidden.headers["X-Mock-Fault"] == "prefer"
    example = SPEC.operations["listProjects"].example("403")[1]
    assert forbidden.json() == example
    throttled = ns.api("GET", "/v0/projects", headers={**ALPHA, "Prefer": "code=429"})
    assert throttled.status_code == 429 and throttled.json()["error"]["code"] == "rate_limited"


def test_prefer_example_picks_a_named_example(ns: Namespace) -> None:
    path = f"/v0/workflows/{WF_LINEAR}/jobs/{uuid.uuid4()}"
    failed = ns.api("GET", path, headers={**ALPHA, "Prefer": "example=failed"})
    assert failed.status_code == 200
    assert failed.json() == SPEC.operations["getJob"].example("200", "failed")[1]
    bad_key = ns.api("GET", path, headers={"Prefer": "code=403, example=badKey"})
    assert bad_key.json()["error"]["message"].startswith("Missing, invalid or revoked")


def test_prefer_refuses_an_undocumented_code_or_unknown_example(ns: Namespace) -> None:
    teapot = ns.api("GET", "/v0/projects", headers={**ALPHA, "Prefer": "code=418"})
    assert teapot.status_code == 400
    error = teapot.json()["error"]
    assert (
        error["code"] == "invalid_prefer" and "not documented for listProjects" in error["message"]
    )
    assert "200" in error["details"]["documented"]
    unknown = ns.api("GET", "/v0/projects", headers={**ALPHA, "Prefer": "example=nope"})
    assert unknown.status_code == 400
    garbage = ns.api("GET", "/v0/projects", headers={**ALPHA, "Prefer": "delay=soon"})
    assert garbage.status_code == 400


def test_prefer_delay_waits_and_combines(ns: Namespace) -> None:
    started = time.monotonic()
    response = ns.api("GET", "/v0/projects", headers={**ALPHA, "Prefer": "delay=300"})
    assert response.status_code == 200 and time.monotonic() - started >= 0.3
    started = time.monotonic()
    both = ns.api("GET", "/v0/projects", headers={**ALPHA, "Prefer": "code=503; delay=200"})
    assert both.status_code == 503 and time.monotonic() - started >= 0.2


# -- fault rules --------------------------------------------------------------


def test_times_after_every_and_window(ns: Namespace) -> None:
    ns.fault(
        {
            "id": "first-two",
            "match": {"operation_id": "listProjects"},
            "limit": {"times": 2},
            "action": {"status": 503},
        }
    )
    assert ns.statuses(4) == [503, 503, 200, 200]
    ns.control("DELETE", "/__mock/faults")
    ns.fault({"match": {"path": "/v0/projects"}, "limit": {"after": 3}, "action": {"status": 500}})
    assert ns.statuses(4) == [200, 200, 500, 500]
    ns.control("DELETE", "/__mock/faults")
    ns.fault({"match": {"method": "GET"}, "limit": {"every": 2}, "action": {"status": 502}})
    assert ns.statuses(4) == [200, 502, 200, 502]
    ns.control("DELETE", "/__mock/faults")
    ns.fault({"match": {"requests": {"from": 2, "to": 3}}, "action": {"status": 504}})
    assert ns.statuses(5) == [200, 504, 504, 200, 200]


def test_match_on_key_and_operation(ns: Namespace) -> None:
    ns.fault({"match": {"key": "pxm_demo_beta"}, "action": {"status": 429}})
    assert ns.api("GET", "/v0/projects", headers=BETA).status_code == 429
    assert ns.api("GET", "/v0/projects", headers=ALPHA).status_code == 200
    ns.fault({"match": {"operation_id": "getWorkflowCostEstimate"}, "action": {"status": 500}})
    assert ns.api("GET", f"/v0/workflows/{WF_LINEAR}/estimate").status_code == 500
    assert ns.api("GET", "/v0/projects").status_code == 200


def test_a_key_revoked_from_its_nth_call_leaves_ping_up(ns: Namespace) -> None:
    """A rule naming a key matches only operations that take one, so a 403 is allowed."""
    ns.fault(
        {"match": {"key": "pxm_demo_alpha", "requests": {"from": 3}}, "action": {"status": 403}}
    )
    assert ns.statuses(4) == [200, 200, 403, 403]
    assert ns.api("GET", "/ping").status_code == 200
    assert ns.statuses(1, f"/v0/workflows/{WF_LINEAR}/estimate") == [403]


def test_429_carries_retry_after_and_the_envelope(ns: Namespace) -> None:
    ns.fault({"action": {"status": 429, "headers": {"Retry-After": "7"}}})
    response = ns.api("GET", "/v0/projects")
    assert response.status_code == 429 and response.headers["Retry-After"] == "7"
    assert response.json()["error"] == {
        "code": "rate_limited",
        "message": response.json()["error"]["message"],
        "details": {"retry_after": 7},
    }


def _probability_sequence(live: LiveMock, name: str) -> list[int]:
    ns = Namespace(live)
    ns.name = name
    ns.session.headers["X-Mock-Session"] = name
    ns.control("POST", "/__mock/reset")
    ns.fault({"id": "coin", "limit": {"probability": 0.3}, "action": {"statuses": [502, 503]}})
    return ns.statuses(60)


def test_probability_is_seeded_same_seed_same_sequence(mock: LiveMock) -> None:
    first = _probability_sequence(mock, "seeded")
    again = _probability_sequence(mock, "seeded")
    assert first == again
    assert 5 <= sum(s != 200 for s in first) <= 35 and {502, 503} <= set(first)
    with LiveMock(["--seed", str(SEED + 1), "--workers", "1"]) as other:
        assert _probability_sequence(other, "seeded") != first
    with LiveMock(["--seed", str(SEED), "--workers", "1"]) as same:
        assert _probability_sequence(same, "seeded") == first


def test_delays_fixed_uniform_and_lognormal(ns: Namespace) -> None:
    for delay in (
        {"fixed_ms": 150},
        {"uniform_ms": [100, 200]},
        {"lognormal": {"median_ms": 50, "sigma": 0.5}},
    ):
        ns.control("DELETE", "/__mock/faults")
        rule = ns.fault({"id": "slow", "action": {"delay": delay}})
        for count in (1, 2, 3):
            expected = Delay.from_json(delay).seconds(SEED, ns.name, rule["id"], count)
            started = time.monotonic()
            assert ns.api("GET", "/v0/projects").status_code == 200
            assert time.monotonic() - started >= expected - 0.005
        ns.control("POST", "/__mock/reset")
        ns.control("PUT", "/__mock/clock", json={"mode": "manual"})


def test_dropped_connection_and_truncated_body(ns: Namespace) -> None:
    ns.fault(
        {
            "id": "drop",
            "match": {"operation_id": "listProjects"},
            "limit": {"times": 1},
            "action": {"drop": True},
        }
    )
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{ns.url}/v0/projects", headers={**ALPHA, "X-Mock-Session": ns.name})
    assert ns.api("GET", "/v0/projects").status_code == 200
    ns.fault(
        {"id": "cut", "match": {"operation_id": "listBlocks"}, "action": {"truncate_bytes": 40}}
    )
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        requests.get(f"{ns.url}/v0/blocks", headers={**ALPHA, "X-Mock-Session": ns.name})


def test_a_dropped_connection_is_journaled_as_its_fault_not_as_a_violation(client) -> None:
    """In-process, with the server's drop callback, so the journal is read after the
    exchange ended (a client sees a dropped connection before the server journals it)."""
    rule = {"id": "drop", "match": {"operation_id": "listProjects"}, "action": {"drop": True}}
    assert client.post("/__mock/faults", json=rule).status_code == 200
    dropped: list[bool] = []
    client.get("/v0/projects", headers=ALPHA, environ_base={DROP_KEY: lambda: dropped.append(True)})
    (entry,) = client.get("/__mock/requests").json["requests"]
    assert dropped == [True]
    assert (entry["fault"], entry["violations"]) == ("drop", [])  # nothing answered to check


def test_a_drop_after_a_delay(ns: Namespace) -> None:
    """A rule with a delay runs on a worker thread; its drop still sends nothing."""
    ns.fault({"id": "late-drop", "action": {"drop": True, "delay": {"fixed_ms": 20}}})
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{ns.url}/v0/projects", headers={**ALPHA, "X-Mock-Session": ns.name})


def test_a_delayed_request_holds_up_no_other() -> None:
    """One worker: while a request sleeps in its delay, the worker answers others."""
    with LiveMock(["--workers", "1"]) as live:
        ns = Namespace(live)
        ns.fault(
            {
                "id": "slow",
                "match": {"operation_id": "listProjects"},
                "action": {"delay": {"fixed_ms": 4000}},
            }
        )
        with ThreadPoolExecutor(1) as pool:
            slow = pool.submit(ns.api, "GET", "/v0/projects")
            while ns.control("GET", "/__mock/faults")["faults"][0]["matched"] == 0:
                assert not slow.done()  # matched is counted before the delay starts
            assert ns.api("GET", "/v0/blocks").status_code == 200
            assert not slow.done()
            assert slow.result().status_code == 200


def test_rules_are_listed_counted_deleted_and_checked(ns: Namespace) -> None:
    rule = ns.fault(
        {
            "match": {"operation_id": "listProjects"},
            "limit": {"times": 1},
            "action": {"status": 503},
        }
    )
    ns.statuses(3)
    listed = ns.control("GET", "/__mock/faults")["faults"]
    assert [(r["id"], r["scope"], r["matched"]) for r in listed] == [(rule["id"], "namespace", 3)]
    assert ns.control("DELETE", f"/__mock/faults/{rule['id']}") == {"removed": 1}
    assert ns.session.delete(f"{ns.url}/__mock/faults/{rule['id']}").status_code == 404
    undocumented = ns.session.post(
        f"{ns.url}/__mock/faults",
        json={"match": {"operation_id": "ping"}, "action": {"status": 403}},
    )
    assert undocumented.status_code == 400 and "not documented for ping" in undocumented.text
    invalid = ns.session.post(f"{ns.url}/__mock/faults", json={"action": {"status": 418}})
    assert invalid.status_code == 400


# -- scenarios ------------------------------------------------------------------


def apply(ns: Namespace, name: str) -> None:
    ns.control("POST", f"/__mock/scenarios/{name}")


def test_library_lists_every_scenario_with_its_description(ns: Namespace) -> None:
    scenarios = {s["name"]: s for s in ns.control("GET", "/__mock/scenarios")["scenarios"]}
    assert set(scenarios) == {
        "throttled",
        "flaky-gateway",
        "slow-downloads",
        "failed-task",
        "partial-outage",
        "expired-urls",
        "revoked-key",
        "latency-p99",
        "slow-archive-search",
        "aoi-failed",
        "aoi-partial-success",
        "aoi-download-pending",
        "visualization-fails",
        "insight-failed",
        "insight-download-pending",
        "infeasible-tasking",
        "cloudy-window",
        "expired-window",
        "failed-delivery",
    }
    assert all(s["description"] for s in scenarios.values())


def test_scenario_throttled(ns: Namespace) -> None:
    apply(ns, "throttled")
    responses = [ns.api("GET", "/v0/projects") for _ in range(6)]
    assert [r.status_code for r in responses] == [200, 200, 429, 200, 200, 429]
    assert responses[2].headers["Retry-After"] == "1"


def test_scenario_flaky_gateway(ns: Namespace) -> None:
    apply(ns, "flaky-gateway")
    statuses = ns.statuses(200)
    failures = [s for s in statuses if s != 200]
    assert set(failures) <= {502, 503} and 5 <= len(failures) <= 40


def test_scenario_slow_downloads(ns: Namespace) -> None:
    apply(ns, "slow-downloads")
    job = ns.finish(ns.create_job())
    path = f"/v0/workflows/{WF_LINEAR}/jobs/{job['id']}/download"
    started = time.monotonic()
    assert ns.api("PUT", path).json()["status"] == "pending"
    assert time.monotonic() - started >= 0.3
    ns.control("POST", "/__mock/clock/advance", json={"seconds": 300})
    assert ns.api("PUT", path).json()["status"] == "pending"
    ns.control("POST", "/__mock/clock/advance", json={"seconds": 301})
    assert ns.api("PUT", path).json()["status"] == "ready"


def test_scenario_failed_task(ns: Namespace) -> None:
    apply(ns, "failed-task")
    job = ns.finish(ns.create_job())
    tasks = {t["name"]: t for t in job["tasks"]}
    assert job["status"] == "failed"
    assert (tasks["ndvi"]["status"], tasks["ndvi"]["failure_type"]) == ("failed", "bad_request")
    assert tasks["ndvi"]["err_msg"] == "Input raster has no near-infrared band (B08)"
    assert tasks["stats"]["status"] == "created"


def test_scenario_partial_outage(ns: Namespace) -> None:
    apply(ns, "partial-outage")
    job = ns.finish(ns.create_job())
    assert job["status"] == "completed"
    download = ns.api("PUT", f"/v0/workflows/{WF_LINEAR}/jobs/{job['id']}/download")
    assert download.status_code == 500 and download.json()["error"]["code"] == "internal_error"
    task = f"/v0/workflows/{WF_LINEAR}/jobs/{job['id']}/tasks/{job['tasks'][0]['id']}/download"
    assert ns.api("PUT", task).status_code == 500


def test_scenario_expired_urls(ns: Namespace) -> None:
    apply(ns, "expired-urls")
    job = ns.finish(ns.create_job())
    path = f"/v0/workflows/{WF_LINEAR}/jobs/{job['id']}/download"
    ns.api("PUT", path)
    ns.control("POST", "/__mock/clock/advance", json={"seconds": 60})
    url = ns.api("PUT", path).json()["signed_url"]
    assert requests.get(url).status_code == 200
    ns.control("POST", "/__mock/clock/advance", json={"seconds": 5})
    assert requests.get(url).status_code == 403
    fresh = ns.api("PUT", path).json()["signed_url"]
    assert fresh != url and requests.get(fresh).status_code == 200


def test_scenario_revoked_key(ns: Namespace) -> None:
    apply(ns, "revoked-key")
    assert ns.api("GET", "/v0/projects").status_code == 200
    ns.control("POST", "/__mock/clock/advance", json={"seconds": 599})
    assert ns.api("GET", "/v0/projects").status_code == 200
    ns.control("POST", "/__mock/clock/advance", json={"seconds": 1})
    revoked = ns.api("GET", "/v0/projects")
    assert revoked.status_code == 403 and revoked.json()["error"]["code"] == "forbidden"
    assert ns.api("GET", "/v0/projects", headers=BETA).status_code == 200


def test_scenario_latency_p99(ns: Namespace) -> None:
    apply(ns, "latency-p99")
    delay = Delay.from_json({"lognormal": {"median_ms": 20, "sigma": 1.0}})
    for count in range(1, 21):
        expected = delay.seconds(SEED, ns.name, "latency-p99.latency", count)
        started = time.monotonic()
        ns.api("GET", "/v0/projects")
        assert time.monotonic() - started >= expected - 0.005


def test_scenario_slow_archive_search_delays_the_searches_only(ns: Namespace) -> None:
    apply(ns, "slow-archive-search")
    delay = Delay.from_json({"lognormal": {"median_ms": 1500, "sigma": 0.4}})
    started = time.monotonic()
    answer = ns.api("POST", "/v0/archives/search", json={"limit": 1})
    waited = time.monotonic() - started
    expected = delay.seconds(SEED, ns.name, "slow-archive-search.slow-archive-search", 1)
    assert answer.status_code == 200
    assert waited >= expected - 0.005 and expected > 0.5
    started = time.monotonic()
    assert ns.api("GET", "/v0/archives/collections").status_code == 200
    assert time.monotonic() - started < expected / 2


def test_serve_loads_scenarios_at_start() -> None:
    with LiveMock(
        ["--scenario", "throttled", "--scenario", "failed-task", "--workers", "1"]
    ) as live:
        assert "scenarios: throttled, failed-task" in "".join(live.output)
        statuses = [
            requests.get(f"{live.url}/v0/projects", headers=ALPHA).status_code for _ in range(3)
        ]
        assert statuses == [200, 200, 429]
        faults = requests.get(f"{live.url}/__mock/faults").json()["faults"]
        assert [(f["id"], f["scope"]) for f in faults] == [("throttled.every-third", "server")]


def test_an_unknown_scenario_stops_serve_with_a_clear_error() -> None:
    with pytest.raises(RuntimeError, match="no scenario 'nope'"):
        LiveMock(["--scenario", "nope"])


# -- namespaces ---------------------------------------------------------------


def test_eight_parallel_clients_never_see_each_other(mock: LiveMock) -> None:
    results: dict[int, Any] = {}
    errors: list[BaseException] = []

    def client(index: int) -> None:
        try:
            ns = Namespace(mock)
            ns.fault({"id": "mine", "limit": {"every": index + 2}, "action": {"status": 503}})
            headers = BETA if index % 2 else ALPHA
            workflow, project = (WF_MANY, URBAN) if index % 2 else (WF_LINEAR, AGRI)
            jobs = []
            for _ in range(3):
                for _attempt in range(10):
                    response = ns.api(
                        "POST", f"/v0/workflows/{workflow}/jobs?project_id={project}", headers
                    )
                    if response.status_code == 200:
                        jobs.append(response.json()["id"])
                        break
            before = ns.control("GET", "/__mock/clock")["epoch"]
            ns.control("POST", "/__mock/clock/advance", json={"seconds": 1000 * (index + 1)})
            listed = None
            while listed is None:
                response = ns.api("GET", f"/v0/workflows/{workflow}/jobs", headers)
                listed = response.json()["jobs"] if response.status_code == 200 else None
            clock = ns.control("GET", "/__mock/clock")
            faults = ns.control("GET", "/__mock/faults")["faults"]
            results[index] = (
                ns.name,
                jobs,
                [j["id"] for j in listed],
                clock["epoch"] - before,
                faults,
            )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors
    assert len(results) == 8
    for index, (_name, created, listed, moved, faults) in results.items():
        assert len(created) == 3 and sorted(listed) == sorted(created)  # only its own jobs
        assert moved == pytest.approx(1000 * (index + 1))  # its clock moved by its own advance only
        assert [(f["id"], f["limit"]["every"]) for f in faults if f["scope"] == "namespace"] == [
            ("mine", index + 2)
        ]
    all_jobs = [job for r in results.values() for job in r[1]]
    assert len(set(all_jobs)) == len(all_jobs)
