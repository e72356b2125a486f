"""Replay: answer as the real service did, from a recording (HAR 1.2 or VCR).

A recording is loaded from a file (`serve --replay`, a scenario file's `replay:`)
or a request body (`POST /__mock/replay`), checked against the spec (what
contradicts it is reported, and still loaded: it is what really happened), kept in
the state file under its content id, and named by the namespace's scenario. At
request time a recorded request gets its next recorded answer; anything else goes
to the simulated model, or is a 404 `not_recorded` in strict mode. Signed URLs in
replayed answers point at this server, which serves the recorded package (or, when
the client never fetched it while recording, a ZIP of the recorded download).
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

from flask import Request, Response

from pixxel_mock.server.checking.exchange import Exchange, ExchangeChecker
from pixxel_mock.server.checking.traffic import contract_problems, exchanges_of
from pixxel_mock.server.handling import ApiError
from pixxel_mock.server.model.replay import RecordedRequest, Recording, ReplaySettings, request_key
from pixxel_mock.server.model.sessions import Session
from pixxel_mock.server.spec.document import ApiSpec
from pixxel_mock.server.spec.yamlio import read_yaml
from pixxel_mock.server.state.store import Store

DROPPED_HEADERS = {
    "connection",
    "keep-alive",
    "transfer-encoding",
    "content-length",
    "content-encoding",
    "date",
    "server",
}
ZIP_TIME = (2020, 1, 1, 0, 0, 0)  # fixed: the same recording gives the same bytes


def read_recording(path: Path) -> str:
    """A recording file as JSON text (a YAML VCR cassette is converted)."""
    text = Path(path).read_text(encoding="utf-8")
    try:
        json.loads(text)
    except ValueError:
        return json.dumps(read_yaml(path))
    return text


def parse_recording(text: str, source: str) -> Recording:
    """The recording in a HAR/VCR text; a ValueError names `source` if it is none."""
    return Recording.of(_recorded(exchanges_of(json.loads(text), source)))


def spec_violations(text: str, source: str, spec: ApiSpec) -> list[str]:
    """Where a recording contradicts the spec (it still loads: it is what happened)."""
    exchanges = exchanges_of(json.loads(text), source)
    return [
        f"#{index} {e.method} {e.url}: {problem}"
        for index, e, problem in contract_problems(exchanges, ExchangeChecker(spec))
    ]


def _recorded(
    exchanges: list[Exchange],
) -> Iterator[tuple[RecordedRequest, int, dict, bytes, float]]:
    times = [e.started for e in exchanges if e.started is not None]
    first = min(times) if times else 0.0
    for exchange in exchanges:
        if exchange.status is None:
            continue
        parts = urlsplit(exchange.url)
        request = RecordedRequest(exchange.method, parts.path, parts.query, exchange.request_body)
        headers = {
            k: v
            for k, v in (exchange.response_headers or {}).items()
            if k.lower() not in DROPPED_HEADERS
        }
        offset = exchange.started - first if exchange.started is not None else 0.0
        yield request, exchange.status, headers, exchange.response_body, offset


def replayed_response(
    recording: Recording, settings: ReplaySettings, store: Store, session: Session, request: Request
) -> Response | None:
    """The recorded answer to this request; None to let the simulated model answer."""
    key = request_key(
        RecordedRequest(
            request.method,
            request.path,
            request.query_string.decode("latin-1"),
            request.get_data(cache=True),
        )
    )
    if key not in recording.answers:
        if settings.strict:
            raise ApiError(
                404,
                "not_recorded",
                f"{request.method} {request.full_path.rstrip('?')} is not in the recording "
                "(strict replay).",
            )
        return None
    if settings.timing == "recorded":
        answer = recording.answer_at(key, session.now - settings.started)
    else:
        served = store.namespaces.count_match(session.namespace, settings.counter_prefix + key) - 1
        answer = recording.answer(key, served)
    assert answer is not None
    body = answer.body
    for url, package in answer.signed_urls:
        here = f"{request.host_url}__replay/{session.namespace}/{package}.zip"
        body = body.replace(url, here.encode())
    return Response(body, status=answer.status, headers=list(answer.headers))


def package_bytes(recording: Recording, package: str) -> bytes | None:
    """The recorded package, or a ZIP holding the recorded download when it was never fetched."""
    recorded = recording.package(package)
    if recorded is not None or package not in recording.downloads:
        return recorded
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(zipfile.ZipInfo("download.json", ZIP_TIME), recording.downloads[package])
        archive.writestr(
            zipfile.ZipInfo("README.txt", ZIP_TIME),
            "The recording does not hold this package (the client did not fetch it through\n"
            "the recording proxy); download.json is the recorded download it belongs to.\n",
        )
    return buffer.getvalue()
