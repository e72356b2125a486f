"""The limit: a bare Flask app answering recorded bodies, with no validation, state or journal.

`BENCH_BARE_BODIES` names a JSON file {"METHOD /path": {"status": N, "body": "..."}}
recorded from the mock, so both answer byte-identical JSON.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from flask import Flask, Response, request


def create_bare_app() -> Flask:
    recorded = json.loads(Path(os.environ["BENCH_BARE_BODIES"]).read_text())
    answers = {key: (value["status"], value["body"].encode()) for key, value in recorded.items()}
    app = Flask(__name__)

    @app.route("/<path:path>", methods=["GET", "POST", "PUT"])
    def answer(path: str) -> Response:
        target = request.full_path.rstrip("?")
        status, body = answers.get(f"{request.method} {target}", (404, b"{}"))
        return Response(body, status=status, mimetype="application/json")

    return app
