"""The validating proxy: clean traffic passes unchanged, a broken upstream is flagged."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
from werkzeug.serving import make_server

from pixxel_mock.contract.live import LiveMock
from pixxel_mock.contract.proxy import VIOLATIONS_HEADER, create_proxy_app
from pixxel_mock.server.serving.bridge import InlineBridge, always_waits

from .asgi import asgi_request
from .broken_servers import wrong_field_type
from .helpers import AGRI, ALPHA, WF_LINEAR
from .test_hostile import assert_refused, exchange

UNREACHABLE = "http://127.0.0.1:9"

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


@contextlib.contextmanager
def serving(app: Callable[..., Iterable[bytes]]) -> Iterator[str]:
    """`app` on a threaded server of its own; yields its URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.port}"
    finally:
        server.shutdown()


def test_a_broken_upstream_is_flagged() -> None:
    with (
        serving(wrong_field_type()) as upstream,
        LiveMock(["--upstream", upstream], command="proxy") as proxy,
    ):
        job = requests.post(
            f"{proxy.url}/v0/workflows/{WF_LINEAR}/jobs?project_id={AGRI}", headers=ALPHA
        )
        assert job.status_code == 200 and isinstance(job.json()["progress"], int)  # unchanged
        assert "response:" in job.headers[VIOLATIONS_HEADER]
        assert "progress" in job.headers[VIOLATIONS_HEADER]
        journal = requests.get(f"{proxy.url}/__mock/requests").json()["requests"]
        assert any(v.startswith("response:") for e in journal for v in e["violations"])


def test_an_unreachable_upstream_is_a_502_in_the_envelope() -> None:
    with LiveMock(["--upstream", UNREACHABLE], command="proxy") as proxy:
        response = requests.get(f"{proxy.url}/ping")
        assert response.status_code == 502
        assert response.json()["error"]["code"] == "upstream_unreachable"


def test_what_gunicorn_itself_refuses_is_refused_in_the_envelope(proxy: LiveMock) -> None:
    for raw in (b"GET /ping HTTP/9.9\r\n\r\n", b"GET / HTTP/1.1\r\nNo colon\r\n\r\n"):
        assert_refused(exchange(proxy, raw)[0], "bad_request")


def test_requests_wait_on_the_upstream_together() -> None:
    """Each waits in a thread of its own: an upstream that answers only once both are
    in would otherwise break its barrier, the second not forwarded before the first ends."""
    both_in = threading.Barrier(2, timeout=30)

    def upstream_app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        both_in.wait()
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b'"pong"']

    with (
        serving(upstream_app) as upstream,
        LiveMock(["--upstream", upstream], command="proxy") as proxy,
        ThreadPoolExecutor(2) as clients,
    ):
        answers = list(clients.map(requests.get, [f"{proxy.url}/ping"] * 2))
    assert [(a.status_code, a.json()) for a in answers] == [(200, "pong")] * 2


def test_a_body_past_the_limit_is_refused_never_forwarded_cut(tmp_path: Path) -> None:
    app = create_proxy_app(UNREACHABLE, tmp_path / "journal.sqlite", max_body_bytes=10)
    bridge = InlineBridge(app, always_waits, 1, 10)  # as served: the bridge reads 11 bytes

    def post(body: bytes) -> tuple[int, str]:
        status, answer = asyncio.run(asgi_request(bridge, "POST", "/v0/projects", body=body))
        return status, json.loads(answer)["error"]["code"]

    assert post(b"x" * 10) == (502, "upstream_unreachable")  # forwarded
    assert post(b"x" * 11) == (413, "payload_too_large")
    assert post(b"x" * 1000) == (413, "payload_too_large")
