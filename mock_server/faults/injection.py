"""Reproducing error cases over HTTP: the `Prefer` header and fault rules.

`Prefer` (compatible with Prism where they overlap): `code=403` answers that
documented status with the spec's example, `example=NAME` picks a named example,
`delay=1500` waits 1.5 s first; they combine (`Prefer: code=429, delay=200`).

Fault rules (control API or `--scenario`) answer a status, wait, drop the
connection or truncate the body, on the requests they match and fire on.
Every response made here carries `X-Mock-Fault` (the rule id, or `prefer`).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flask import Request, Response

from pixxel_mock.server.handling import DROP_KEY, FAULT_HEADER, ApiError, json_response, state_of
from pixxel_mock.server.model.faults import DEFAULT_RETRY_AFTER, NO_BODY, FaultRule
from pixxel_mock.server.model.sessions import Session
from pixxel_mock.server.spec.document import Operation

if TYPE_CHECKING:
    from pixxel_mock.server.app.instance import MockInstance

MAX_DELAY_MS = 60_000
_PREFERENCE = re.compile(r"\s*([A-Za-z-]+)\s*=\s*\"?([^,;\"]*)\"?\s*")
FAULT_ERRORS = {
    400: ("bad_request", "The request was refused (simulated fault)."),
    403: ("forbidden", "Access denied (simulated fault)."),
    404: ("not_found", "Not found (simulated fault)."),
    429: ("rate_limited", "Too many requests; retry after the number of seconds in Retry-After."),
    500: ("internal_error", "The server failed to process the request (simulated fault)."),
    502: ("bad_gateway", "The gateway got no valid answer from the service (simulated fault)."),
    503: ("service_unavailable", "The service is temporarily unavailable (simulated fault)."),
    504: ("gateway_timeout", "The gateway timed out waiting for the service (simulated fault)."),
}


@dataclass(frozen=True)
class Preference:
    code: int | None = None
    example: str | None = None
    delay_ms: int | None = None


def parse_prefer(header: str | None) -> Preference | None:
    """The preferences we honour; unknown ones are ignored (RFC 7240), bad values are 400."""
    if not header:
        return None
    values = {
        m.group(1).lower(): m.group(2).strip()
        for part in re.split(r"[,;]", header)
        if (m := _PREFERENCE.fullmatch(part))
    }
    code, delay = values.get("code"), values.get("delay")
    for name, value in (("code", code), ("delay", delay)):
        if value is not None and not (value.isdigit() and len(value) <= 5):
            raise _prefer_error(f"Prefer {name}={value!r} must be a whole number.")
    if delay is not None and int(delay) > MAX_DELAY_MS:
        raise _prefer_error(f"Prefer delay is at most {MAX_DELAY_MS} ms.")
    if code is None and "example" not in values and delay is None:
        return None
    return Preference(
        code=int(code) if code is not None else None,
        example=values.get("example") or None,
        delay_ms=int(delay) if delay is not None else None,
    )


def _prefer_error(message: str, details: Any = None) -> ApiError:
    return ApiError(
        400, "invalid_prefer", message, {"parameter": "Prefer", "in": "header", **(details or {})}
    )


def preferred_response(operation: Operation, preference: Preference) -> Response | None:
    """Wait as asked; answer the preferred status/example, or None to go on as usual."""
    if preference.delay_ms:
        time.sleep(preference.delay_ms / 1000)
    if preference.code is None and preference.example is None:
        return None
    documented = sorted(operation.documented_statuses())
    statuses = [str(preference.code)] if preference.code is not None else documented
    if preference.code is not None and str(preference.code) not in documented:
        raise _prefer_error(
            f"Prefer code={preference.code} is not documented for {operation.operation_id};"
            f" documented: {', '.join(documented)}.",
            {"documented": documented},
        )
    for status in statuses:
        found = operation.example(status, preference.example)
        if found is not None:
            return _fault_response(int(status), found[1], {}, "prefer")
    if preference.example is not None:
        raise _prefer_error(
            f"No example named {preference.example!r} for {operation.operation_id}"
            + (f" {preference.code}." if preference.code else "."),
        )
    code, message = FAULT_ERRORS.get(preference.code or 500, ("error", "Simulated response."))
    body = {"error": {"code": code, "message": message, "details": None}}
    return _fault_response(preference.code or 500, body, {}, "prefer")


def fault_response(
    instance: MockInstance, session: Session, operation: Operation, request: Request
) -> Response | None:
    """Apply the first matching rule that fires; None when the request goes on as usual."""
    if not session.faults:
        return None
    key = _key_of(request.environ.get("HTTP_AUTHORIZATION"))
    seed = instance.config.seed
    for rule in session.faults:
        if not rule.matches(
            operation.method, operation.path, operation.operation_id, operation.secured, key
        ):
            continue
        count = instance.store.namespaces.count_match(session.namespace, rule.id)
        if not rule.fires(count, seed, session.namespace):
            continue
        return _act(rule, count, seed, session, operation, request.environ)
    return None


def _act(
    rule: FaultRule,
    count: int,
    seed: int,
    session: Session,
    operation: Operation,
    environ: dict[str, Any],
) -> Response | None:
    action = rule.action
    draw = (seed, session.namespace, rule.id, count)
    if action.delay is not None:
        time.sleep(action.delay.seconds(*draw))
    if action.drop:
        return _drop(rule, environ)
    if action.truncate_bytes is not None:
        state_of(environ).truncate = (action.truncate_bytes, rule.id)
    status = action.status(*draw)
    if status is None:
        return None
    headers = dict(action.headers)
    if status == 429:
        headers.setdefault("Retry-After", DEFAULT_RETRY_AFTER)
    body = action.body
    if body is NO_BODY:
        example = operation.example(str(status))
        code, message = FAULT_ERRORS[status]
        details = {"retry_after": int(headers["Retry-After"])} if status == 429 else None
        body = (
            example[1]
            if example and status < 429
            else {"error": {"code": code, "message": message, "details": details}}
        )
    return _fault_response(status, body, headers, rule.id)


def _fault_response(status: int, body: Any, headers: dict[str, str], source: str) -> Response:
    return json_response(status, body, {**headers, FAULT_HEADER: source})


def _drop(rule: FaultRule, environ: dict[str, Any]) -> Response:
    """Close the connection without an answer; in-process (no server) answer 502 instead."""
    drop = environ.get(DROP_KEY)
    if drop is not None:
        drop()
        state_of(environ).dropped = True  # nothing was answered: nothing to check
        return Response(b"", status=200, headers={FAULT_HEADER: rule.id})  # goes nowhere
    body = {
        "error": {
            "code": "connection_dropped",
            "message": "The connection would be dropped here (in-process, answered as a 502).",
            "details": None,
        }
    }
    return _fault_response(502, body, {}, rule.id)


def truncate(response: Response, cut: tuple[int, str]) -> Response:
    """Send fewer bytes than Content-Length promises, then close (a `truncate_bytes` fault)."""
    limit, rule_id = cut
    data = response.get_data()
    response.set_data(data[:limit])
    response.headers["Content-Length"] = str(len(data))
    response.headers["Connection"] = "close"
    response.headers[FAULT_HEADER] = rule_id
    return response


def _key_of(header: str | None) -> str | None:
    value = (header or "").strip()
    return value[7:].strip() if value[:7].lower() == "bearer " else value or None
