"""Negative-mode fuzzing of both specs (the API and the control API), in-process.

Every operation gets schemathesis-generated requests the spec forbids; every
answer must be a 4xx (or 2xx where schemathesis' "negative" data is still valid),
never a 5xx, and the mock must log no error. `make long` (and `make fuzz`) run 400
examples per operation: over 10,000 requests; `make test` runs 10 each.
"""

from __future__ import annotations

import json
import logging
import os
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from pixxel_mock.server import create_app
from pixxel_mock.server.spec.resources import API_SPEC, CONTROL_SPEC

from .helpers import REPO, sized

EXAMPLES = int(os.environ.get("PIXXEL_FUZZ_EXAMPLES", sized(10, 400)))
MINIMUM = EXAMPLES * 28  # 41 operations; a few have little negative data to generate


class Tally:
    """WSGI middleware counting statuses; callers are loopback (the control plane's rule)."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app
        self.statuses: Counter[int] = Counter()

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        environ["REMOTE_ADDR"] = "127.0.0.1"

        def counting(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            self.statuses[int(status.split()[0])] += 1
            return start_response(status, headers, exc_info)

        return self.app(environ, counting)


def fuzz(spec: Path, tally: Tally) -> None:
    schema = schemathesis.openapi.from_path(str(spec))
    schema.app = tally
    schema.config.update(headers={"Authorization": "pxm_demo_alpha"})
    for result in schema.get_all_operations():
        operation = result.ok()

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(operation.as_strategy(GenerationMode.NEGATIVE))
        def send(case: Any) -> None:
            response = case.call()
            assert response.status_code < 500, (case.as_curl_command(), response.text[:500])

        try:
            send()
        except (hypothesis.errors.Unsatisfiable, hypothesis.errors.FailedHealthCheck):
            continue  # nothing negative to generate for this operation


def test_negative_fuzzing_of_both_specs(caplog: pytest.LogCaptureFixture) -> None:
    app = create_app({"clock_mode": "wall", "speed": 1000, "validate_responses": True})
    tally = Tally(app)
    with caplog.at_level(logging.WARNING):
        fuzz(API_SPEC, tally)
        fuzz(CONTROL_SPEC, tally)
    total = sum(tally.statuses.values())
    server_errors = sum(n for status, n in tally.statuses.items() if status >= 500)
    report = {
        "requests": total,
        "statuses": dict(sorted(tally.statuses.items())),
        "examples": EXAMPLES,
    }
    target = REPO / "reports" / "fuzz.json"
    target.parent.mkdir(exist_ok=True)
    target.write_text(json.dumps(report, indent=2))
    print(f"\nfuzz: {report}")
    assert server_errors == 0
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
    assert total >= MINIMUM, report
