"""Fixtures: an in-process app in test mode (responses checked against the spec)."""

from __future__ import annotations

import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:  # the project's packages load after pytest_configure's check
    from flask import Flask
    from flask.testing import FlaskClient

START = 1_772_791_200.0  # 2026-03-06T10:00:00Z


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    terminalreporter.write_line(f"sys.prefix: {sys.prefix} (system: {sys.base_prefix})")


# Long tests with no module fixture to share: spread one by one over the xdist workers.
SPREAD = frozenset({"test_harness.py"})


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """`make test` runs `--dist loadgroup`: the tests of a file share a worker, so their
    module fixtures (a server, the wheel, the browser) are built once, except SPREAD's."""
    for item in items:
        if item.path.name not in SPREAD:
            item.add_marker(pytest.mark.xdist_group(item.path.stem))


def pytest_configure(config: pytest.Config) -> None:
    """The suite runs in the project's own virtualenv, which sees no system packages:
    a run that could lean on what the machine happens to hold proves nothing."""
    system_packages = Path(sysconfig.get_path("purelib", vars={"base": sys.base_prefix}))
    if sys.prefix == sys.base_prefix or str(system_packages) in sys.path:
        raise pytest.UsageError(
            f"tests must run in the project's virtualenv (`make install`, then `make test`),"
            f" not with {sys.executable} (sys.prefix {sys.prefix})"
        )


@pytest.fixture
def app() -> Iterator[Flask]:
    """A fresh mock with a manual clock; a response that breaks the spec fails the test."""
    from pixxel_mock.server import create_app, instance_of

    app = create_app(
        {"clock_mode": "manual", "start_time": START, "validate_responses": True, "seed": 7}
    )
    yield app
    violations = [
        v
        for entry in instance_of(app).store.journal.entries(None, 10_000)
        for v in entry["violations"]
        if v.startswith("response:")
    ]
    instance_of(app).close()
    assert not violations, violations


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def advance(client: FlaskClient, seconds: float, session: str | None = None) -> None:
    headers = {"X-Mock-Session": session} if session else {}
    response = client.post("/__mock/clock/advance", json={"seconds": seconds}, headers=headers)
    assert response.status_code == 200, response.json
