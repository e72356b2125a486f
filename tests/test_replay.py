"""Record through the proxy, replay with `serve --replay`: the client sees the same bodies."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import requests

from contract_tests.har import REDACTED
from mock_server.live import LiveMock

from .helpers import AGRI, ALPHA, COAST, WF_FAILING, WF_LINEAR

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
        call("PUT", f"/v0/workflows/{WF_LINEAR}/jobs/{linear['id']}/download")
        between()
    return seen


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
    assert len(json.loads(text)["log"]["entries"]) == len(recorded)

    with LiveMock(["--replay", str(har), "--workers", "1", "--validate-responses"]) as replay:
        replayed = incident_client(replay.url, lambda: None)
        again = requests.post(
            f"{replay.url}/v0/workflows/{WF_LINEAR}/jobs?project_id={AGRI}",
            headers={**ALPHA, "X-Mock-Session": "other"},
        )
        projects = requests.get(f"{replay.url}/v0/projects", headers=ALPHA)
    assert comparable(replayed) == comparable(recorded)
    assert again.content == recorded[1][3]  # each namespace replays from the start
    assert projects.status_code == 200  # not recorded: the simulated model answers


def test_strict_replay_refuses_what_was_not_recorded_and_violations_are_reported(
    tmp_path: Path,
) -> None:
    incident = json.loads((Path(__file__).with_name("data") / "incident.har").read_text())
    incident["log"]["entries"][0]["response"]["content"]["text"] = '{"status": 7}'
    har = tmp_path / "contradicts.har"
    har.write_text(json.dumps(incident))
    with LiveMock(["--replay", str(har), "--replay-strict", "--workers", "1"]) as replay:
        response = requests.get(f"{replay.url}/v0/projects", headers=ALPHA)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_recorded"
    assert "contradicts the spec: #1 GET" in "".join(replay.output)  # reported, still loaded


def test_a_hand_written_har_of_an_incident_replays(pixxel_mock) -> None:
    har = Path(__file__).with_name("data") / "incident.har"
    entries = json.loads(har.read_text())["log"]["entries"]
    job_path = entries[0]["request"]["url"].removeprefix("https://api.pixxel.space")
    with pixxel_mock.replay(har) as replay:
        polls = [requests.get(replay.url + job_path, headers=ALPHA) for _ in range(4)]
        download = requests.put(f"{replay.url}{job_path}/download", headers=ALPHA)
    assert [p.status_code for p in polls] == [200, 500, 200, 200]
    assert [p.json().get("status") for p in polls] == ["running", None, "failed", "failed"]
    assert polls[2].text == entries[2]["response"]["content"]["text"]
    assert polls[2].json()["id"] == "c0ffee00-1111-4222-8333-444455556666"
    assert download.json()["status"] == "pending"
