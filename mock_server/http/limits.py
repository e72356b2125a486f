"""Oversized requests refused before Flask parses them: a 400 in the error envelope.

gunicorn's own limits would answer with an HTML page; the server lifts them and
this WSGI middleware applies ours, so a client always gets the documented envelope.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from pixxel_mock.server.handling import ApiError, WsgiApp, to_json

MAX_TARGET_BYTES = 16 * 1024  # path + query string
MAX_HEADER_BYTES = 64 * 1024  # all header names and values together


def request_too_large(environ: dict[str, Any]) -> ApiError | None:
    target = len(environ.get("PATH_INFO", "")) + len(environ.get("QUERY_STRING", ""))
    if target > MAX_TARGET_BYTES:
        return ApiError(
            400,
            "request_too_large",
            f"The path and query string are {target} bytes; at most {MAX_TARGET_BYTES} are accepted.",
            {"in": "query", "limit": MAX_TARGET_BYTES},
        )
    headers = sum(
        len(k) + len(v) for k, v in environ.items() if k.startswith("HTTP_") and isinstance(v, str)
    )
    if headers > MAX_HEADER_BYTES:
        return ApiError(
            400,
            "request_too_large",
            f"The headers are {headers} bytes; at most {MAX_HEADER_BYTES} are accepted.",
            {"in": "header", "limit": MAX_HEADER_BYTES},
        )
    return None


def limited(app: WsgiApp, journal: Callable[[dict[str, Any], ApiError], None]) -> WsgiApp:
    def middleware(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        error = request_too_large(environ)
        if error is None:
            return app(environ, start_response)
        journal(environ, error)
        body = to_json(error.body())
        start_response(
            "400 BAD REQUEST",
            [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
        )
        return [body]

    return middleware
