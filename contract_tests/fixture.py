"""`pixxel_mock`: a real mock server for testing your own client, pytest-httpserver style."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import requests

from pixxel_mock.contract.keys import named_keys
from pixxel_mock.contract.live import LiveMock
from pixxel_mock.server.model.catalog import load_catalog
from pixxel_mock.server.spec.resources import FIXTURES_DIR

if TYPE_CHECKING:
    from pixxel_mock.contract.coverage import CoverageReport
    from pixxel_mock.contract.plugin import MockSettings

# Test mode (a response that breaks the spec is a 500); threads for the requests that wait on purpose.
SERVING = ["--workers", "1", "--threads", "8", "--validate-responses"]


class PixxelMock:
    """A running mock: its base URL, the keys of its fixtures, clock control and the journal."""

    def __init__(self, live: LiveMock, fixtures: Path) -> None:
        self.live = live
        self.url = live.url
        self.fixtures = fixtures  # the folder the server reads its keys, projects, ... from
        self.keys = named_keys(load_catalog(fixtures))  # e.g. keys["alpha"]
        self._http = requests.Session()

    @classmethod
    def start(cls, settings: MockSettings) -> PixxelMock:
        """Serve the mock as `settings` say, in a subprocess (see pixxel_mock.contract.live)."""
        fixtures = Path(settings.fixtures or FIXTURES_DIR)
        options = ["--clock", settings.clock, "--speed", str(settings.speed)]
        options += ["--seed", str(settings.seed), "--fixtures", str(fixtures)]
        options += [part for name in settings.scenarios for part in ("--scenario", str(name))]
        if settings.state_file is not None:
            options += ["--state-file", str(settings.state_file)]
        return cls(LiveMock([*options, *SERVING]), fixtures)

    def _control(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._http.request(method, self.url + path, timeout=10, **kwargs)
        response.raise_for_status()
        return response.json()

    def advance(self, seconds: float) -> dict[str, Any]:
        """Move the simulated clock forward."""
        return self._control("POST", "/__mock/clock/advance", json={"seconds": seconds})

    def set_clock(self, **settings: Any) -> dict[str, Any]:
        """Change mode (`wall`, `manual`, `polls`), `speed` or `now`."""
        return self._control("PUT", "/__mock/clock", json=settings)

    def apply_scenario(self, scenario: str | dict[str, Any]) -> None:
        """Until the next reset: a library scenario by name (throttled, flaky-gateway, ...),
        or the content of a scenario file, `{"faults": [...], "scenario": {...}}`, such as
        the behaviour `explore` prints."""
        if isinstance(scenario, str):
            self._control("POST", f"/__mock/scenarios/{scenario}")
            return
        for rule in scenario.get("faults", []):
            self.add_fault(rule)
        if scenario.get("scenario"):
            self._control("PUT", "/__mock/scenario", json=scenario["scenario"])

    def add_fault(self, rule: dict[str, Any]) -> dict[str, Any]:
        """Add a fault rule (see openapi/control.yaml, FaultRule) until the next reset."""
        return self._control("POST", "/__mock/faults", json=rule)

    def faults(self) -> list[dict[str, Any]]:
        """The fault rules in force, each with how many requests it has matched."""
        return self._control("GET", "/__mock/faults")["faults"]

    def explore(self, client: Callable[[str, str], Any], **options: Any) -> None:
        """Let hypothesis attack `client(base_url, key)` with server behaviours the spec
        allows; fail with the smallest one that breaks it (see pixxel_mock.contract.explore)."""
        from pixxel_mock.contract.explore import explore

        explore(self, client, **options)

    def reset(self) -> None:
        """Forget every job, download, clock change and journal entry."""
        self._control("POST", "/__mock/reset", params={"all": "true"})

    def requests(self) -> list[dict[str, Any]]:
        """The journal: every request the mock received since the last reset."""
        return self._control("GET", "/__mock/requests", params={"all": "true", "limit": 10_000})[
            "requests"
        ]

    def violations(self) -> list[str]:
        """Each request the spec forbids, as `METHOD path?query -> status: reason`."""
        lines = []
        for entry in self.requests():
            target = entry["path"] + (f"?{entry['query']}" if entry["query"] else "")
            lines += [
                f"{entry['method']} {target} -> {entry['status']}: {v}" for v in entry["violations"]
            ]
        return lines

    def assert_no_violations(self) -> None:
        """Fail the test if the client sent anything the contract forbids."""
        found = self.violations()
        if found:
            listing = "\n  ".join(found)
            raise AssertionError(
                f"the client broke the Pixxel API contract {len(found)} time(s):\n  {listing}"
            )

    def coverage(self) -> CoverageReport:
        """What the client exercised so far: GET /__mock/coverage, with `assert_seen`."""
        from pixxel_mock.contract.coverage import CoverageReport

        return CoverageReport(self._control("GET", "/__mock/coverage"))

    def replay(
        self, recording: str | Path, strict: bool = False, timing: str = "polls"
    ) -> dict[str, Any]:
        """Answer as a HAR (or VCR) recording did, until the end of the test.

        POST /__mock/replay: recorded requests get their recorded answers in order (or
        on the recorded timing), others the simulated model, or 404 `not_recorded`
        when `strict`. Returns the load report (ids, counts, spec violations)."""
        body = {"file": str(Path(recording).resolve()), "strict": strict, "timing": timing}
        return self._control("POST", "/__mock/replay", json=body)

    def close(self) -> None:
        self._http.close()
        self.live.stop()
