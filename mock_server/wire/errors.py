"""HTTP errors in the documented envelope: {"error": {"code", "message", "details"}}."""

from __future__ import annotations

import json
from typing import Any

import orjson
from flask import Response


class ApiError(Exception):
    """An error answer: status, snake_case code, human message and optional details."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.details, self.headers = details, headers or {}

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


def to_json(body: Any) -> bytes:
    """Compact UTF-8 JSON, as every answer of the mock is written.

    orjson writes a job several times quicker than the standard library (it was a fifth
    of createJob's instructions); what orjson refuses, such as an integer past 64 bits
    echoed from a request, the standard library writes as before."""
    try:
        return orjson.dumps(body, option=orjson.OPT_NON_STR_KEYS)
    except orjson.JSONEncodeError:
        return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    """Serialise without Flask's per-call indirections."""
    return Response(to_json(body), status=status, headers=headers, mimetype="application/json")


def error_response(error: ApiError) -> Response:
    return json_response(error.status, error.body(), error.headers)
