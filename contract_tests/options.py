"""The harness's settings, shared by the CLI and the pytest plugin (`--pixxel-*` options)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

KEY_VARIABLE = "PIXXEL_API_KEY"
DEFAULT_MOCK_KEY = "pxm_demo_alpha"
DEFAULT_LIVE_RATE = "10/s"


@dataclass(frozen=True)
class ContractOptions:
    base_url: str | None = None  # None: the in-process mock
    max_examples: int = 25
    seed: int = 0
    allow_writes: bool = False
    rate_limit: str | None = None
    stateful_steps: int = 8
    report_dir: str | None = None
    scenarios: tuple[str, ...] = ()  # loaded into the in-process mock

    @property
    def in_process(self) -> bool:
        return self.base_url is None

    @property
    def writes_allowed(self) -> bool:
        """Writes (job creation) are on for the in-process mock, opt-in for a live target."""
        return self.in_process or self.allow_writes

    @property
    def api_key(self) -> str:
        key = os.environ.get(KEY_VARIABLE)
        if key:
            return key
        if self.in_process:
            return DEFAULT_MOCK_KEY
        raise RuntimeError(f"set {KEY_VARIABLE} to the API key for {self.base_url}")

    @property
    def effective_rate_limit(self) -> str | None:
        if self.rate_limit is not None:
            return self.rate_limit
        return None if self.in_process else DEFAULT_LIVE_RATE


def add_pytest_options(parser: Any) -> None:
    group = parser.getgroup("pixxel", "pixxel-mock contract tests")
    group.addoption(
        "--pixxel-base-url", default=None, help="live target (default: in-process mock)"
    )
    group.addoption("--pixxel-max-examples", type=int, default=25, help="examples per operation")
    group.addoption("--pixxel-seed", type=int, default=0, help="seed of the generated data")
    group.addoption(
        "--pixxel-allow-writes",
        action="store_true",
        help="let the suite create (billable) jobs on a live target",
    )
    group.addoption("--pixxel-rate-limit", default=None, help='request rate, e.g. "10/s"')
    group.addoption("--pixxel-stateful-steps", type=int, default=8, help="steps per scenario")
    group.addoption("--pixxel-report-dir", default=None, help="where to write summary.md")
    group.addoption(
        "--pixxel-scenario",
        action="append",
        default=[],
        help="load this scenario into the in-process mock (repeatable)",
    )
    group.addoption(
        "--pixxel-app",
        default=None,
        help="module:app (or module:factory()) of a WSGI app to test in-process instead of the mock",
    )
    group.addoption(
        "--pixxel-mock-clock",
        default="polls",
        choices=["polls", "manual", "wall"],
        help="clock mode of the pixxel_mock fixture's server",
    )


def from_pytest(config: Any) -> ContractOptions:
    return ContractOptions(
        base_url=config.getoption("--pixxel-base-url"),
        max_examples=config.getoption("--pixxel-max-examples"),
        seed=config.getoption("--pixxel-seed"),
        allow_writes=config.getoption("--pixxel-allow-writes"),
        rate_limit=config.getoption("--pixxel-rate-limit"),
        stateful_steps=config.getoption("--pixxel-stateful-steps"),
        report_dir=config.getoption("--pixxel-report-dir"),
        scenarios=tuple(config.getoption("--pixxel-scenario")),
    )
