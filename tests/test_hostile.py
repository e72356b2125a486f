"""Hostile input over real sockets: every answer a 4xx in the envelope, never a 5xx or traceback."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest

from pixxel_mock.contract.live import LiveMock
from pixxel_mock.server.handling import to_json

from .helpers import WF_LINEAR

KEY = b"Authorization: pxm_demo_alpha\r\n"


@pytest.fixture(scope="module")
def live() -> Iterator[LiveMock]:
    server = LiveMock(["--validate-responses", "--workers", "2"])
    yield server
    server.stop()
    output = "".join(server.output)
    assert "Traceback" not in output and "Error handling request" not in output, output


def exchange(
    live: LiveMock, raw: bytes, responses: int = 1
) -> list[tuple[int, dict[str, str], bytes]]:
    """Send raw bytes, read `responses` HTTP responses (Content-Length framed)."""
    host, port = live.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=20) as sock:
        sock.sendall(raw)
        data = b""
        answers = []
        while len(answers) < responses:
            while b"\r\n\r\n" not in data:
                chunk = sock.recv(65536)
                if not chunk:
                    raise AssertionError(f"connection closed after {data!r}")
                data += chunk
            head, data = data.split(b"\r\n\r\n", 1)
            lines = head.decode("latin-1").split("\r\n")
            status = int(lines[0].split()[1])
            headers = {
                k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])
            }
            length = int(headers.get("content-length", "0"))
            while len(data) < length:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
            answers.append((status, headers, data[:length]))
            data = data[length:]
        return answers


def request(
    path: bytes, extra: bytes = b"", method: bytes = b"GET", version: bytes = b"HTTP/1.1"
) -> bytes:
    return (
        method
        + b" "
        + path
        + b" "
        + version
        + b"\r\nHost: 127.0.0.1\r\n"
        + KEY
        + extra
        + b"Connection: close\r\n\r\n"
    )


def assert_refused(answer: tuple[int, dict[str, str], bytes], code: str | None = None) -> dict:
    status, headers, body = answer
    assert 400 <= status < 500, (status, body[:300])
    assert headers["content-type"].startswith("application/json")
    error = json.loads(body)["error"]
    assert {"code", "message", "details"} <= set(error)
    if code is not None:
        assert error["code"] == code, error
    return error


@pytest.mark.parametrize(
    "path",
    [
        b"/v0/workflows/%FF%FE%FD/jobs",  # invalid UTF-8, percent-encoded
        b"/v0/workflows/\xff\xfe/jobs",  # invalid UTF-8, raw bytes
        b"/v0/workflows/%zz%/jobs",  # broken percent-encoding
        b"/v0/workflows/%00/jobs",  # a NUL
        b"/v0/workflows/" + WF_LINEAR.encode() + b"/jobs/%E2%80%AE",
        b"/v0/%2e%2e/__mock/reset",
    ],
)
def test_bad_bytes_in_paths(live: LiveMock, path: bytes) -> None:
    assert_refused(exchange(live, request(path))[0])


def test_a_100_kb_query_string(live: LiveMock) -> None:
    error = assert_refused(exchange(live, request(b"/v0/workflows?name=" + b"a" * 100_000))[0])
    assert error["code"] == "request_too_large"


def test_a_long_path(live: LiveMock) -> None:
    assert_refused(exchange(live, request(b"/v0/" + b"x" * 50_000))[0], "request_too_large")


def test_a_1_mb_header(live: LiveMock) -> None:
    big = b"X-Padding: " + b"p" * (1 << 20) + b"\r\n"
    error = assert_refused(exchange(live, request(b"/v0/projects", big))[0])
    assert error["code"] in ("request_too_large", "bad_request")  # the app's limit, or gunicorn's


def test_many_headers(live: LiveMock) -> None:
    many = b"".join(b"X-H%d: v\r\n" % i for i in range(10_000))
    assert_refused(exchange(live, request(b"/v0/projects", many))[0], "request_too_large")


def test_duplicate_query_parameters(live: LiveMock) -> None:
    assert_refused(
        exchange(live, request(b"/v0/workflows?limit=1&limit=2"))[0], "duplicate_parameter"
    )


def test_json_body_where_none_is_expected(live: LiveMock) -> None:
    body = b'{"project_id": "x"}'
    extra = b"Content-Type: application/json\r\nContent-Length: %d\r\n" % len(body)
    raw = request(b"/v0/projects", extra).replace(b"\r\n\r\n", b"\r\n\r\n" + body, 1)
    assert_refused(exchange(live, raw)[0], "unexpected_body")


def test_a_chunked_body_where_none_is_expected(live: LiveMock) -> None:
    raw = request(b"/v0/projects", b"Transfer-Encoding: chunked\r\n") + b"5\r\nhello\r\n0\r\n\r\n"
    assert_refused(exchange(live, raw)[0], "unexpected_body")


@pytest.mark.parametrize(
    "path",
    [
        b"/__downloads/default/../../etc/passwd.zip?expires=1&signature=x",
        b"/__downloads/..%2F..%2Fetc/passwd.zip?expires=1&signature=x",
        b"/__downloads/default/%2e%2e%2f%2e%2e%2fetc%2fpasswd.zip?expires=9999999999&signature=ab",
        b"/__downloads/default/..\\..\\state.sqlite.zip?expires=1&signature=x",
        b"/__downloads/default/x.zip?expires=99999999999999999999&signature=x",
    ],
)
def test_path_traversal_in_download_urls(live: LiveMock, path: bytes) -> None:
    answer = exchange(live, request(path))[0]
    assert_refused(answer)
    assert b"PK" not in answer[2][:2]


def test_http_1_0(live: LiveMock) -> None:
    raw = b"GET /ping HTTP/1.0\r\n\r\n"
    status, _, body = exchange(live, raw)[0]
    assert status == 200 and json.loads(body) == "pong"
    assert_refused(exchange(live, b"GET /v0/workflows?limit=0 HTTP/1.0\r\n" + KEY + b"\r\n")[0])


def test_pipelined_requests_are_answered_in_order(live: LiveMock) -> None:
    first = b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n"
    second = b"GET /v0/workflows?limit=0 HTTP/1.1\r\nHost: x\r\n" + KEY + b"\r\n"
    third = b"GET /v0/projects HTTP/1.1\r\nHost: x\r\n" + KEY + b"Connection: close\r\n\r\n"
    answers = exchange(live, first + second + third, responses=3)
    assert [a[0] for a in answers] == [200, 400, 200]
    assert json.loads(answers[2][2])["count"] == 2


def test_unknown_methods_and_garbage(live: LiveMock) -> None:
    assert_refused(exchange(live, request(b"/v0/projects", method=b"BREW"))[0])
    assert_refused(exchange(live, request(b"/ping", method=b"DELETE"))[0], "method_not_allowed")


def test_what_the_fast_json_writer_refuses_is_still_written() -> None:
    """orjson refuses integers past 64 bits, which a client can send and an error may echo."""
    body = {"error": {"code": "x", "message": "é", "details": {"received": 10**30}}}
    assert json.loads(to_json(body)) == body
