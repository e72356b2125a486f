"""What a handler receives and returns, shared by the API and the control plane."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from flask import Request, Response
from werkzeug.sansio.utils import get_current_url

from .model.catalog import ApiKey
from .model.coverage import States, encoded_states
from .model.service import Session
from .runtime import Runtime
from .wire.request_state import state_of


@dataclass(frozen=True)
class Call:
    """One validated request: typed parameters, the caller's namespace and key."""

    params: dict[str, Any]
    session: Session
    key: ApiKey | None
    runtime: Runtime
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


Reply = tuple[int, Any] | Response  # a bytes body is JSON already serialised
Handler = Callable[[Call], Reply]


class HandlerRegistry(dict[str, Handler]):
    """operationId -> handler; `@registry("opId")` registers one."""

    def __call__(self, operation_id: str) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self[operation_id] = handler
            return handler

        return register
