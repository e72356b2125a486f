"""The Pixxel API's operations served straight from WSGI, without Flask's per-request machinery.

Flask's request and app contexts, its routing over every rule of both specs and its
response processing cost about as much CPU as the mock's own work on a job read (see
README, Performance). A request whose method and path name an API operation exactly is
served here by the same `serve` function that Flask's view calls, with the same error
envelope and the same journal entry. Anything else (the control plane, the pages, HEAD,
OPTIONS, 404, 405, paths that are not ASCII) goes on to Flask, which answers it as before.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from flask import Request, Response

from pixxel_mock.server.app.instance import MockInstance
from pixxel_mock.server.handling import WsgiApp
from pixxel_mock.server.http.pipeline import BoundOperation, Serve, error_answer, finish_exchange


class DirectRoutes:
    """WSGI middleware in front of Flask's own `wsgi_app` (its fallback)."""

    def __init__(
        self, bound: list[BoundOperation], instance: MockInstance, fallback: WsgiApp
    ) -> None:
        self._runtime = instance
        self.fallback = fallback
        # by method and number of segments (a parameter is one segment), so a request
        # tries only the few patterns that could match; fewer parameters first:
        # /v0/blocks/workflows wins over /v0/blocks/{name}
        self._routes: dict[tuple[str, int], list[tuple[re.Pattern[str], Serve]]] = {}
        for entry in sorted(bound, key=lambda b: b.operation.path.count("{")):
            operation = entry.operation
            self._routes.setdefault((operation.method, operation.path.count("/")), []).append(
                (operation.path_pattern(), entry.serve)
            )

        class LimitedRequest(Request):
            """Flask's request, with the body limit Flask reads from its app context."""

            max_content_length = instance.config.max_body_bytes  # type: ignore[assignment]

        self._request_class = LimitedRequest

    def route(self, method: str, path: str) -> tuple[Serve, dict[str, str]] | None:
        """The operation's serve function and path values; None leaves it to Flask."""
        for pattern, serve in self._routes.get((method, path.count("/")), ()):
            match = pattern.fullmatch(path)
            if match is not None:
                return (serve, match.groupdict()) if path.isascii() else None
        return None

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        found = self.route(environ.get("REQUEST_METHOD", ""), environ.get("PATH_INFO", ""))
        if found is None:
            return self.fallback(environ, start_response)
        serve, path_values = found
        request = self._request_class(environ)
        try:
            response = serve(request, path_values)
        except Exception as error:  # every error leaves in the envelope
            response = error_answer(error, request)
        response = finish_exchange(self._runtime, request, response)
        return send_answer(response, environ, start_response)


def send_answer(
    response: Response, environ: dict[str, Any], start_response: Callable[..., Any]
) -> Iterable[bytes]:
    """A buffered answer as werkzeug would send it, without werkzeug's copy of its headers
    and its per-response checks, which cost a GET job a sixth of its CPU; any answer those
    checks could change (no Content-Length, a Location, a status without a body, a stream)
    goes through werkzeug."""
    headers = response.headers.to_wsgi_list()
    names = {name.lower() for name, _ in headers}
    status = response.status_code
    if (
        not response.is_sequence
        or status < 200
        or status in (204, 304)
        or "content-length" not in names
        or not names.isdisjoint(("location", "content-location"))
    ):
        return response(environ, start_response)
    start_response(response.status, headers)
    return response.response  # type: ignore[return-value]
