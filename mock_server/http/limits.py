"""Oversized request lines and headers, refused before anything parses them: a 400 in
the error envelope (gunicorn's own limits, which the server lifts, answer HTML)."""

from __future__ import annotations

from typing import Any

from pixxel_mock.server.handling import ApiError

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
