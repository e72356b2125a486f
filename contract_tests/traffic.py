"""`pixxel-mock validate-traffic FILE`: recorded traffic (HAR 1.2, VCR cassettes) vs the spec.

Each exchange is checked in both directions with the rules the mock itself applies:
the client's request (route, method, parameters, key, body) and the server's
response (documented status, content type, JSON schema).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mock_server.resources import API_SPEC
from mock_server.spec import ApiSpec
from mock_server.wire.exchange import Exchange, ExchangeChecker
from mock_server.yamlio import read_yaml


class TrafficFormatError(ValueError):
    """The file is neither a HAR 1.2 log nor a VCR cassette."""


@dataclass(frozen=True)
class Finding:
    index: int
    method: str
    url: str
    status: int | None
    problem: str

    def __str__(self) -> str:
        return f"#{self.index} {self.method} {self.url} -> {self.status}: {self.problem}"


def load_exchanges(path: Path) -> list[Exchange]:
    text = Path(path).read_text(encoding="utf-8")
    try:
        document = json.loads(text)
    except ValueError:
        document = read_yaml(path)
    if isinstance(document, dict) and "log" in document:
        return list(_from_har(document["log"]))
    if isinstance(document, dict) and "http_interactions" in document:
        return list(_from_vcr(document["http_interactions"]))
    raise TrafficFormatError(f"{path}: expected a HAR 1.2 file (log.entries) or a VCR cassette")


def _from_har(log: dict[str, Any]) -> Iterator[Exchange]:
    for entry in log.get("entries", []):
        request, response = entry["request"], entry.get("response") or {}
        content = response.get("content") or {}
        body = content.get("text", "") or ""
        raw = base64.b64decode(body) if content.get("encoding") == "base64" else body.encode()
        status = response.get("status")
        yield Exchange(
            method=request["method"],
            url=request["url"],
            request_headers={h["name"]: h["value"] for h in request.get("headers", [])},
            request_body=((request.get("postData") or {}).get("text") or "").encode(),
            status=status if status and status > 0 else None,
            response_headers={h["name"]: h["value"] for h in response.get("headers", [])},
            response_body=raw,
        )


def _vcr_body(body: dict[str, Any] | None) -> bytes:
    body = body or {}
    if "base64_string" in body:
        return base64.b64decode(body["base64_string"])
    return str(body.get("string", "")).encode()


def _vcr_headers(headers: dict[str, Any] | None) -> dict[str, str]:
    return {k: v[0] if isinstance(v, list) else str(v) for k, v in (headers or {}).items()}


def _from_vcr(interactions: list[dict[str, Any]]) -> Iterator[Exchange]:
    for interaction in interactions:
        request, response = interaction["request"], interaction.get("response") or {}
        status = (response.get("status") or {}).get("code")
        yield Exchange(
            method=request["method"],
            url=request["uri"],
            request_headers=_vcr_headers(request.get("headers")),
            request_body=_vcr_body(request.get("body")),
            status=int(status) if status is not None else None,
            response_headers=_vcr_headers(response.get("headers")),
            response_body=_vcr_body(response.get("body")),
        )


def validate_traffic(path: Path, spec_path: Path = API_SPEC) -> tuple[int, list[Finding]]:
    """(exchanges checked, findings)."""
    checker = ExchangeChecker(ApiSpec.load(spec_path))
    exchanges = load_exchanges(path)
    findings = [
        Finding(index, e.method, e.url, e.status, problem)
        for index, e in enumerate(exchanges, start=1)
        for problem in checker.check(e)
    ]
    return len(exchanges), findings
