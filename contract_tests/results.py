"""What the contract run saw: operations x checks, failures with a curl line, skips."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from schemathesis.checks import CHECKS, load_all_checks

OWN_CHECKS = ("keys_enforced_403", "lifecycle_properties")


@dataclass
class Failure:
    operation: str
    checks: tuple[str, ...]
    title: str
    curl: str


@dataclass
class Results:
    checks: list[str]
    skipped: dict[str, str] = field(default_factory=dict)
    cases: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    applied: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    failures: list[Failure] = field(default_factory=list)

    @classmethod
    def for_run(cls, excluded: set[str], skipped: dict[str, str]) -> Results:
        load_all_checks()
        names = [name for name in CHECKS.get_all_names() if name not in excluded]
        return cls(checks=[*names, *OWN_CHECKS], skipped=skipped)

    @property
    def schemathesis_checks(self) -> list[str]:
        return [c for c in self.checks if c not in OWN_CHECKS]

    def record(self, operation: str, failures: list[Any] = (), curl: str = "") -> None:  # type: ignore[assignment]
        """A schemathesis case: every schemathesis check applied to it."""
        self.cases[operation] += 1
        self.applied[operation].update(self.schemathesis_checks)
        for failure in failures:
            checks = tuple(getattr(failure, "checks", ()) or ("custom",))
            self.failures.append(Failure(operation, checks, failure.title, curl))

    def record_own(self, operation: str, check: str, problem: str | None, curl: str = "") -> None:
        """A result of one of the harness's own checks."""
        self.cases[operation] += 1
        self.applied[operation].add(check)
        if problem is not None:
            self.failures.append(Failure(operation, (check,), problem, curl))

    def merge(self, data: dict[str, Any]) -> None:
        """Add what a pytest-xdist worker saw (see to_json)."""
        for operation, count in data["cases"].items():
            self.cases[operation] += count
        for operation, checks in data["applied"].items():
            self.applied[operation].update(checks)
        self.failures += [
            Failure(f["operation"], tuple(f["checks"]), f["title"], f["curl"])
            for f in data["failures"]
        ]

    def to_json(self) -> dict[str, Any]:
        return {
            "checks": self.checks,
            "skipped": self.skipped,
            "cases": dict(self.cases),
            "applied": {op: sorted(checks) for op, checks in self.applied.items()},
            "failures": [asdict(f) for f in self.failures],
        }

    def cell(self, operation: str, check: str) -> str:
        if any(f.operation == operation and check in f.checks for f in self.failures):
            return "FAIL"
        return "ok" if check in self.applied[operation] else "-"

    def table(self) -> str:
        """Markdown: one row per operation, one column per check (`-`: not applicable)."""
        short = [c.replace("_conformance", "").replace("_", " ") for c in self.checks]
        lines = ["| operation | cases | " + " | ".join(short) + " |"]
        lines.append("|---|---:|" + "---|" * len(self.checks))
        for operation in sorted(self.cases):
            cells = [self.cell(operation, c) for c in self.checks]
            lines.append(f"| {operation} | {self.cases[operation]} | " + " | ".join(cells) + " |")
        return "\n".join(lines)

    def summary(self) -> str:
        total = sum(self.cases.values())
        verdict = f"{len(self.failures)} failure(s)" if self.failures else "no failure"
        parts = [
            f"# Contract run: {len(self.cases)} rows, {total} cases, {verdict}",
            "",
            self.table(),
        ]
        if self.skipped:
            parts += ["", "## Skipped", ""]
            parts += [f"- {what}: {why}" for what, why in sorted(self.skipped.items())]
        if self.failures:
            parts += ["", "## Failures", ""]
            for failure in self.failures:
                parts.append(
                    f"- {failure.operation} [{', '.join(failure.checks)}]: {failure.title}"
                )
                if failure.curl:
                    parts.append(f"  `{failure.curl}`")
        return "\n".join(parts) + "\n"

    def write(self, directory: str) -> Path:
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        (path / "results.json").write_text(json.dumps(self.to_json(), indent=2))
        target = path / "summary.md"
        target.write_text(self.summary())
        return target
