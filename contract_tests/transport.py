"""One way to send requests to a target, in-process (WSGI) or over HTTP, for the harness's own checks."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from typing import Any, Protocol

import requests
from werkzeug.test import Client


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Transport(Protocol):
    def request(
        self,
        method: str,
        path: str,
        headers: dict[str, str] | None = None,
        body: Any = None,
    ) -> Reply: ...


class WsgiTransport:
    """Calls a WSGI app directly: no network, as schemathesis' WSGI mode does."""

    def __init__(self, app: Any) -> None:
        self.client = Client(app)

    def request(self, method: str, path: str, headers=None, body=None) -> Reply:
        url = path.split("://", 1)[-1]
        url = url[url.index("/") :] if "://" in path else path
        response = self.client.open(
            url,
            method=method,
            headers=headers or {},
            json=body,
            environ_base={"REMOTE_ADDR": "127.0.0.1"},  # a loopback caller, as over HTTP here
        )
        return Reply(response.status_code, dict(response.headers), response.get_data())


class HttpTransport:
    """Real HTTP with a simple request-rate limit (requests per second)."""

    def __init__(self, base_url: str, per_second: float | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()
        self.interval = 1.0 / per_second if per_second else 0.0
        self._next = 0.0
        self._lock = threading.Lock()

    def request(self, method: str, path: str, headers=None, body=None) -> Reply:
        if self.interval:
            with self._lock:
                wait = self._next - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                self._next = max(self._next, time.monotonic()) + self.interval
        url = path if "://" in path else self.base_url + path
        response = self.session.request(method, url, headers=headers, json=body, timeout=30)
        return Reply(response.status_code, dict(response.headers), response.content)


def per_second(rate: str | None) -> float | None:
    """'10/s' -> 10.0, '120/m' -> 2.0; None stays None."""
    if not rate:
        return None
    count, _, unit = rate.partition("/")
    seconds = {"s": 1, "m": 60, "h": 3600}[unit or "s"]
    return float(count) / seconds
