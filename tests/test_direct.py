"""The direct router (wire/direct.py) answers exactly what Flask's routing answers.

Each request goes once through the direct router and once through the Flask app
behind it, on the same mock: status, headers, body and journal entry must agree.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask, Response
from werkzeug.test import Client, EnvironBuilder

from pixxel_mock.server.app.factory import DIRECT
from pixxel_mock.server.app.instance import MockInstance
from pixxel_mock.server.http.direct import send_answer

from .helpers import AGRI, ALPHA, REVOKED, WF_LINEAR

WORKFLOW = f"/v0/workflows/{WF_LINEAR}"
UNKNOWN_JOB = f"{WORKFLOW}/jobs/00000000-0000-4000-8000-000000000000"

# (method, path, headers, body): answers and refusals of every kind the API gives
SERVED = [
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
]
# left to Flask: its automatic HEAD and OPTIONS, unknown paths and methods, non-ASCII paths
PASSED_ON = [
    ("HEAD", "/v0/workflows", ALPHA, b""),
    ("OPTIONS", "/v0/workflows", ALPHA, b""),
    ("DELETE", WORKFLOW, ALPHA, b""),
    ("GET", "/v0/nowhere", ALPHA, b""),
    ("GET", "/v0/workflows/", ALPHA, b""),
    ("GET", "/v0/workflows/caf\xc3\xa9", ALPHA, b""),
]


def exchange(wsgi: Any, request: tuple[str, str, dict[str, str], bytes]) -> tuple:
    method, target, headers, body = request
    path, _, query = target.partition("?")
    response = Client(wsgi).open(
        path, method=method, query_string=query, headers=headers, data=body or None
    )
    return response.status_code, sorted(response.headers.items()), response.get_data()


def last_entry(instance: MockInstance) -> dict[str, Any]:
    entry = instance.store.journal.entries(None, 1)[0]
    return {k: v for k, v in entry.items() if k not in ("id", "at", "duration_ms")}


@pytest.mark.parametrize("request_", SERVED + PASSED_ON, ids=lambda r: f"{r[0]} {r[1][:40]}")
def test_the_direct_router_answers_as_flask_does(
    app: Flask, request_: tuple[str, str, dict[str, str], bytes]
) -> None:
    from pixxel_mock.server import instance_of

    direct = app.extensions[DIRECT]
    method, target, _, _ = request_
    served = direct.route(method, target.partition("?")[0]) is not None
    assert served == (request_ in SERVED)
    instance = instance_of(app)
    direct_answer = exchange(direct, request_)
    direct_entry = last_entry(instance)
    flask_answer = exchange(direct.fallback, request_)
    assert direct_answer == flask_answer
    assert direct_entry == last_entry(instance)
    assert direct_answer[0] < 500


# answers the router sends itself, and those whose headers or body werkzeug would change
ANSWERS: list[Callable[[], Response]] = [
    lambda: Response(b'{"id":"x"}', mimetype="application/json"),
    lambda: Response(b"{}", status=429, headers={"Retry-After": "1", "X-Mock-Fault": "r"}),
    lambda: Response(b"{}", status=204),
    lambda: Response(b"{}", status=304, headers={"ETag": "x"}),
    lambda: Response(b"{}", status=302, headers={"Location": "/caf\u00e9"}),
    lambda: Response(iter([b"a", b"b"])),
]


@pytest.mark.parametrize("make", ANSWERS, ids=["json", "fault", "204", "304", "location", "stream"])
def test_answers_leave_as_werkzeug_sends_them(make: Callable[[], Response]) -> None:
    """The router sends buffered answers itself; where werkzeug would change the headers
    or the body (no body for 204 and 304, a Location made a URI), it leaves them to it."""
    environ = EnvironBuilder(path="/v0/workflows").get_environ()

    def sent(send: Callable[[dict[str, Any], Callable[..., Any]], Any]) -> tuple:
        started: dict[str, Any] = {}

        def start_response(status: str, headers: list[Any], exc_info: Any = None) -> None:
            started.update(status=status, headers=sorted(headers))

        body = b"".join(send(dict(environ), start_response))
        return started["status"], started["headers"], body

    assert sent(lambda e, s: send_answer(make(), e, s)) == sent(lambda e, s: make()(e, s))
