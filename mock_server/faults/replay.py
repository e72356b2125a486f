"""`serve --replay FILE.har`: answer as the real service did, from a recording.

Loading checks every recorded exchange against the spec and reports what
contradicts it (the recording still loads: it is what really happened). At request
time, a recorded request gets its next recorded answer; anything else goes to the
simulated model, or is a 404 `not_recorded` in strict mode.
"""

from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import urlsplit

from flask import Request, Response

from ..model.replay import RecordedAnswer, RecordedRequest, Recording, request_key
from ..model.store import Store
from ..spec import ApiSpec
from ..wire.errors import ApiError
from ..wire.exchange import ExchangeChecker

log = logging.getLogger(__name__)
DROPPED_HEADERS = {
    "connection",
    "keep-alive",
    "transfer-encoding",
    "content-length",
    "content-encoding",
    "date",
    "server",
}


def load_recording(path: Path, spec: ApiSpec) -> tuple[Recording, list[str]]:
    """The recording in a HAR (or VCR) file, and its contradictions of the spec."""
    from contract_tests.traffic import load_exchanges

    checker = ExchangeChecker(spec)
    pairs, violations = [], []
    for index, exchange in enumerate(load_exchanges(path), start=1):
        violations += [
            f"#{index} {exchange.method} {exchange.url}: {p}" for p in checker.check(exchange)
        ]
        if exchange.status is None:
            continue
        parts = urlsplit(exchange.url)
        request = RecordedRequest(exchange.method, parts.path, parts.query, exchange.request_body)
        headers = tuple(
            (k, v)
            for k, v in (exchange.response_headers or {}).items()
            if k.lower() not in DROPPED_HEADERS
        )
        pairs.append((request, RecordedAnswer(exchange.status, headers, exchange.response_body)))
    return Recording.of(pairs), violations


def replayed_response(
    recording: Recording, strict: bool, store: Store, namespace: str, request: Request
) -> Response | None:
    """The next recorded answer to this request; None to let the simulated model answer."""
    key = request_key(
        RecordedRequest(
            request.method,
            request.path,
            request.query_string.decode("latin-1"),
            request.get_data(cache=True),
        )
    )
    if key not in recording.answers:
        if strict:
            raise ApiError(
                404,
                "not_recorded",
                f"{request.method} {request.full_path.rstrip('?')} is not in the recording "
                "(strict replay).",
            )
        return None
    served = store.count_match(namespace, f"replay:{key}") - 1
    answer = recording.answer(key, served)
    assert answer is not None
    return Response(answer.body, status=answer.status, headers=list(answer.headers))


def report_violations(path: Path, violations: list[str]) -> None:
    for violation in violations:
        log.warning("replay %s contradicts the spec: %s", path, violation)
