"""Deliberately broken twins of the mock, for proving the harness reports each fault.

Each is WSGI middleware around the real mock that breaks one promise of the
contract; `pixxel-mock contract --app tests.broken_servers:NAME()` tests it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from typing import Any

from pixxel_mock.contract.target import IN_PROCESS_CONFIG
from pixxel_mock.server import create_app

from .helpers import ALPHA

JOB_PATH = re.compile(r"^/v0/workflows/[^/]+/jobs/[^/]+$")
Edit = Callable[[dict[str, Any], str, dict[str, Any]], Any]


def _mock() -> Any:
    return create_app({**IN_PROCESS_CONFIG, "validate_responses": False})


def _rewrite_json(app: Any, edit: Edit) -> Any:
    """Middleware that lets `edit(environ, path, body)` change JSON bodies."""

    def middleware(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured.update(status=status, headers=headers)
            return lambda data: None

        body = b"".join(app(environ, capture))
        headers = captured["headers"]
        if dict(headers).get("Content-Type", "").startswith("application/json"):
            document = edit(environ, environ.get("PATH_INFO", ""), json.loads(body))
            body = json.dumps(document).encode()
            headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
            headers.append(("Content-Length", str(len(body))))
        start_response(captured["status"], headers)
        return [body]

    return middleware


def wrong_field_type() -> Any:
    """Job progress as a number instead of the documented string."""

    def edit(environ: dict[str, Any], path: str, body: Any) -> Any:
        if isinstance(body, dict) and isinstance(body.get("progress"), str):
            body["progress"] = int(body["progress"].rstrip("%"))
        return body

    return _rewrite_json(_mock(), edit)


def missing_required_field() -> Any:
    """Jobs without their `id`."""

    def edit(environ: dict[str, Any], path: str, body: Any) -> Any:
        if isinstance(body, dict) and "tasks" in body:
            body.pop("id", None)
        return body

    return _rewrite_json(_mock(), edit)


def server_error() -> Any:
    """The cost estimate crashes with an HTML 500."""
    app = _mock()

    def middleware(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "").endswith("/estimate"):
            start_response("500 INTERNAL SERVER ERROR", [("Content-Type", "text/html")])
            return [b"<h1>Internal Server Error</h1>"]
        return app(environ, start_response)

    return middleware


def ignored_auth() -> Any:
    """Any key, or none, is taken as the alpha demo key."""
    app = _mock()

    def middleware(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        if environ.get("PATH_INFO", "").startswith("/v0/"):
            environ["HTTP_AUTHORIZATION"] = ALPHA["Authorization"]
        return app(environ, start_response)

    return middleware


def lifecycle_backwards() -> Any:
    """Every second read of a job shows it queued again at 0%."""
    reads: dict[str, int] = {}

    def edit(environ: dict[str, Any], path: str, body: Any) -> Any:
        if environ["REQUEST_METHOD"] == "GET" and JOB_PATH.match(path) and "status" in body:
            reads[path] = reads.get(path, 0) + 1
            if reads[path] % 2 == 0 and body["status"] != "queued":
                body.update(status="queued", progress="0%")
        return body

    return _rewrite_json(_mock(), edit)
