"""Check one HTTP exchange (request and response) against a spec, outside any server.

The same rules the mock applies to live requests, for recorded traffic
(`validate-traffic`) and for the validating proxy: the route and method exist, the
parameters and body are what the operation allows, the status is documented and
the JSON body matches its schema.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from werkzeug.datastructures import Headers, MultiDict

from pixxel_mock.server.checking.routes import RouteTable
from pixxel_mock.server.checking.validation import validate_request
from pixxel_mock.server.handling import ApiError
from pixxel_mock.server.spec.document import ApiSpec, Operation, first_error


@dataclass(frozen=True)
class Exchange:
    method: str
    url: str
    request_headers: Mapping[str, str]
    request_body: bytes
    status: int | None = None  # None: a request without a recorded response
    response_headers: Mapping[str, str] | None = None
    response_body: bytes = b""
    started: float | None = None  # when it was recorded (epoch seconds), if known


class ExchangeChecker:
    """Routes and validates exchanges for one spec; build once, check many."""

    def __init__(self, spec: ApiSpec) -> None:
        self.spec = spec
        self.routes = RouteTable(spec.operations.values())

    def check_request(self, exchange: Exchange) -> tuple[Operation | None, list[str]]:
        parts = urlsplit(exchange.url)
        try:
            operation, values = self.routes.match(exchange.method.upper(), parts.path)
        except ApiError as exc:
            return None, [f"request: {exc.message}"]
        headers = Headers(list(exchange.request_headers.items()))
        if exchange.request_body and "Content-Length" not in headers:
            headers["Content-Length"] = str(len(exchange.request_body))
        problems = []
        if operation.secured and "Authorization" not in headers:
            problems.append("request: missing Authorization header (security scheme ApiKeyAuth)")
        try:
            validate_request(
                operation,
                values,
                MultiDict(parse_qsl(parts.query, keep_blank_values=True)),
                headers,
                lambda: exchange.request_body,
            )
        except ApiError as exc:
            problems.append(f"request: {exc.message}")
        return operation, problems

    def check_response(self, operation: Operation, exchange: Exchange) -> list[str]:
        problem = response_problem(
            operation,
            exchange.status or 0,
            _content_type(exchange.response_headers or {}),
            exchange.response_body,
        )
        return [f"response: {problem}"] if problem else []

    def check(self, exchange: Exchange) -> list[str]:
        operation, problems = self.check_request(exchange)
        if operation is not None and exchange.status is not None:
            problems += self.check_response(operation, exchange)
        return problems


def response_problem(
    operation: Operation, status: int, content_type: str, body: bytes
) -> str | None:
    """Why a response breaks the operation's contract, or None."""
    key = str(status)
    if key not in operation.responses:
        key = f"{key[0]}XX" if f"{key[0]}XX" in operation.responses else "default"
    if key not in operation.responses:
        return f"status {status} is not documented for {operation.operation_id}"
    content = operation.responses[key].get("content", {})
    media = content_type.split(";")[0].strip().lower()
    if content and media not in content:
        return f"content type {media or '(none)'} is not documented for {operation.operation_id} {status}"
    validator = operation.response_validators.get(key)
    if validator is None or media != "application/json":
        return None
    try:
        document: Any = json.loads(body)
    except ValueError:
        return f"the {status} body of {operation.operation_id} is not JSON"
    error = first_error(validator, document)
    return f"{operation.operation_id} {status} body: {error}" if error else None


def _content_type(headers: Mapping[str, str]) -> str:
    return next((v for k, v in headers.items() if k.lower() == "content-type"), "")
