"""`pixxel-mock coverage FILE.har`, and the fixture's view of GET /__mock/coverage.

A recording keeps bodies, from which the report reads the job, task and download
states the client saw; the journal keeps those states (and the fault) with each
entry, so both reports list the same things.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pixxel_mock.server.checking.exchange import ExchangeChecker
from pixxel_mock.server.handling import FAULT_HEADER
from pixxel_mock.server.model.coverage import (
    Coverage,
    Observation,
    coverage_of,
    documented_statuses,
)
from pixxel_mock.server.spec.document import ApiSpec
from pixxel_mock.server.spec.resources import API_SPEC


def recording_coverage(path: Path, spec_path: Path = API_SPEC) -> Coverage:
    """The coverage report of the traffic in a HAR file (or VCR cassette)."""
    from pixxel_mock.server.checking.traffic import load_exchanges, package_fetches

    spec = ApiSpec.load(spec_path)
    checker = ExchangeChecker(spec)
    observations = []
    exchanges = load_exchanges(path)
    fetches = package_fetches(exchanges)
    for index, exchange in enumerate(exchanges):
        if exchange.status is None:
            continue
        operation, problems = (None, []) if index in fetches else checker.check_request(exchange)
        headers = {k.lower(): v for k, v in (exchange.response_headers or {}).items()}
        observations.append(
            Observation(
                operation_id=operation.operation_id if operation else None,
                status=exchange.status,
                body=exchange.response_body,
                fault=headers.get(FAULT_HEADER.lower()),
                violations=tuple(f"{exchange.method} {exchange.url}: {p}" for p in problems),
            )
        )
    return coverage_of(documented_statuses(spec), observations)


@dataclass(frozen=True)
class CoverageReport:
    """What GET /__mock/coverage answered, with assertion helpers for tests."""

    document: dict[str, Any]

    def seen(self, operation: str | None = None) -> set[int]:
        rows = self.document["operations"]
        chosen = [rows[operation]] if operation else rows.values()
        return {status for row in chosen for status in row["seen"]}

    def called(self) -> set[str]:
        return {op for op, row in self.document["operations"].items() if row["calls"]}

    def states(self) -> set[str]:
        return {s for states in self.document["states"].values() for s in states}

    def assert_seen(
        self, statuses: Iterable[int] = (), states: Iterable[str] = (), operation: str | None = None
    ) -> None:
        """Fail unless the client received each status (on `operation`) and saw each state.

        e.g. `assert_seen(statuses=[429], states=["failed"])`: "my client has met a
        429 and a failed job" (states of jobs, tasks and downloads alike).
        """
        missing = sorted(set(statuses) - self.seen(operation))
        unseen = sorted(set(states) - self.states())
        if missing or unseen:
            where = f" from {operation}" if operation else ""
            raise AssertionError(
                f"the client never received {missing}{where} (it saw {sorted(self.seen(operation))})"
                + (f" and never saw the states {unseen}" if unseen else "")
            )

    def __str__(self) -> str:
        return json.dumps(self.document, indent=1)
