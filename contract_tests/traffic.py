"""`pixxel-mock validate-traffic FILE`: recorded traffic (HAR 1.2, VCR cassettes) vs the spec.

Each exchange is checked in both directions with the rules the mock itself applies:
the client's request (route, method, parameters, key, body) and the server's
response (documented status, content type, JSON schema).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pixxel_mock.server.checking.exchange import ExchangeChecker
from pixxel_mock.server.checking.traffic import contract_problems, load_exchanges
from pixxel_mock.server.spec.document import ApiSpec
from pixxel_mock.server.spec.resources import API_SPEC


@dataclass(frozen=True)
class Finding:
    index: int
    method: str
    url: str
    status: int | None
    problem: str

    def __str__(self) -> str:
        return f"#{self.index} {self.method} {self.url} -> {self.status}: {self.problem}"


def validate_traffic(path: Path, spec_path: Path = API_SPEC) -> tuple[int, list[Finding]]:
    """(exchanges checked, findings)."""
    checker = ExchangeChecker(ApiSpec.load(spec_path))
    exchanges = load_exchanges(path)
    findings = [
        Finding(index, e.method, e.url, e.status, problem)
        for index, e, problem in contract_problems(exchanges, checker)
    ]
    return len(exchanges), findings
