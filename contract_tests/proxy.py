"""`pixxel-mock proxy --upstream URL`: forward everything, check everything, change nothing.

Each request goes to the upstream (the real API) byte for byte; each answer comes
back byte for byte. Both are checked against the contract; the violations go to the
proxy's journal (`GET /__mock/requests`) and to one added response header,
`X-Pixxel-Contract-Violations`. An unreachable upstream answers 502 in the error envelope.
"""

from __future__ import annotations

import gzip
import time
import zlib
from pathlib import Path
from typing import Any

import requests
from flask import Flask, Response, request

from pixxel_mock.contract.har import RECORDING_NAME, HarRecorder, har_entry
from pixxel_mock.server.checking.exchange import Exchange, ExchangeChecker
from pixxel_mock.server.handling import ApiError, error_response, json_response
from pixxel_mock.server.spec.document import ApiSpec
from pixxel_mock.server.spec.resources import API_SPEC
from pixxel_mock.server.state.clock import Clock
from pixxel_mock.server.state.journal import JournalEntry
from pixxel_mock.server.state.store import Store

VIOLATIONS_HEADER = "X-Pixxel-Contract-Violations"
HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailers",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
}
METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]
JOURNAL_NAMESPACE = "proxy"
MAX_BODY_BYTES = 64 << 20  # a request body is held whole, to be forwarded and checked


def create_proxy_app(
    upstream: str,
    journal_file: Path,
    timeout: float = 60.0,
    record_dir: Path | None = None,
    max_body_bytes: int = MAX_BODY_BYTES,
) -> Flask:
    """`record_dir`: also write every exchange to record_dir/recording.har (redacted)."""
    upstream = upstream.rstrip("/")
    recorder = HarRecorder(record_dir) if record_dir is not None else None
    checker = ExchangeChecker(ApiSpec.load(API_SPEC))
    journal = Store(journal_file, Clock("wall", 1.0, time.time(), time.time())).journal
    session = requests.Session()
    app = Flask(__name__)
    app.url_map.merge_slashes = False

    @app.get("/__mock/requests")
    def read_journal() -> Response:
        limit = request.args.get("limit", "100")
        count = int(limit) if limit.isdigit() else 100
        return json_response(200, {"requests": journal.entries(JOURNAL_NAMESPACE, max(count, 1))})

    @app.route("/", defaults={"path": ""}, methods=METHODS)
    @app.route("/<path:path>", methods=METHODS)
    def forward(path: str) -> Response:
        started_at = time.time()
        started = time.perf_counter()
        body = request.get_data()
        if len(body) > max_body_bytes:  # the server reads one byte past it: never forward a part
            return error_response(
                ApiError(
                    413, "payload_too_large", f"The proxy forwards at most {max_body_bytes} bytes."
                )
            )
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        url = (
            upstream + request.full_path.rstrip("?")
            if request.query_string
            else upstream + request.path
        )
        try:
            answer = session.request(
                request.method,
                url,
                headers=headers,
                data=body,
                stream=True,
                timeout=timeout,
                allow_redirects=False,
            )
            raw = answer.raw.read(decode_content=False)
        except requests.RequestException as exc:
            return error_response(
                ApiError(
                    502, "upstream_unreachable", f"The upstream {upstream} did not answer: {exc}"
                )
            )
        exchange = Exchange(
            method=request.method,
            url=request.full_path if request.query_string else request.path,
            request_headers=dict(request.headers),
            request_body=body,
            status=answer.status_code,
            response_headers=dict(answer.headers),
            response_body=_decoded(raw, answer.headers.get("Content-Encoding", "")),
        )
        operation, problems = checker.check_request(exchange)
        if operation is not None:
            problems += checker.check_response(operation, exchange)
        response_headers = [
            (k, v) for k, v in answer.headers.items() if k.lower() not in HOP_BY_HOP
        ]
        if problems:
            response_headers.append((VIOLATIONS_HEADER, _header_text(problems)))
        journal.append(
            JournalEntry(
                namespace=JOURNAL_NAMESPACE,
                method=request.method,
                path=request.path,
                query=request.query_string.decode("latin-1"),
                operation_id=operation.operation_id if operation else None,
                status=answer.status_code,
                duration_ms=round((time.perf_counter() - started) * 1000, 3),
                violations=problems,
            )
        )
        if recorder is not None:
            millis = (time.perf_counter() - started) * 1000
            recorder.add(har_entry(exchange, upstream, started_at, millis))
        return Response(raw, status=answer.status_code, headers=response_headers)

    return app


def _decoded(raw: bytes, encoding: str) -> bytes:
    """The body as the client will read it, for checking only."""
    try:
        if encoding == "gzip":
            return gzip.decompress(raw)
        if encoding == "deflate":
            return zlib.decompress(raw)
    except (OSError, zlib.error):
        return raw
    return raw


def _header_text(problems: list[str]) -> str:
    first = problems[0].encode("latin-1", "replace").decode("latin-1").replace("\n", " ")
    return f"{len(problems)}; {first[:300]}"


def serve_proxy(
    upstream: str, host: str, port: int, threads: int, record_dir: Path | None = None
) -> None:
    """Until interrupted, on the mock's server: each request waits on the upstream in one
    of `threads` threads, never on the event loop."""
    import shutil
    import tempfile

    from pixxel_mock.server.serving.bridge import InlineBridge, always_waits
    from pixxel_mock.server.serving.gunicorn import run_gunicorn

    temp_dir = Path(tempfile.mkdtemp(prefix="pixxel-proxy-"))
    journal_file = temp_dir / "journal.sqlite"
    Store(journal_file, Clock("wall", 1.0, time.time(), time.time())).close()
    try:
        run_gunicorn(
            lambda: InlineBridge(
                create_proxy_app(upstream, journal_file, record_dir=record_dir),
                always_waits,
                threads,
                MAX_BODY_BYTES,
            ),
            f"{host}:{port}",
            1,
            lambda url: (
                f"pixxel-mock proxy listening on {url}\n  upstream: {upstream}\n"
                f"  violations: {url}/__mock/requests and the {VIOLATIONS_HEADER} header"
                + (f"\n  recording: {record_dir / RECORDING_NAME}" if record_dir else "")
            ),
        )
    finally:
        shutil.rmtree(temp_dir, ignore_errors=True)


def run(args: Any) -> int:
    serve_proxy(args.upstream, args.host, args.port, args.threads, args.record)
    return 0
