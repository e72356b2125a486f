"""Bind a compiled spec to Flask: one route per operationId, validated before its handler.

The order for every request: route (404/405) -> guard (the API key, or the control
plane's loopback/token rule) -> parameters and body (400/415) -> handler. Every
error, Flask's own included, leaves in the documented envelope.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask, Request, Response, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound

from pixxel_mock.server.app.instance import MockInstance
from pixxel_mock.server.checking.exchange import response_problem
from pixxel_mock.server.checking.validation import validate_request
from pixxel_mock.server.faults.injection import (
    FAULT_HEADER,
    fault_response,
    parse_prefer,
    preferred_response,
    truncate,
)
from pixxel_mock.server.faults.replay import replayed_response
from pixxel_mock.server.handling import (
    DEFAULT_NAMESPACE,
    ApiError,
    Call,
    ExchangeState,
    HandlerRegistry,
    Reply,
    error_response,
    json_response,
    state_of,
)
from pixxel_mock.server.model.catalog import ApiKey
from pixxel_mock.server.model.coverage import encoded_states, states_in_body
from pixxel_mock.server.model.errors import DomainError
from pixxel_mock.server.model.sessions import Session
from pixxel_mock.server.spec.document import ApiSpec, Operation
from pixxel_mock.server.state.journal import JournalEntry

NAMESPACE_HEADER = "X-Mock-Session"
# the hot path reads its headers (this one, Prefer, Authorization) from the WSGI environ
# by their PEP 3333 names, not through werkzeug's header view
_NAMESPACE_KEY = "HTTP_" + NAMESPACE_HEADER.upper().replace("-", "_")
CONTROL_TOKEN_HEADER = "X-Mock-Token"
CONTROL_PREFIX = "/__mock"
UNJOURNALED = (CONTROL_PREFIX, "/docs", "/openapi.")  # control plane, pages, contract
_NAMESPACE = re.compile(r"[A-Za-z0-9._-]{1,64}")
_DOMAIN_STATUS = {"forbidden": 403, "not_found": 404, "invalid": 400}

Guard = Callable[[Operation, MockInstance, Session, Request], ApiKey | None]
Serve = Callable[[Request, dict[str, str]], Response]  # may raise; see error_answer
log = logging.getLogger("pixxel_mock")


@dataclass(frozen=True)
class BoundOperation:
    """An operation and the function that serves it, whoever routes the request there."""

    operation: Operation
    serve: Serve


def api_guard(
    operation: Operation, instance: MockInstance, session: Session, request: Request
) -> ApiKey | None:
    """The API key check of the Pixxel API: missing, unknown or revoked keys are 403."""
    if not operation.secured:
        return None
    header = request.environ.get("HTTP_AUTHORIZATION")
    if header is None:
        state_of(request.environ).violations.append(
            "missing Authorization header (security scheme ApiKeyAuth)"
        )
    return instance.sessions.authenticate(header, session)


def control_guard(
    operation: Operation, instance: MockInstance, session: Session, request: Request
) -> ApiKey | None:
    """Loopback clients only, unless a control token is configured: then the token only."""
    if not operation.secured:
        return None
    token = instance.config.control_token
    if token is None:
        if not is_loopback(request.remote_addr):
            raise ApiError(
                403,
                "control_forbidden",
                "The control API answers only loopback clients unless started with a token.",
            )
        return None
    given = request.headers.get(CONTROL_TOKEN_HEADER, "")
    if not hmac.compare_digest(given.encode("utf-8", "replace"), token.encode()):
        raise ApiError(
            403,
            "control_forbidden",
            f"Send the control token in the {CONTROL_TOKEN_HEADER} header.",
        )
    return None


def is_loopback(address: str | None) -> bool:
    try:
        return ipaddress.ip_address((address or "").split("%")[0]).is_loopback
    except ValueError:
        return False


def namespace_of(header: str | None) -> str:
    if header is None:
        return DEFAULT_NAMESPACE
    if not _NAMESPACE.fullmatch(header):
        raise ApiError(
            400,
            "invalid_parameter",
            f'Header "{NAMESPACE_HEADER}" must be 1-64 letters, digits, ".", "_" or "-".',
            {"parameter": NAMESPACE_HEADER, "in": "header"},
        )
    return header


def may_wait(instance: MockInstance, environ: dict[str, Any]) -> bool:
    """Whether answering may sleep on purpose: a `Prefer` header (`delay=`), or a fault
    rule with a delay in the request's namespace. The server runs such requests where a
    wait holds up no other (see bridge.py)."""
    if "HTTP_PREFER" in environ:
        return True
    try:
        namespace = namespace_of(environ.get(_NAMESPACE_KEY))
    except ApiError:
        return False  # refused at once
    return any(rule.action.delay is not None for rule in instance.sessions.fault_rules(namespace))


def bind_spec(
    app: Flask,
    spec: ApiSpec,
    handlers: HandlerRegistry,
    instance: MockInstance,
    guard: Guard,
    injectable: bool = False,
) -> list[BoundOperation]:
    """Add one route per operation of the spec; every operation must have a handler.

    `injectable`: the `Prefer` header and fault rules apply (the Pixxel API's routes).
    Returns the bound operations, for a router other than Flask's (see direct.py).
    """
    missing = set(spec.operations) - set(handlers)
    extra = set(handlers) - set(spec.operations)
    if missing or extra:
        raise RuntimeError(f"handlers do not match the spec: missing {missing}, unknown {extra}")
    bound = []
    for operation in spec.operations.values():
        serve = _serve(operation, handlers[operation.operation_id], instance, guard, injectable)
        app.add_url_rule(
            operation.flask_rule,
            endpoint=operation.operation_id,
            view_func=_flask_view(operation, serve),
            methods=[operation.method],
        )
        app.extensions["pixxel_mock_operations"][operation.operation_id] = operation
        bound.append(BoundOperation(operation, serve))
    return bound


def _flask_view(operation: Operation, serve: Serve) -> Callable[..., Response]:
    def view(**path_values: str) -> Response:
        return serve(request._get_current_object(), path_values)  # type: ignore[attr-defined]

    view.__name__ = operation.operation_id
    view.provide_automatic_options = False  # type: ignore[attr-defined]
    return view


def _serve(
    operation: Operation,
    handler: Callable[[Call], Reply],
    instance: MockInstance,
    guard: Guard,
    injectable: bool,
) -> Serve:
    def serve(req: Request, path_values: dict[str, str]) -> Response:
        environ = req.environ
        state = state_of(environ)
        state.operation = operation
        namespace = path_values.get("namespace") or namespace_of(environ.get(_NAMESPACE_KEY))
        state.namespace = namespace
        session = instance.sessions.session(namespace)
        replay = session.scenario.replay
        recording = instance.recording(replay.recording) if injectable and replay else None
        if recording is not None and replay is not None:
            replayed = replayed_response(recording, replay, instance.store, session, req)
            if replayed is not None:
                return _observed(state, operation, replayed)
        if injectable:
            preference = parse_prefer(environ.get("HTTP_PREFER"))
            injected = (preferred_response(operation, preference) if preference else None) or (
                fault_response(instance, session, operation, req)
            )
            if injected is not None:
                return _observed(state, operation, injected)
        try:
            key = guard(operation, instance, session, req)
            params = validate_request(
                operation, path_values, req.args, req.headers, lambda: req.get_data(cache=True)
            )
            reply = handler(Call(params, session, key, instance, req))
        except DomainError as exc:
            raise ApiError(_DOMAIN_STATUS[exc.kind], exc.code, exc.message, exc.details) from exc
        if isinstance(reply, Response):
            return reply
        status, body = reply
        if isinstance(body, bytes):
            return Response(body, status=status, mimetype="application/json")
        return json_response(status, body)

    return serve


def _observed(state: ExchangeState, operation: Operation, response: Response) -> Response:
    """An answer no handler made (a fault, a `Prefer` example, a replayed one): its
    fault header and states, for the journal, are read from it. Handlers note their
    states without parsing, and the journal reads no header of theirs (a header that
    is missing costs werkzeug a raised KeyError)."""
    state.fault = response.headers.get(FAULT_HEADER)
    states = states_in_body(operation.operation_id, response.status_code, response.get_data())
    state.states = encoded_states(states) if states is not None else None
    return response


def install_error_handlers(app: Flask) -> None:
    @app.errorhandler(Exception)
    def any_error(error: Exception) -> Response:
        return error_answer(error, request._get_current_object())  # type: ignore[attr-defined]


def error_answer(error: Exception, req: Request) -> Response:
    """Every exception a request raises leaves in the envelope: ours, werkzeug's (404, 405,
    413...) or a bug (500, logged); refusals of the client's request are its violations."""
    if isinstance(error, ApiError):
        if error.status == 400 or error.status == 415:
            state_of(req.environ).violations.append(error.message)
        return error_response(error)
    if not isinstance(error, HTTPException):
        log.exception("unexpected error on %s %s", req.method, req.path)
        return error_response(
            ApiError(500, "internal_error", "The mock failed to process the request.")
        )
    status = error.code or 500
    headers = {}
    if isinstance(error, NotFound):
        code, message = "not_found", f"No operation is defined at {req.path}."
    elif isinstance(error, MethodNotAllowed):
        allowed = sorted(set(error.valid_methods or []) - {"OPTIONS"})
        headers["Allow"] = ", ".join(allowed)
        code = "method_not_allowed"
        message = f"{req.method} is not allowed on {req.path}; use {', '.join(allowed)}."
    elif status == 413:
        code, message = "payload_too_large", "The request body is too large."
    else:
        code = (error.name or "error").lower().replace(" ", "_")
        message = error.description or error.name
    if status < 500:
        state_of(req.environ).violations.append(message)
    return error_response(ApiError(status, code, message, None, headers))


def install_journal(app: Flask, instance: MockInstance) -> None:
    """Record every request outside the control plane and the web pages; check responses
    in test mode."""

    @app.after_request
    def finish(response: Response) -> Response:
        return finish_exchange(instance, request._get_current_object(), response)  # type: ignore[attr-defined]


def finish_exchange(instance: MockInstance, req: Request, response: Response) -> Response:
    """The last step of every exchange: the response check (test mode), a truncation
    fault, and the journal entry."""
    state = state_of(req.environ)
    operation = state.operation
    if instance.config.validate_responses and operation is not None:
        response = _checked(operation, response, state)
    if state.truncate is not None:
        response = truncate(response, state.truncate)
        state.fault = state.truncate[1]
    if not (req.path.startswith(UNJOURNALED) or req.path == "/"):
        instance.store.journal.append(
            JournalEntry(
                namespace=state.namespace,
                method=req.method,
                path=req.path,
                query=req.query_string.decode("latin-1"),
                operation_id=operation.operation_id if operation else None,
                status=response.status_code,
                duration_ms=round((time.perf_counter() - state.started) * 1000, 3),
                violations=state.violations,
                fault=state.fault,
                states=state.states,
            )
        )
    return response


def _checked(operation: Operation, response: Response, state: ExchangeState) -> Response:
    """Test mode: an answer that breaks the contract becomes a 500 that says why."""
    problem = response_problem(
        operation, response.status_code, response.content_type or "", response.get_data()
    )
    if problem is None:
        return response
    state.violations.append(f"response: {problem}")
    log.error("response of %s breaks the contract: %s", operation.operation_id, problem)
    return error_response(
        ApiError(
            500,
            "response_contract_violation",
            f"The mock's {response.status_code} response breaks the spec: {problem}",
        )
    )
