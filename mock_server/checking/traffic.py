"""Recorded traffic as exchanges: HAR 1.2 logs and VCR cassettes.

Shared by `validate-traffic`, `coverage` and replay, so every reader of a
recording sees the same exchanges (bodies decoded, base64 included, and the time
each exchange started, which replay on the recorded timing needs).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Iterator
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

from pixxel_mock.server.checking.exchange import Exchange, ExchangeChecker
from pixxel_mock.server.model.replay import signed_urls
from pixxel_mock.server.model.timefmt import parse_rfc3339
from pixxel_mock.server.spec.yamlio import read_yaml


class TrafficFormatError(ValueError):
    """The file is neither a HAR 1.2 log nor a VCR cassette."""


def load_exchanges(path: Path) -> list[Exchange]:
    text = Path(path).read_text(encoding="utf-8")
    try:
        document = json.loads(text)
    except ValueError:
        document = read_yaml(path)
    return exchanges_of(document, str(path))


def exchanges_of(document: Any, source: str) -> list[Exchange]:
    """The exchanges of a parsed HAR or VCR document; `source` names it in errors."""
    try:
        if isinstance(document, dict) and "log" in document:
            return list(_from_har(document["log"]))
        if isinstance(document, dict) and "http_interactions" in document:
            return list(_from_vcr(document["http_interactions"]))
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise TrafficFormatError(f"{source}: a malformed exchange ({exc!r})") from exc
    raise TrafficFormatError(f"{source}: expected a HAR 1.2 file (log.entries) or a VCR cassette")


def package_fetches(exchanges: Iterable[Exchange]) -> set[int]:
    """Indices (0-based) of the GETs of a signed URL handed out earlier in the traffic:
    package downloads, outside the API contract."""
    handed_out: set[str] = set()
    fetches = set()
    for index, exchange in enumerate(exchanges):
        if exchange.method == "GET" and exchange.url in handed_out:
            fetches.add(index)
        handed_out.update(url for _, url in signed_urls(exchange.response_body))
    return fetches


def contract_problems(
    exchanges: list[Exchange], checker: ExchangeChecker
) -> Iterator[tuple[int, Exchange, str]]:
    """(1-based index, exchange, problem) for each way the API traffic breaks the contract."""
    skipped = package_fetches(exchanges)
    for index, exchange in enumerate(exchanges):
        if index not in skipped:
            for problem in checker.check(exchange):
                yield index + 1, exchange, problem


def _started(text: Any) -> float | None:
    try:
        return parse_rfc3339(str(text)) if text else None
    except ValueError:
        return None


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
            started=_started(entry.get("startedDateTime")),
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
            started=_vcr_time(interaction.get("recorded_at")),
        )


def _vcr_time(text: Any) -> float | None:
    """VCR's `recorded_at` is an RFC 2822 date (`Tue, 01 Nov 2011 04:58:44 GMT`)."""
    try:
        return parsedate_to_datetime(str(text)).timestamp() if text else None
    except (TypeError, ValueError):
        return None
