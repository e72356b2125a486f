"""validate-traffic: HAR 1.2 and VCR cassettes checked in both directions."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml
from flask.testing import FlaskClient

from .helpers import ALPHA, HAR_BASE, WF_LINEAR, har, har_entry


def recorded(client: FlaskClient, method: str, path: str, headers: dict) -> dict:
    response = client.open(path, method=method, headers=headers)
    return har_entry(method, path, headers, response.status_code, response.data)


def validate(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pixxel_mock.server", "validate-traffic", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_clean_har_has_no_violation(client: FlaskClient, tmp_path: Path) -> None:
    entries = [
        recorded(client, "GET", "/v0/workflows?limit=10", ALPHA),
        recorded(client, "GET", f"/v0/workflows/{WF_LINEAR}/estimate", ALPHA),
        recorded(client, "GET", "/v0/blocks/cloud-mask/versions/1.1.0", ALPHA),
        recorded(client, "GET", f"/v0/workflows/{WF_LINEAR}/jobs", {}),  # wrong key: a valid 403
    ]
    entries[-1]["request"]["headers"] = [{"name": "Authorization", "value": "wrong"}]
    path = tmp_path / "clean.har"
    path.write_text(json.dumps(har(entries)))
    result = validate(path)
    assert result.returncode == 0, result.stdout
    assert "4 exchange(s) checked, 0 violation(s)" in result.stdout


def test_har_with_known_violations_reports_each(client: FlaskClient, tmp_path: Path) -> None:
    bad_request = recorded(client, "GET", "/v0/workflows?limit=0", ALPHA)
    job_path = f"/v0/workflows/{WF_LINEAR}/estimate"
    bad_response = har_entry("GET", job_path, ALPHA, 200, b'{"estimated_cost": "lots"}')
    undocumented = har_entry("GET", "/v0/workflows", ALPHA, 201, b"{}")
    unknown_route = har_entry("DELETE", "/v0/workflows", ALPHA, 405, b"{}")
    path = tmp_path / "broken.har"
    path.write_text(json.dumps(har([bad_request, bad_response, undocumented, unknown_route])))
    result = validate(path)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert any(line.startswith("#1 GET") and '"limit"' in line for line in lines)
    assert any(line.startswith("#2 GET") and "estimated_cost" in line for line in lines)
    assert any(line.startswith("#3 GET") and "201 is not documented" in line for line in lines)
    assert any(line.startswith("#4 DELETE") and "not allowed" in line for line in lines)


def test_vcr_cassettes_are_read_too(tmp_path: Path) -> None:
    cassette = {
        "http_interactions": [
            {
                "id": "1",
                "request": {
                    "uri": f"{HAR_BASE}/v0/projects?page_size=500",
                    "method": "GET",
                    "headers": {"Authorization": ["pxm_demo_alpha"]},
                    "body": {"encoding": "utf-8", "string": ""},
                },
                "response": {
                    "status": {"code": 200, "message": "OK"},
                    "headers": {"Content-Type": ["application/json"]},
                    "body": {"encoding": "utf-8", "string": '{"count": 0, "projects": []}'},
                },
            }
        ]
    }
    path = tmp_path / "cassette.yaml"
    path.write_text(yaml.safe_dump(cassette))
    result = validate(path)
    assert result.returncode == 1 and '"page_size"' in result.stdout


def test_unreadable_traffic_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text('{"neither": true}')
    result = validate(path)
    assert result.returncode == 2 and "HAR" in result.stdout
