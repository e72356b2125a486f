"""The one request pipeline (http/pipeline.py): every plane through one route table,
which the exchange checker shares, and answers sent as werkzeug would send them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask, Response
from werkzeug.test import Client, EnvironBuilder

from pixxel_mock.server import instance_of
from pixxel_mock.server.checking.exchange import Exchange, ExchangeChecker
from pixxel_mock.server.http.pipeline import send_answer

from .helpers import AGRI, ALPHA, REVOKED, WF_LINEAR

WORKFLOW = f"/v0/workflows/{WF_LINEAR}"
UNKNOWN_JOB = f"{WORKFLOW}/jobs/00000000-0000-4000-8000-000000000000"

# (method, path, headers, body): answers and refusals of every kind
REQUESTS = [
    ("GET", "/ping", {}, b""),
    ("GET", "/v0/workflows", ALPHA, b""),
    ("GET", WORKFLOW, ALPHA, b""),
    ("GET", "/v0/blocks/workflows", ALPHA, b""),  # a literal path beside /v0/blocks/{name}
    ("GET", "/v0/blocks/no-such-block", ALPHA, b""),
    ("GET", "/v0/workflows/not-a-uuid", ALPHA, b""),
    ("GET", "/v0/workflows", {}, b""),
    ("GET", "/v0/workflows", REVOKED, b""),
    ("GET", "/v0/projects?limit=0", ALPHA, b""),
    ("GET", "/v0/projects?limit=1&limit=2", ALPHA, b""),
    ("GET", "/v0/workflows", ALPHA, b'{"unexpected": true}'),
    ("GET", "/v0/workflows", {**ALPHA, "X-Mock-Session": "not valid!"}, b""),
    ("GET", "/v0/workflows", {**ALPHA, "Prefer": "code=403"}, b""),
    ("GET", UNKNOWN_JOB, ALPHA, b""),
    ("PUT", f"{UNKNOWN_JOB}/download", ALPHA, b""),
    ("POST", f"{WORKFLOW}/jobs?project_id={AGRI}", ALPHA, b"x" * ((1 << 20) + 1)),
    ("HEAD", "/v0/workflows", ALPHA, b""),
    ("OPTIONS", "/v0/workflows", ALPHA, b""),
    ("DELETE", WORKFLOW, ALPHA, b""),
    ("GET", "/v0/nowhere", ALPHA, b""),
    ("GET", "/v0/workflows/", ALPHA, b""),
    ("GET", "/v0/workflows/café", ALPHA, b""),
    ("GET", "/__mock/clock", {}, b""),
    ("POST", "/__mock/clock", {}, b""),
    ("GET", "/docs", {}, b""),
    ("GET", "/openapi.json", {}, b""),
]


def exchange(app: Any, request: tuple[str, str, dict[str, str], bytes]) -> Any:
    method, target, headers, body = request
    path, _, query = target.partition("?")
    return Client(app).open(
        path, method=method, query_string=query, headers=headers, data=body or None
    )


@pytest.mark.parametrize("request_", REQUESTS, ids=lambda r: f"{r[0]} {r[1][:40]}")
def test_every_answer_is_documented_or_in_the_envelope(
    app: Flask, request_: tuple[str, str, dict[str, str], bytes]
) -> None:
    response = exchange(app, request_)
    assert response.status_code < 500
    if response.status_code >= 400 and request_[0] != "HEAD":
        assert set(response.get_json()["error"]) == {"code", "message", "details"}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("DELETE", WORKFLOW),
        ("OPTIONS", "/v0/workflows"),
        ("POST", "/v0/workflows"),
        ("GET", "/v0/nowhere"),
        ("GET", "/v0/workflows/"),
        ("PATCH", "/v0/blocks/workflows"),
    ],
)
def test_the_checker_refuses_a_route_as_the_mock_does(app: Flask, method: str, path: str) -> None:
    """One route table: the 404 or 405 a recorded exchange gets is the mock's own."""
    answer = exchange(app, (method, path, ALPHA, b""))
    checker = ExchangeChecker(instance_of(app).api_spec)
    _, problems = checker.check_request(
        Exchange(method, f"http://pixxel.invalid{path}", ALPHA, b"")
    )
    assert problems == [f"request: {answer.get_json()['error']['message']}"]
    assert answer.status_code in (404, 405)
    if answer.status_code == 405:
        assert "GET" in answer.headers["Allow"]


def test_head_answers_get_without_its_body_and_is_journaled(app: Flask) -> None:
    get = exchange(app, ("GET", "/v0/workflows", ALPHA, b""))
    head = exchange(app, ("HEAD", "/v0/workflows", ALPHA, b""))
    assert head.status_code == 200 and head.get_data() == b""
    assert head.headers["Content-Length"] == get.headers["Content-Length"]
    entry = instance_of(app).store.journal.entries(None, 1)[0]
    assert (entry["method"], entry["operation_id"]) == ("HEAD", "listWorkflows")


def test_a_refused_route_is_a_violation_of_the_client(app: Flask) -> None:
    exchange(app, ("GET", "/v0/nowhere", ALPHA, b""))
    entry = instance_of(app).store.journal.entries(None, 1)[0]
    assert entry["status"] == 404 and entry["operation_id"] is None
    assert entry["violations"] == ["No operation is defined at /v0/nowhere."]


def test_a_non_ascii_path_is_matched_decoded(app: Flask) -> None:
    answer = exchange(app, ("GET", "/v0/workflows/café", ALPHA, b""))
    assert answer.status_code == 400 and "café" in answer.get_json()["error"]["message"]


# answers the pipeline sends itself, and those whose headers or body werkzeug would change
ANSWERS: list[Callable[[], Response]] = [
    lambda: Response(b'{"id":"x"}', mimetype="application/json"),
    lambda: Response(b"{}", status=429, headers={"Retry-After": "1", "X-Mock-Fault": "r"}),
    lambda: Response(b"{}", status=204),
    lambda: Response(b"{}", status=304, headers={"ETag": "x"}),
    lambda: Response(b"{}", status=302, headers={"Location": "/caf\u00e9"}),
    lambda: Response(iter([b"a", b"b"])),
]


@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize("make", ANSWERS, ids=["json", "fault", "204", "304", "location", "stream"])
def test_answers_leave_as_werkzeug_sends_them(make: Callable[[], Response], method: str) -> None:
    """The pipeline sends buffered answers itself; where werkzeug would change the headers
    or the body (no body for HEAD, 204 and 304, a Location made a URI), it leaves them to it."""
    environ = EnvironBuilder(path="/v0/workflows", method=method).get_environ()

    def sent(send: Callable[[dict[str, Any], Callable[..., Any]], Any]) -> tuple:
        started: dict[str, Any] = {}

        def start_response(status: str, headers: list[Any], exc_info: Any = None) -> None:
            started.update(status=status, headers=sorted(headers))

        body = b"".join(send(dict(environ), start_response))
        return started["status"], started["headers"], body

    assert sent(lambda e, s: send_answer(make(), e, s)) == sent(lambda e, s: make()(e, s))
