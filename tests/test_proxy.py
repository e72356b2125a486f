"""The validating proxy: clean traffic passes unchanged, a broken upstream is flagged."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
import requests
from werkzeug.serving import make_server

from pixxel_mock.contract.live import LiveMock
from pixxel_mock.contract.proxy import VIOLATIONS_HEADER

from .broken_servers import wrong_field_type
from .helpers import AGRI, ALPHA, WF_LINEAR

VOLATILE = {"date", "server", "connection", "keep-alive"}


@pytest.fixture(scope="module")
def upstream() -> Iterator[LiveMock]:
    with LiveMock(["--clock", "manual", "--workers", "1"]) as live:
        yield live


@pytest.fixture(scope="module")
def proxy(upstream: LiveMock) -> Iterator[LiveMock]:
    with LiveMock(["--upstream", upstream.url], command="proxy") as live:
        yield live


def same(direct: requests.Response, proxied: requests.Response) -> None:
    assert proxied.status_code == direct.status_code
    assert proxied.content == direct.content
    strip = VOLATILE | {VIOLATIONS_HEADER.lower()}
    assert {k.lower(): v for k, v in direct.headers.items() if k.lower() not in strip} == {
        k.lower(): v for k, v in proxied.headers.items() if k.lower() not in strip
    }


def test_clean_traffic_passes_unchanged(upstream: LiveMock, proxy: LiveMock) -> None:
    paths = ["/v0/projects", f"/v0/workflows/{WF_LINEAR}?project_id={AGRI}", "/v0/blocks/ndvi"]
    for path in paths:
        direct = requests.get(upstream.url + path, headers=ALPHA)
        proxied = requests.get(proxy.url + path, headers=ALPHA)
        same(direct, proxied)
        assert VIOLATIONS_HEADER not in proxied.headers
    created = requests.post(
        f"{proxy.url}/v0/workflows/{WF_LINEAR}/jobs?project_id={AGRI}", headers=ALPHA
    )
    assert created.status_code == 200 and VIOLATIONS_HEADER not in created.headers
    journal = requests.get(f"{proxy.url}/__mock/requests").json()["requests"]
    assert len(journal) == 4 and all(not e["violations"] for e in journal)


def test_a_bad_request_is_forwarded_and_flagged(upstream: LiveMock, proxy: LiveMock) -> None:
    direct = requests.get(f"{upstream.url}/v0/workflows?limit=0", headers=ALPHA)
    proxied = requests.get(f"{proxy.url}/v0/workflows?limit=0", headers=ALPHA)
    same(direct, proxied)
    assert proxied.headers[VIOLATIONS_HEADER].startswith("1; request:")


def test_a_broken_upstream_is_flagged() -> None:
    server = make_server("127.0.0.1", 0, wrong_field_type(), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with LiveMock(["--upstream", f"http://127.0.0.1:{server.port}"], command="proxy") as proxy:
            job = requests.post(
                f"{proxy.url}/v0/workflows/{WF_LINEAR}/jobs?project_id={AGRI}", headers=ALPHA
            )
            assert job.status_code == 200 and isinstance(job.json()["progress"], int)  # unchanged
            assert "response:" in job.headers[VIOLATIONS_HEADER]
            assert "progress" in job.headers[VIOLATIONS_HEADER]
            journal = requests.get(f"{proxy.url}/__mock/requests").json()["requests"]
            assert any(v.startswith("response:") for e in journal for v in e["violations"])
    finally:
        server.shutdown()


def test_an_unreachable_upstream_is_a_502_in_the_envelope() -> None:
    with LiveMock(["--upstream", "http://127.0.0.1:9"], command="proxy") as proxy:
        response = requests.get(f"{proxy.url}/ping")
        assert response.status_code == 502
        assert response.json()["error"]["code"] == "upstream_unreachable"
