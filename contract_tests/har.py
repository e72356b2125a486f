"""`pixxel-mock proxy --record DIR`: every exchange through the proxy, as a HAR 1.2 file.

HAR so that browsers, HAR viewers, `validate-traffic` and `serve --replay` all read
the same file. Secrets never reach the disk: the Authorization and X-Mock-Token
headers, every signed-URL `signature=` value and every request-body property the contract
marks `writeOnly` (a store's `secrets`) are replaced by `REDACTED`.
Non-JSON bodies (the ZIP packages) are kept whole, base64-encoded, so a replay can
serve the very bytes the client received.
"""

from __future__ import annotations

import base64
import json
import os
import re
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from pixxel_mock.server.checking.exchange import Exchange
from pixxel_mock.server.spec.document import ApiSpec
from pixxel_mock.server.spec.resources import API_SPEC

REDACTED = "REDACTED"
SECRET_HEADERS = {"authorization", "x-mock-token", "cookie", "set-cookie"}
_SIGNATURE = re.compile(r"(signature=)[^&\"'\s]+", re.IGNORECASE)
RECORDING_NAME = "recording.har"


def redact_text(text: str) -> str:
    """The text with every signed-URL signature replaced."""
    return _SIGNATURE.sub(rf"\g<1>{REDACTED}", text)


@cache
def _write_only() -> frozenset[str]:
    return ApiSpec.load(API_SPEC).write_only_names


def redact_body(text: str) -> str:
    """A JSON body with the value of every property the contract marks `writeOnly` (a
    store's `secrets`) replaced, at any depth; other text as `redact_text` leaves it."""
    try:
        document = json.loads(text)
    except ValueError:
        return redact_text(text)
    hidden = _write_only()

    def scrub(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: REDACTED if k in hidden else scrub(v) for k, v in node.items()}
        if isinstance(node, list):
            return [scrub(v) for v in node]
        return node

    cleaned = scrub(document)
    return redact_text(text if cleaned == document else json.dumps(cleaned))


def _headers(headers: Mapping[str, str]) -> list[dict[str, str]]:
    return [
        {"name": k, "value": REDACTED if k.lower() in SECRET_HEADERS else redact_text(v)}
        for k, v in headers.items()
    ]


def _content(headers: Mapping[str, str], body: bytes) -> dict[str, Any]:
    mime = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is None or "zip" in mime or "octet-stream" in mime:
        encoded = base64.b64encode(body).decode()
        return {"size": len(body), "mimeType": mime, "text": encoded, "encoding": "base64"}
    return {"size": len(body), "mimeType": mime, "text": redact_text(text)}


def har_entry(exchange: Exchange, origin: str, started: float, millis: float) -> dict[str, Any]:
    """One HAR 1.2 entry, redacted; `origin` makes the recorded URL absolute."""
    url = redact_text(origin.rstrip("/") + exchange.url)
    query = exchange.url.partition("?")[2]
    request: dict[str, Any] = {
        "method": exchange.method,
        "url": url,
        "httpVersion": "HTTP/1.1",
        "cookies": [],
        "headers": _headers(exchange.request_headers),
        "queryString": [
            {"name": n, "value": v}
            for n, _, v in (p.partition("=") for p in redact_text(query).split("&") if p)
        ],
        "headersSize": -1,
        "bodySize": len(exchange.request_body),
    }
    if exchange.request_body:
        request["postData"] = {
            "mimeType": next(
                (v for k, v in exchange.request_headers.items() if k.lower() == "content-type"),
                "",
            ),
            "text": redact_body(exchange.request_body.decode("utf-8", "replace")),
        }
    response_headers = exchange.response_headers or {}
    return {
        "startedDateTime": datetime.fromtimestamp(started, UTC).isoformat(),
        "time": round(millis, 3),
        "request": request,
        "response": {
            "status": exchange.status or 0,
            "statusText": "",
            "httpVersion": "HTTP/1.1",
            "cookies": [],
            "headers": _headers(response_headers),
            "content": _content(response_headers, exchange.response_body),
            "redirectURL": "",
            "headersSize": -1,
            "bodySize": len(exchange.response_body),
        },
        "cache": {},
        "timings": {"send": 0, "wait": round(millis, 3), "receive": 0},
    }


class HarRecorder:
    """Appends entries and rewrites DIR/recording.har atomically after each one.

    The file is complete after every exchange, so a proxy stopped with Ctrl-C (or
    killed) leaves a readable recording.
    """

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / RECORDING_NAME
        self._entries: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def add(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self._entries.append(entry)
            document = {
                "log": {
                    "version": "1.2",
                    "creator": {"name": "pixxel-mock proxy", "version": "1"},
                    "entries": self._entries,
                }
            }
            temporary = self.path.with_suffix(".har.tmp")
            temporary.write_text(json.dumps(document, indent=1), encoding="utf-8")
            os.replace(temporary, self.path)
