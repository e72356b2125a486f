"""What every handler shares: the call it receives, the reply it returns, the registry
that names it, the error envelope and JSON rendering, and the per-request state.

It sits below the handlers and above the domain, so a handler of any plane (API,
control, pages, faults) and the pipeline that calls it meet here without importing
each other.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import orjson
from flask import Request, Response
from werkzeug.sansio.utils import get_current_url

from pixxel_mock.server.model.catalog import ApiKey
from pixxel_mock.server.model.coverage import States, encoded_states
from pixxel_mock.server.model.sessions import Session
from pixxel_mock.server.state.namespaces import DEFAULT_NAMESPACE

if TYPE_CHECKING:
    from pixxel_mock.server.app.instance import MockInstance
    from pixxel_mock.server.spec.document import Operation

ENVIRON_KEY = "pixxel_mock.exchange"
DROP_KEY = "pixxel_mock.drop"  # set by a fault: the server closes the connection unanswered
FAULT_HEADER = "X-Mock-Fault"


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
    """Compact UTF-8 JSON, as every answer of the mock is written: orjson, and the
    standard library for what orjson refuses (an integer past 64 bits echoed back)."""
    try:
        return orjson.dumps(body, option=orjson.OPT_NON_STR_KEYS)
    except orjson.JSONEncodeError:
        return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    """Serialise without Flask's per-call indirections."""
    return Response(to_json(body), status=status, headers=headers, mimetype="application/json")


def error_response(error: ApiError) -> Response:
    return json_response(error.status, error.body(), error.headers)


@dataclass
class ExchangeState:
    """What the pipeline remembers about the request being served (one lookup on the
    request's environ, instead of a context-local proxy per field)."""

    started: float = field(default_factory=time.perf_counter)
    operation: Operation | None = None
    namespace: str = DEFAULT_NAMESPACE
    violations: list[str] = field(default_factory=list)
    truncate: tuple[int, str] | None = None  # (bytes kept, fault rule id)
    states: str | None = None  # the job/task/download states it shows (encoded_states)
    fault: str | None = None  # its X-Mock-Fault header, noted where a fault sets it
    dropped: bool = False  # a `drop` fault closed the connection: no answer was sent


def state_of(environ: dict[str, Any]) -> ExchangeState:
    """The request's state, made on first use (an error may come before the handler)."""
    state = environ.get(ENVIRON_KEY)
    if state is None:
        state = environ[ENVIRON_KEY] = ExchangeState()
    return state


@dataclass(frozen=True)
class Call:
    """One validated request: typed parameters, the caller's namespace and key."""

    params: dict[str, Any]
    session: Session
    key: ApiKey | None
    mock: MockInstance
    request: Request

    @property
    def namespace(self) -> str:
        return self.session.namespace

    @property
    def base_url(self) -> str:
        """The request's `host_url`, for signed URLs. werkzeug's IRI round trip costs more
        than a whole job read, so each (scheme, host) is worked out once per process."""
        return _host_url(self.request.scheme, self.request.host)

    def observe(self, states: States | str) -> None:
        """Note the states the answer shows (or their `encoded_states`), for the journal
        (client coverage), so that nobody parses the body again."""
        encoded = states if isinstance(states, str) else encoded_states(states)
        state_of(self.request.environ).states = encoded


@lru_cache(maxsize=64)  # the Host header is the client's: bounded
def _host_url(scheme: str, host: str) -> str:
    return get_current_url(scheme, host)


WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
Reply = tuple[int, Any] | Response  # a bytes body is JSON already serialised
Handler = Callable[[Call], Reply]


class HandlerRegistry(dict[str, Handler]):
    """operationId -> handler; `@registry("opId")` registers one."""

    def __call__(self, operation_id: str) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self[operation_id] = handler
            return handler

        return register
