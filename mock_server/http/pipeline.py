"""The one request pipeline: the Pixxel API, the control plane and the pages all go the
same way, through steps written once.

limits -> route (404/405) -> namespace -> replay, `Prefer`, fault rules (the API only)
-> guard (the API key, or the control plane's loopback/token rule) -> parameters and
body (400/415) -> handler -> error envelope -> response check (test mode) -> truncation
fault -> journal -> send.

It is plain WSGI over werkzeug's request and response: no Flask context, routing or
response processing per request, which cost as much CPU as the handler's own work.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flask import Request, Response
from werkzeug.exceptions import HTTPException

from pixxel_mock.server.checking.exchange import response_problem
from pixxel_mock.server.checking.routes import RouteTable
from pixxel_mock.server.checking.validation import validate_request
from pixxel_mock.server.faults.injection import (
    fault_response,
    parse_prefer,
    preferred_response,
    truncate,
)
from pixxel_mock.server.faults.replay import replayed_response
from pixxel_mock.server.handling import (
    FAULT_HEADER,
    ApiError,
    Call,
    ExchangeState,
    Handler,
    HandlerRegistry,
    error_response,
    json_response,
    state_of,
)
from pixxel_mock.server.http.guards import NAMESPACE_KEY, Guard, namespace_of
from pixxel_mock.server.http.limits import request_too_large
from pixxel_mock.server.model.coverage import encoded_states, states_in_body
from pixxel_mock.server.model.errors import DomainError
from pixxel_mock.server.model.sessions import Session
from pixxel_mock.server.spec.document import ApiSpec, Operation
from pixxel_mock.server.state.journal import JournalEntry

if TYPE_CHECKING:
    from pixxel_mock.server.app.instance import MockInstance

UNJOURNALED = ("/__mock", "/docs", "/openapi.")  # control plane, pages, contract
JOURNALED_TEXT = 1024  # characters of a path or query string the journal keeps
_DOMAIN_STATUS = {"forbidden": 403, "not_found": 404, "invalid": 400, "conflict": 409}

Endpoint = Callable[[Request, dict[str, str]], Response]  # may raise; see error_answer
log = logging.getLogger("pixxel_mock")


@dataclass(frozen=True)
class Plane:
    """One contract's operations, their handlers, and who may call them."""

    spec: ApiSpec
    handlers: HandlerRegistry
    guard: Guard
    injectable: bool = False  # `Prefer`, fault rules and replay apply (the Pixxel API)


class Pipeline:
    """The mock's WSGI app: every request of every plane through one route table."""

    def __init__(self, instance: MockInstance, planes: Sequence[Plane]) -> None:
        self._instance = instance
        self._endpoints: dict[str, Endpoint] = {}
        for plane in planes:
            missing = set(plane.spec.operations) - set(plane.handlers)
            extra = set(plane.handlers) - set(plane.spec.operations)
            if missing or extra:
                raise RuntimeError(f"handlers do not match the spec: missing {missing}, {extra=}")
            for operation in plane.spec.operations.values():
                handler = plane.handlers[operation.operation_id]
                self._endpoints[operation.operation_id] = endpoint(
                    operation, handler, instance, plane.guard, plane.injectable
                )
        self.routes = RouteTable(
            operation for plane in planes for operation in plane.spec.operations.values()
        )

        class LimitedRequest(Request):
            """werkzeug's request with the mock's body limit (413 past it)."""

            max_content_length = instance.config.max_body_bytes  # type: ignore[assignment]

        self._request_class = LimitedRequest

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        request = self._request_class(environ)
        try:
            response = self._answer(request, environ)
        except Exception as error:  # every error leaves in the envelope
            response = error_answer(error, request)
        response = finish_exchange(self._instance, request, response)
        return send_answer(response, environ, start_response)

    def _answer(self, request: Request, environ: dict[str, Any]) -> Response:
        refused = request_too_large(environ)
        if refused is None:
            path = environ.get("PATH_INFO", "")
            try:
                operation, path_values = self.routes.match(
                    request.method, path if path.isascii() else request.path
                )
            except ApiError as error:
                refused = error
        if refused is not None:  # the client's request is wrong before any operation
            state_of(environ).violations.append(refused.message)
            raise refused
        return self._endpoints[operation.operation_id](request, path_values)


def endpoint(
    operation: Operation,
    handler: Handler,
    instance: MockInstance,
    guard: Guard,
    injectable: bool,
) -> Endpoint:
    """What answers one operation, from the namespace step to the handler's reply."""

    def answer(request: Request, path_values: dict[str, str]) -> Response:
        environ = request.environ
        state = state_of(environ)
        state.operation = operation
        namespace = path_values.get("namespace") or namespace_of(environ.get(NAMESPACE_KEY))
        state.namespace = namespace
        session = instance.sessions.session(namespace)
        if injectable:
            injected = _injected(operation, instance, session, request)
            if injected is not None:
                return _observed(state, operation, injected)
        try:
            key = guard(operation, instance, session, request)
            params = validate_request(
                operation,
                path_values,
                request.args,
                request.headers,
                lambda: request.get_data(cache=True),
            )
            reply = handler(Call(params, session, key, instance, request))
        except DomainError as exc:
            raise ApiError(_DOMAIN_STATUS[exc.kind], exc.code, exc.message, exc.details) from exc
        if isinstance(reply, Response):
            return reply
        status, body = reply
        if isinstance(body, bytes):
            return Response(body, status=status, mimetype="application/json")
        return json_response(status, body)

    return answer


def _injected(
    operation: Operation, instance: MockInstance, session: Session, request: Request
) -> Response | None:
    """An answer that replaces the model's: a replayed one, a `Prefer` example, a fault."""
    replay = session.scenario.replay
    recording = instance.recording(replay.recording) if replay else None
    if recording is not None and replay is not None:
        replayed = replayed_response(recording, replay, instance.store, session, request)
        if replayed is not None:
            return replayed
    preference = parse_prefer(request.environ.get("HTTP_PREFER"))
    return (preferred_response(operation, preference) if preference else None) or (
        fault_response(instance, session, operation, request)
    )


def _observed(state: ExchangeState, operation: Operation, response: Response) -> Response:
    """An answer no handler made: its fault header and states, for the journal, are read
    from it (handlers note their states without parsing)."""
    state.fault = response.headers.get(FAULT_HEADER)
    states = states_in_body(operation.operation_id, response.status_code, response.get_data())
    state.states = encoded_states(states) if states is not None else None
    return response


def may_wait(instance: MockInstance, environ: dict[str, Any]) -> bool:
    """Whether answering may sleep on purpose: a `Prefer` header (`delay=`), or a fault
    rule with a delay in the request's namespace. The server runs such requests where a
    wait holds up no other (see serving/bridge.py)."""
    if "HTTP_PREFER" in environ:
        return True
    try:
        namespace = namespace_of(environ.get(NAMESPACE_KEY))
    except ApiError:
        return False  # refused at once
    return any(rule.action.delay is not None for rule in instance.sessions.fault_rules(namespace))


def error_answer(error: Exception, request: Request) -> Response:
    """Every exception a request raises leaves in the envelope: ours, werkzeug's (413 and
    the like) or a bug (500, logged); refusals of the client's request are violations."""
    if isinstance(error, ApiError):
        if error.status in (400, 415):
            state_of(request.environ).violations.append(error.message)
        return error_response(error)
    if not isinstance(error, HTTPException):
        log.exception("unexpected error on %s %s", request.method, request.path)
        return error_response(
            ApiError(500, "internal_error", "The mock failed to process the request.")
        )
    status = error.code or 500
    if status == 413:
        code, message = "payload_too_large", "The request body is too large."
    else:
        code = (error.name or "error").lower().replace(" ", "_")
        message = error.description or error.name
    if status < 500:
        state_of(request.environ).violations.append(message)
    return error_response(ApiError(status, code, message))


def finish_exchange(instance: MockInstance, request: Request, response: Response) -> Response:
    """The last steps of every exchange: the response check (test mode), a truncation
    fault, and the journal entry."""
    state = state_of(request.environ)
    operation = state.operation
    if instance.config.validate_responses and operation is not None and not state.dropped:
        response = _checked(operation, response, state)
    if state.truncate is not None:
        response = truncate(response, state.truncate)
        state.fault = state.truncate[1]
    path = request.path
    if not (path.startswith(UNJOURNALED) or path == "/"):
        instance.store.journal.append(
            JournalEntry(
                namespace=state.namespace,
                method=request.method,
                path=path[:JOURNALED_TEXT],
                query=request.query_string.decode("latin-1")[:JOURNALED_TEXT],
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


def send_answer(
    response: Response, environ: dict[str, Any], start_response: Callable[..., Any]
) -> Iterable[bytes]:
    """A buffered answer sent as werkzeug would send it, without werkzeug's copy of its
    headers and its per-response checks (a sixth of a GET job's CPU); any answer those
    checks could change (HEAD, no Content-Length, a Location, a status without a body, a
    stream) goes through werkzeug."""
    headers = response.headers.to_wsgi_list()
    names = {name.lower() for name, _ in headers}
    status = response.status_code
    if (
        not response.is_sequence
        or status < 200
        or status in (204, 304)
        or environ.get("REQUEST_METHOD") == "HEAD"
        or "content-length" not in names
        or not names.isdisjoint(("location", "content-location"))
    ):
        return response(environ, start_response)
    start_response(response.status, headers)
    return response.response  # type: ignore[return-value]
