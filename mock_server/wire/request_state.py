"""What the binding layer remembers about the request being served (one attribute
lookup on the request's environ, instead of a context-local proxy per field)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..spec import Operation

ENVIRON_KEY = "pixxel_mock.exchange"
DROP_KEY = "pixxel_mock.drop"  # set by the server: closes the connection with no answer
DEFAULT_NAMESPACE = "default"


@dataclass
class ExchangeState:
    started: float = field(default_factory=time.perf_counter)  # from the view (or error) on
    operation: Operation | None = None
    namespace: str = DEFAULT_NAMESPACE
    violations: list[str] = field(default_factory=list)
    truncate: tuple[int, str] | None = None  # (bytes kept, fault rule id)
    states: str | None = None  # the job/task/download states it shows (encoded_states)
    fault: str | None = None  # its X-Mock-Fault header, noted where a fault sets it


def state_of(environ: dict[str, Any]) -> ExchangeState:
    """The request's state, made on first use (error handlers may run before the view)."""
    state = environ.get(ENVIRON_KEY)
    if state is None:
        state = environ[ENVIRON_KEY] = ExchangeState()
    return state
