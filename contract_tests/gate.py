"""A door to the mock for one explored example: it forwards a client's requests until it is
closed, then drops them, so that a client still running past its time never reaches the
example after it (explore cannot stop the client's thread; it can shut its door).

The client is given the door's URL; the Host header goes through unchanged, so the signed
URLs the mock writes point at the door too. A connection the mock drops (a `drop` fault)
or cuts short (`truncate_bytes`) is dropped or cut short on the client's side alike.
"""

from __future__ import annotations

import http.client
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

# Headers about one connection, not the request: each side of the door has its own.
HOP_BY_HOP = frozenset(
    (
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    )
)


@dataclass(frozen=True)
class Answer:
    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes
    whole: bool  # False: the mock closed the connection before the body's end


class Gate:
    """Listens on an ephemeral port of 127.0.0.1 and forwards to `target` until closed."""

    def __init__(self, target: str, timeout: float) -> None:
        """`timeout`: how long one forwarded request may take (the mock may delay on purpose)."""
        parts = urlsplit(target)
        self._host, self._port, self._timeout = parts.hostname or "127.0.0.1", parts.port, timeout
        self._open, self._in_flight = True, 0
        self._idle = threading.Condition()
        handler = type("Door", (_Door,), {"gate": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True  # a connection the client keeps open ends with it
        self._serving = threading.Thread(target=self._serve, name="explore-gate", daemon=True)
        self._serving.start()
        self.url = f"http://127.0.0.1:{self._server.server_port}"

    def close(self) -> None:
        """Refuse every later request; return once those already let through are answered."""
        with self._idle:
            self._open = False
            self._idle.wait_for(lambda: self._in_flight == 0)
        socket.create_connection(self._server.server_address[:2]).close()  # wakes _serve
        self._serving.join()

    def _serve(self) -> None:
        """Accept until closed (serve_forever would look only every poll interval)."""
        with self._server:
            while self._open:
                self._server.handle_request()

    def __enter__(self) -> Gate:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _admitted(self) -> Iterator[bool]:
        """Whether the door is open; a request let through keeps close() waiting."""
        with self._idle:
            admitted = self._open
            self._in_flight += admitted
        try:
            yield admitted
        finally:
            if admitted:
                with self._idle:
                    self._in_flight -= 1
                    self._idle.notify_all()

    def forward(
        self, method: str, path: str, headers: dict[str, str], body: bytes | None
    ) -> Answer | None:
        """The mock's answer; None when the door is closed or the mock dropped the connection."""
        with self._admitted() as admitted:
            if not admitted:
                return None
            connection = http.client.HTTPConnection(self._host, self._port, timeout=self._timeout)
            try:
                connection.request(method, path, body, headers)
                response = connection.getresponse()
                try:
                    content, whole = response.read(), True
                except http.client.IncompleteRead as cut:
                    content, whole = cut.partial, False
                return Answer(
                    response.status, response.reason, response.getheaders(), content, whole
                )
            except (OSError, http.client.HTTPException):
                return None
            finally:
                connection.close()


class _Door(BaseHTTPRequestHandler):
    """One client connection; each request on it is forwarded while the gate is open."""

    protocol_version = "HTTP/1.1"  # keep-alive, as the client would have with the mock
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms stall
    gate: Gate

    def _pass(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        answer = self.gate.forward(self.command, self.path, headers, body)
        if answer is None:
            self.close_connection = True  # no answer at all, as from a dropped connection
            return
        self.send_response_only(answer.status, answer.reason)
        kept = [(k, v) for k, v in answer.headers if k.lower() not in HOP_BY_HOP]
        for name, value in kept:
            self.send_header(name, value)
        if not any(name.lower() == "content-length" for name, _ in kept):  # it was chunked
            self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        self.wfile.write(answer.body)
        self.close_connection = not answer.whole

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _pass

    def log_message(self, format: str, *args: object) -> None:
        """Silent: the mock's journal records every request."""
