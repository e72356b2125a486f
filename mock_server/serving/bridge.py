"""A WSGI app on gunicorn's asyncio worker, called inline on the event loop.

gunicorn's threaded worker costs ~350 µs a request (its Python parser, and a hand-off of
every keep-alive connection between its poller and its pool, each taking the GIL back);
its asyncio worker costs ~120 µs. The mock's own work is CPU-bound and two workers already
use both cores, so a request runs to its end on the loop's thread: no hand-off, and no
threads of one worker queueing for the GIL and the write lock (createJob's extra context
switches, README Performance); only a job insert pauses it, in a greenlet, until the
group commit that ends the loop's turn (groupcommit.py). A request that may wait on
purpose (a `Prefer` header, a fault rule with a delay) runs on the worker's thread pool
instead, so that its wait holds up no other connection.
"""

from __future__ import annotations

import asyncio
import inspect
import io
import sys
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from http import HTTPStatus
from types import ModuleType
from typing import Any
from urllib.parse import unquote_to_bytes

import gunicorn
from gunicorn.asgi.protocol import ASGIProtocol
from gunicorn.workers import gasgi

from pixxel_mock.server.handling import DROP_KEY, WsgiApp
from pixxel_mock.server.serving.groupcommit import LoopRequests
from pixxel_mock.server.serving.refusals import error_bytes

Answer = tuple[int, list[tuple[bytes, bytes]], Iterable[bytes]]


def never_waits(environ: dict[str, Any]) -> bool:
    return False


def always_waits(environ: dict[str, Any]) -> bool:
    """An app whose every request waits on another server (the proxy on its upstream)."""
    return True


class InlineBridge:
    """The ASGI app gunicorn's worker runs; `may_wait(environ)` picks the thread pool."""

    def __init__(
        self,
        app: WsgiApp,
        may_wait: Callable[[dict[str, Any]], bool],
        threads: int,
        max_body_bytes: int,
    ) -> None:
        self.app = app
        self._may_wait = may_wait
        # threads start on first use, in the worker: the pool crosses gunicorn's fork unused
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="waiting-request")
        self._max_body_bytes = max_body_bytes
        self._on_loop = LoopRequests()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        environ = wsgi_environ(scope, await self._body(receive))
        if self._may_wait(environ):
            loop = asyncio.get_running_loop()
            status, headers, chunks = await loop.run_in_executor(self._pool, self._call, environ)
        else:
            status, headers, chunks = await self._on_loop.run(self._call, environ)
        try:  # after a drop, what is sent goes nowhere
            await send({"type": "http.response.start", "status": status, "headers": headers})
            last = b""  # held back one chunk: the last goes with the end (one send less)
            for chunk in chunks:
                if chunk:
                    if last:
                        await send({"type": "http.response.body", "body": last, "more_body": True})
                    last = chunk
            await send({"type": "http.response.body", "body": last})
        except OSError:  # the client is gone
            pass
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()

    async def _body(self, receive: Any) -> bytes:
        """The whole body, or its first max+1 bytes: the app refuses what is past its limit,
        and gunicorn closes a connection whose body was not read to its end."""
        parts, size = [], 0
        while size <= self._max_body_bytes:
            message = await receive()
            if message["type"] != "http.request":
                break
            parts.append(message.get("body", b""))
            size += len(parts[-1])
            if not message.get("more_body"):
                break
        return b"".join(parts)

    def _call(self, environ: dict[str, Any]) -> Answer:
        started: list[Any] = []

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Any:
            started[:] = [status, headers]
            return _no_write

        chunks = self.app(environ, start_response)
        status, headers = started  # the mock's apps start their answer before returning it
        encoded = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in headers]
        return int(status[:3]), encoded, chunks


def _no_write(data: bytes) -> None:
    raise RuntimeError("the mock's WSGI apps return their body; write() is not supported")


def wsgi_environ(scope: dict[str, Any], body: bytes) -> dict[str, Any]:
    """PEP 3333's environ from an ASGI scope, as gunicorn's WSGI workers build it."""
    raw_path = scope.get("raw_path") or scope["path"].encode()
    server, client = scope.get("server") or ("", 0), scope.get("client") or ("", 0)
    environ: dict[str, Any] = {
        "REQUEST_METHOD": scope["method"],
        "SCRIPT_NAME": "",
        "PATH_INFO": unquote_to_bytes(raw_path.split(b"?", 1)[0]).decode("latin-1"),
        "QUERY_STRING": scope["query_string"].decode("latin-1"),
        "SERVER_NAME": str(server[0]),
        "SERVER_PORT": str(server[1]),
        "SERVER_PROTOCOL": f"HTTP/{scope['http_version']}",
        "REMOTE_ADDR": str(client[0]),
        "REMOTE_PORT": str(client[1]),
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope["scheme"],
        "wsgi.input": io.BytesIO(body),
        "wsgi.input_terminated": True,
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        DROP_KEY: scope.get(DROP_KEY),
    }
    for name, value in scope["headers"]:
        key = name.decode("latin-1").upper().replace("-", "_")
        if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            key = "HTTP_" + key
        text = value.decode("latin-1")
        environ[key] = f"{environ[key]},{text}" if key in environ else text
    return environ


class MockProtocol(ASGIProtocol):  # type: ignore[misc]
    """gunicorn's connection, with two things of ours: its own refusals (a request line or
    header it cannot parse) in the error envelope, and a way for a fault to drop it."""

    def _build_http_scope(self, request: Any, sockname: Any, peername: Any) -> dict[str, Any]:
        scope: dict[str, Any] = super()._build_http_scope(request, sockname, peername)
        scope[DROP_KEY] = self._drop
        return scope

    def connection_made(self, transport: Any) -> None:
        self._loop = asyncio.get_running_loop()
        super().connection_made(transport)

    def _drop(self) -> None:
        """Close at once, sending nothing more. From a pool thread, the abort is queued on
        the loop ahead of the request's completion, so it still comes before any answer."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            self._loop.call_soon_threadsafe(self.transport.abort)
        else:
            self.transport.abort()

    def _send_error_response(self, status: int, message: str, extra_headers: Any = ()) -> None:
        if self.transport is None or self.transport.is_closing():
            return  # dropped by a fault, or gone
        self._safe_write(error_bytes(status, HTTPStatus(status).phrase, message))


# What MockProtocol overrides (it must take the same parameters) or calls, in gunicorn's
# private API: verified on the gunicorn versions pyproject.toml allows.
_OVERRIDDEN = ("connection_made", "_build_http_scope", "_send_error_response")
_CALLED = ("_safe_write",)


class GunicornMismatch(RuntimeError):
    """The installed gunicorn lacks a hook of MockProtocol's."""


def check_gunicorn_hooks(base: type = ASGIProtocol, worker: ModuleType = gasgi) -> None:
    """Raise, naming each hook, where `base` or `worker` lack one: the server would
    otherwise start, and answer gunicorn's own refusals in HTML or drop no connection."""
    broken = [f"{base.__name__}.{name} (missing)" for name in _CALLED if not _has(base, name)]
    for name in _OVERRIDDEN:
        ours = _parameters(MockProtocol.__dict__[name])
        if not _has(base, name):
            broken.append(f"{base.__name__}.{name} (missing)")
        elif _parameters(getattr(base, name)) != ours:
            theirs = ", ".join(_parameters(getattr(base, name)))
            broken.append(f"{base.__name__}.{name} (takes ({theirs}), not ({', '.join(ours)}))")
    if not isinstance(getattr(worker, "ASGIProtocol", None), type):
        broken.append(f"{worker.__name__}.ASGIProtocol (the class of each worker's connections)")
    if broken:
        raise GunicornMismatch(
            f"gunicorn {gunicorn.__version__} does not have the hooks pixxel-mock's server"
            f" relies on: {'; '.join(broken)}. Install the gunicorn that pixxel-mock's"
            " dependencies name (pyproject.toml)."
        )


def _has(base: type, name: str) -> bool:
    return callable(getattr(base, name, None))


def _parameters(function: Callable[..., Any]) -> tuple[str, ...]:
    return tuple(inspect.signature(function).parameters)
