"""Configuration of one mock app; every CLI flag maps onto a field here."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from pixxel_mock.server.model.replay import TIMINGS
from pixxel_mock.server.spec.resources import FIXTURES_DIR
from pixxel_mock.server.state.clock import CLOCK_MODES


@dataclass(frozen=True)
class MockConfig:
    fixtures_dir: Path = FIXTURES_DIR
    state_file: Path | None = None  # None: a fresh temporary file for this app
    seed: int = 0
    clock_mode: str = "wall"
    speed: float = 60.0  # simulated seconds per real second in wall mode
    start_time: float | None = None  # simulated start (epoch seconds); None: now
    control_token: str | None = None
    validate_responses: bool = False  # test mode: a response that breaks the spec is a 500
    journal_size: int = 10_000
    max_namespaces: int = 1_000  # past this, the oldest X-Mock-Session namespaces are evicted
    max_body_bytes: int = 1 << 20
    queue_seconds: float = 10.0
    job_package_seconds: float = 30.0
    task_package_seconds: float = 10.0
    package_polls: int = 1
    url_ttl_seconds: int = 3600
    archive_items: int = 2_000  # STAC items of the seeded archive (fixtures/archive.yaml)
    stores_dir: Path | None = None  # where deliveries land; None: beside the state file
    scenarios: tuple[str, ...] = ()  # library names or file paths, applied server-wide
    replay_file: Path | None = None  # a HAR recording to answer from (serve --replay)
    replay_strict: bool = False  # requests the recording lacks: 404 not_recorded, no model
    replay_timing: str = "polls"  # or "recorded": answers follow the recording's times

    def __post_init__(self) -> None:
        if self.clock_mode not in CLOCK_MODES:
            raise ValueError(f"clock_mode must be one of {CLOCK_MODES}, not {self.clock_mode!r}")
        if self.speed <= 0:
            raise ValueError("speed must be positive")
        if self.journal_size < 1:
            raise ValueError("journal_size must be at least 1")
        if not 0 <= self.archive_items <= 10_000_000:
            raise ValueError("archive_items must be between 0 and 10,000,000")
        if self.replay_timing not in TIMINGS:
            raise ValueError(f"replay_timing must be one of {TIMINGS}, not {self.replay_timing!r}")

    @classmethod
    def coerce(cls, value: MockConfig | Mapping[str, Any] | None) -> MockConfig:
        """Accept a MockConfig, a mapping of its fields (Flask style), or None for defaults."""
        if value is None:
            return cls()
        if isinstance(value, MockConfig):
            return value
        known = {f.name for f in fields(cls)}
        unknown = set(value) - known
        if unknown:
            raise ValueError(f"unknown config keys: {sorted(unknown)}")
        values = dict(value)
        if "scenarios" in values:
            values["scenarios"] = tuple(values["scenarios"])
        config = cls(**values)
        paths = {
            name: Path(v)
            for name in ("fixtures_dir", "state_file", "replay_file", "stores_dir")
            if (v := getattr(config, name)) is not None
        }
        return replace(config, **paths)
