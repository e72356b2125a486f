"""Record through the proxy, replay with `serve --replay`: the client sees the same bodies."""

from __future__ import annotations

import base64
import io
import json
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import requests

from pixxel_mock.contract.har import REDACTED, redact_text
from pixxel_mock.contract.live import LiveMock

from .helpers import AGRI, ALPHA, COAST, REPO, WF_FAILING, WF_LINEAR, open_zip

INCIDENT = Path(__file__).with_name("data") / "incident.har"

SIGNED_URL = re.compile(rb'"signed_url":\s*"[^"]*"')
Step = tuple[str, str, int, bytes]


def incident_client(base: str, between: Callable[[], None]) -> list[Step]:
    """A scripted client: a job that fails at a task, a download polled until ready."""
    seen: list[Step] = []

    def call(method: str, path: str) -> requests.Response:
        response = requests.request(method, base + path, headers=ALPHA, timeout=10)
        seen.append((method, path, response.status_code, response.content))
        return response

    failing = call("POST", f"/v0/workflows/{WF_FAILING}/jobs?project_id={COAST}").json()
    linear = call("POST", f"/v0/workflows/{WF_LINEAR}/jobs?project_id={AGRI}").json()
    for _ in range(6):
        between()
        call("GET", f"/v0/workflows/{WF_FAILING}/jobs/{failing['id']}")
        call("GET", f"/v0/workflows/{WF_LINEAR}/jobs/{linear['id']}")
    for _ in range(3):
        download = call("PUT", f"/v0/workflows/{WF_LINEAR}/jobs/{linear['id']}/download")
        between()
    package = requests.get(download.json()["signed_url"], timeout=10)
    seen.append(("GET", "package", package.status_code, package.content))
    return seen


def linear_job(steps: list[Step]) -> str:
    return json.loads(steps[1][3])["id"]


def comparable(steps: list[Step]) -> list[Step]:
    return [(m, p, s, SIGNED_URL.sub(b'"signed_url": "-"', body)) for m, p, s, body in steps]


def test_a_recorded_incident_replays_byte_for_byte(tmp_path: Path) -> None:
    with LiveMock(
        ["--clock", "manual", "--seed", "7", "--workers", "1", "--validate-responses"]
    ) as upstream:
        fault = {
            "match": {"operation_id": "getJob"},
            "limit": {"every": 4},
            "action": {"status": 429, "headers": {"Retry-After": "1"}},
        }
        assert requests.post(f"{upstream.url}/__mock/faults", json=fault).status_code == 200

        def advance() -> None:
            requests.post(f"{upstream.url}/__mock/clock/advance", json={"seconds": 120})

        with LiveMock(
            ["--upstream", upstream.url, "--record", str(tmp_path)], command="proxy"
        ) as proxy:
            recorded = incident_client(proxy.url, advance)
    statuses = [s for _, _, s, _ in recorded]
    assert 429 in statuses
    assert any(b'"status":"failed"' in b.replace(b" ", b"") for *_, b in recorded)
    assert any(b'"status":"pending"' in b.replace(b" ", b"") for *_, b in recorded)
    assert any(b'"status":"ready"' in b.replace(b" ", b"") for *_, b in recorded)

    har = tmp_path / "recording.har"
    text = har.read_text()
    assert "pxm_demo_alpha" not in text and REDACTED in text
    assert not re.search(r"signature=[0-9a-f]{16}", text)
    assert len(json.loads(text)["log"]["entries"]) == len(recorded) - 1  # all but the package

    with LiveMock(["--replay", str(har), "--workers", "1", "--validate-responses"]) as replay:
        replayed = incident_client(replay.url, lambda: None)
        again = requests.post(
            f"{replay.url}/v0/workflows/{WF_LINEAR}/jobs?project_id={AGRI}",
            headers={**ALPHA, "X-Mock-Session": "other"},
        )
        projects = requests.get(f"{replay.url}/v0/projects", headers=ALPHA)
    assert comparable(replayed[:-1]) == comparable(recorded[:-1])
    # the client fetched its package from the upstream, past the proxy: the replay's
    # signed URL points at the replay and serves a ZIP of the recorded download
    assert open_zip(recorded[-1][3])[0]["job_id"] == linear_job(recorded)
    assert replayed[-1][:3] == ("GET", "package", 200)
    files = zipfile.ZipFile(io.BytesIO(replayed[-1][3]))
    assert files.read("download.json").decode() == redact_text(recorded[-2][3].decode())
    assert again.content == recorded[1][3]  # each namespace replays from the start
    assert projects.status_code == 200  # not recorded: the simulated model answers


def test_strict_replay_refuses_what_was_not_recorded_and_violations_are_reported(
    tmp_path: Path,
) -> None:
    incident = json.loads(INCIDENT.read_text())
    incident["log"]["entries"][0]["response"]["content"]["text"] = '{"status": 7}'
    har = tmp_path / "contradicts.har"
    har.write_text(json.dumps(incident))
    strict = ["--replay", str(har), "--replay-strict", "--validate-responses", "--workers", "1"]
    with LiveMock(strict) as replay:
        response = requests.get(f"{replay.url}/v0/projects", headers=ALPHA)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_recorded"
    output = "".join(replay.output)
    assert "contradicts the spec: #1 GET" in output  # reported, still loaded
    assert f"replay: {har} (polls, strict)" in output  # the banner says what it replays


def test_a_hand_written_har_of_an_incident_replays(pixxel_mock) -> None:
    entries = json.loads(INCIDENT.read_text())["log"]["entries"]
    job_path = entries[0]["request"]["url"].removeprefix("https://api.pixxel.space")
    task_download = entries[4]["request"]["url"].removeprefix("https://api.pixxel.space")
    loaded = pixxel_mock.replay(INCIDENT)
    assert (loaded["exchanges"], loaded["violations"]) == (7, [])
    polls = [requests.get(pixxel_mock.url + job_path, headers=ALPHA) for _ in range(4)]
    assert [p.status_code for p in polls] == [200, 500, 200, 200]
    assert [p.json().get("status") for p in polls] == ["running", None, "failed", "failed"]
    assert polls[2].text == entries[2]["response"]["content"]["text"]
    assert polls[2].json()["id"] == "c0ffee00-1111-4222-8333-444455556666"
    downloads = [requests.put(pixxel_mock.url + task_download, headers=ALPHA) for _ in range(2)]
    assert [d.json()["status"] for d in downloads] == ["pending", "ready"]
    signed_url = downloads[1].json()["signed_url"]
    assert signed_url.startswith(f"{pixxel_mock.url}/__replay/default/")  # not the recorded host
    package = requests.get(signed_url)
    assert package.content == base64.b64decode(entries[6]["response"]["content"]["text"])
    unrecorded = requests.get(f"{pixxel_mock.url}/v0/projects", headers=ALPHA)
    assert unrecorded.status_code == 200  # the simulated model answers


def test_replay_on_the_recorded_timing_follows_the_mock_clock(pixxel_mock) -> None:
    entries = json.loads(INCIDENT.read_text())["log"]["entries"]
    job_url = pixxel_mock.url + entries[0]["request"]["url"].removeprefix(
        "https://api.pixxel.space"
    )
    download_url = job_url + entries[4]["request"]["url"].split(job_url.rsplit("/", 1)[1])[1]
    pixxel_mock.set_clock(mode="manual")
    pixxel_mock.replay(INCIDENT, timing="recorded")

    def poll() -> tuple[int, str | None]:
        response = requests.get(job_url, headers=ALPHA)
        return response.status_code, response.json().get("status")

    seen = [poll(), poll()]  # the same minute: the same recorded answer
    pixxel_mock.advance(360)
    seen.append(poll())
    pixxel_mock.advance(359)
    seen.append(poll())
    pixxel_mock.advance(1)  # 12 minutes in: the job failed
    seen.append(poll())
    assert seen == [(200, "running"), (200, "running"), (500, None), (500, None), (200, "failed")]
    assert requests.put(download_url, headers=ALPHA).json()["status"] == "pending"
    pixxel_mock.advance(60)
    assert requests.put(download_url, headers=ALPHA).json()["status"] == "ready"


def test_a_recording_kept_as_a_scenario_replays_by_name(tmp_path: Path) -> None:
    fixtures = tmp_path / "fixtures"
    shutil.copytree(REPO / "fixtures", fixtures)
    keep = [sys.executable, "-m", "pixxel_mock.server", "scenario-from-har", str(INCIDENT), "march"]
    keep += ["--dir", str(fixtures / "scenarios"), "--description", "Flood job failed, March"]
    subprocess.run(keep, check=True, capture_output=True)
    again = subprocess.run(keep, capture_output=True, text=True)
    assert again.returncode == 2 and "exist" in again.stderr  # never overwritten
    job_path = json.loads(INCIDENT.read_text())["log"]["entries"][0]["request"]["url"]
    job_path = job_path.removeprefix("https://api.pixxel.space")
    with LiveMock(["--fixtures", str(fixtures), "--workers", "1", "--validate-responses"]) as mock:
        library = requests.get(f"{mock.url}/__mock/scenarios").json()["scenarios"]
        applied = requests.post(f"{mock.url}/__mock/scenarios/march")
        polls = [requests.get(mock.url + job_path, headers=ALPHA).status_code for _ in range(3)]
    assert {"march": "Flood job failed, March"}.items() <= {
        s["name"]: s["description"] for s in library
    }.items()
    assert applied.status_code == 200
    assert polls == [200, 500, 200]


def test_replay_input_errors_are_clear_4xx(pixxel_mock) -> None:
    def load(body: object) -> requests.Response:
        return requests.post(f"{pixxel_mock.url}/__mock/replay", json=body)

    cases = {
        "missing file": load({"file": "/nonexistent/recording.har"}),
        "not a recording": load({"har": {"entries": []}}),
        "both sources": load({"har": {"log": {"entries": []}}, "file": str(INCIDENT)}),
        "bad timing": load({"file": str(INCIDENT), "timing": "fast"}),
        "unknown recording": requests.put(
            f"{pixxel_mock.url}/__mock/scenario", json={"replay": {"recording": "0" * 24}}
        ),
    }
    for case, response in cases.items():
        assert response.status_code == 400, case
        assert response.json()["error"]["code"] == "invalid_body", case
    assert requests.get(f"{pixxel_mock.url}/__replay/default/{'0' * 24}.zip").status_code == 404


def test_a_replay_travels_with_an_exported_state() -> None:
    from pixxel_mock.server import create_app

    first, second = (create_app({"clock_mode": "manual"}).test_client() for _ in range(2))
    loaded = first.post("/__mock/replay", json={"file": str(INCIDENT)}).json
    snapshot = first.get("/__mock/state").json
    assert [r["id"] for r in snapshot["recordings"]] == [loaded["recording"]]
    assert second.put("/__mock/state", json=snapshot).status_code == 200
    job_path = json.loads(INCIDENT.read_text())["log"]["entries"][0]["request"]["url"]
    replayed = second.get(job_path.removeprefix("https://api.pixxel.space"), headers=ALPHA)
    assert replayed.json["id"] == "c0ffee00-1111-4222-8333-444455556666"
