"""Request validation against a compiled operation: path, query, headers and body.

Each violation is a 4xx ApiError whose details name the parameter, its location
and the reason, so a client developer sees at once what to fix.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import orjson
from werkzeug.datastructures import MultiDict

from pixxel_mock.server.handling import ApiError
from pixxel_mock.server.spec.document import Operation, Parameter, first_error

_INTEGER = re.compile(r"-?[0-9]{1,18}")
_NUMBER = re.compile(r"-?[0-9]{1,18}(\.[0-9]{1,18})?([eE][-+]?[0-9]{1,3})?")
_LOCATION = {"path": "Path", "query": "Query", "header": "Header"}


def validate_request(
    operation: Operation,
    path_values: dict[str, str],
    query: MultiDict[str, str],
    headers: Any,
    read_body: Callable[[], bytes],
) -> dict[str, Any]:
    """Return the operation's parameters, typed (and the parsed body as `body`).

    The body is read only when the operation defines one (so an oversized body on
    an operation without one is a 400, not a 413).
    """
    values: dict[str, Any] = {}
    for parameter in operation.parameters:
        raw = _raw_values(parameter, path_values, query, headers)
        if not raw:
            if parameter.required:
                raise _problem(parameter, "missing_parameter", "is required", None)
            if "default" in parameter.schema:
                values[parameter.name] = parameter.schema["default"]
            continue
        if len(raw) > 1:
            raise _problem(parameter, "duplicate_parameter", "must be given once", raw)
        value = _coerce(parameter, raw[0])
        reason = first_error(parameter.validator, value)
        if reason is not None:
            raise _problem(parameter, "invalid_parameter", "is invalid", raw[0], reason)
        values[parameter.name] = value
    values["body"] = _body(operation, headers, read_body)
    return values


def _raw_values(
    parameter: Parameter, path_values: dict[str, str], query: MultiDict[str, str], headers: Any
) -> list[str]:
    if parameter.location == "path":
        return [path_values[parameter.name]] if parameter.name in path_values else []
    if parameter.location == "query":
        return query.getlist(parameter.name)
    if parameter.location == "header":
        return headers.getlist(parameter.name)
    return []


def _coerce(parameter: Parameter, text: str) -> Any:
    kind = parameter.type
    if kind == "integer":
        if not _INTEGER.fullmatch(text):
            raise _problem(parameter, "invalid_parameter", "must be an integer", text)
        return int(text)
    if kind == "number":
        if not _NUMBER.fullmatch(text):
            raise _problem(parameter, "invalid_parameter", "must be a number", text)
        return float(text)
    if kind == "boolean":
        if text not in ("true", "false"):
            raise _problem(parameter, "invalid_parameter", "must be true or false", text)
        return text == "true"
    return text


def _announces_body(headers: Any) -> bool:
    length = headers.get("Content-Length", "")
    chunked = "chunked" in headers.get("Transfer-Encoding", "").lower()
    return chunked or (length not in ("", "0"))


def _body(operation: Operation, headers: Any, read_body: Callable[[], bytes]) -> Any:
    if operation.body is None:
        if _announces_body(headers):
            raise ApiError(
                400,
                "unexpected_body",
                f"{operation.method} {operation.path} takes no request body.",
                {"in": "body", "reason": "no request body is defined for this operation"},
            )
        return None
    body = read_body()
    if not body:
        if operation.body.required:
            raise ApiError(400, "missing_body", "A JSON request body is required.", {"in": "body"})
        return None
    media = headers.get("Content-Type", "").split(";")[0].strip().lower()
    if media not in operation.body.media_types:
        raise ApiError(
            415,
            "unsupported_media_type",
            f"Send the body as {', '.join(operation.body.media_types)}.",
            {"in": "header", "parameter": "Content-Type", "received": media or None},
        )
    try:
        parsed = _parsed(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ApiError(
            400, "invalid_body", "The body is not valid JSON.", {"reason": str(exc)}
        ) from exc
    if b"\\u" in body and (found := _lone_surrogate(parsed)) is not None:
        where = found.encode("utf-8", "backslashreplace").decode()  # a key may hold one too
        raise ApiError(
            400,
            "invalid_body",
            f"The body is invalid: {where or '(root)'} holds a lone surrogate, not Unicode text.",
            {"in": "body", "parameter": where, "reason": "lone surrogate"}
            if where
            else {"in": "body"},
        )
    reason = first_error(operation.body.validator, parsed)
    if reason is not None:
        field = reason.split(": ", 1)[0]  # the path of the offending value, e.g. bbox or query/gsd
        details = {"in": "body", "reason": reason}
        if field != "(root)":
            details["parameter"] = field
        raise ApiError(400, "invalid_body", f"The body is invalid: {reason}", details)
    return parsed


def _parsed(body: bytes) -> Any:
    """orjson's parse, and the standard library's for what orjson refuses but Python's
    JSON reads (an integer past 64 bits, NaN, a lone surrogate), or to say why not."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return json.loads(body)


def _lone_surrogate(value: Any, where: str = "") -> str | None:
    """The path of a text holding a lone surrogate (JSON's `\\ud800` escapes allow one;
    UTF-8, SQLite and every answer cannot carry it), or None."""
    if isinstance(value, str):
        return None if value.isascii() or _encodes(value) else where
    if isinstance(value, dict):
        items: Any = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        path = f"{where}/{key}" if where else str(key)
        if isinstance(key, str) and not _encodes(key):
            return path
        found = _lone_surrogate(item, path)
        if found is not None:
            return found
    return None


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _problem(
    parameter: Parameter, code: str, summary: str, received: Any, reason: str | None = None
) -> ApiError:
    where = _LOCATION[parameter.location]
    message = f'{where} parameter "{parameter.name}" {summary}'
    if reason:
        message += f": {reason.split(': ', 1)[-1]}"
    details = {"parameter": parameter.name, "in": parameter.location, "reason": reason or summary}
    if received is not None:
        details["received"] = received
    return ApiError(400, code, message + ".", details)
