"""The pytest plugin (entry point `pytest11`): the `pixxel_mock` fixture, for checking your own client.

pytest loads it in every run of an environment that has pixxel-mock, the user's own
unrelated runs included: it adds three fixtures and no option, and at load it imports
only pytest and the standard library (the mock and requests load when a test asks for
`pixxel_mock`). The contract suite's machinery is in suite_plugin.py, which only
`pixxel-mock contract` loads.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from pixxel_mock.contract.fixture import PixxelMock


@dataclass(frozen=True)
class MockSettings:
    """How the session's mock is served: the `pixxel-mock serve` options a test suite may set.

    Return your own from a `pixxel_mock_settings` fixture (session scope) in a conftest.py.
    """

    clock: str = "polls"  # polls: each read of a job moves it on, so polling needs no sleep
    speed: float = 60.0  # simulated seconds per real second, in `wall` mode
    seed: int = 0  # of ids and durations
    scenarios: tuple[str | Path, ...] = ()  # library names or scenario files, server-wide
    fixtures: Path | None = None  # a fixtures folder (keys, projects, ...); None: the mock's own
    state_file: Path | None = None  # SQLite file the state outlives the session in; None: fresh


@pytest.fixture(scope="session")
def pixxel_mock_settings() -> MockSettings:
    """The defaults; override this fixture to serve the mock otherwise."""
    return MockSettings()


@pytest.fixture(scope="session")
def pixxel_mock_server(pixxel_mock_settings: MockSettings) -> Iterator[PixxelMock]:
    """One `pixxel-mock serve` per test session (real HTTP on 127.0.0.1, an ephemeral port)."""
    from pixxel_mock.contract.fixture import PixxelMock

    server = PixxelMock.start(pixxel_mock_settings)
    yield server
    server.close()


@pytest.fixture
def pixxel_mock(pixxel_mock_server: PixxelMock) -> Iterator[PixxelMock]:
    """The session's mock, cleared after each test (jobs, downloads, clock, journal)."""
    yield pixxel_mock_server
    pixxel_mock_server.reset()
