"""Fixtures: an in-process app in test mode (responses checked against the spec)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from mock_server import create_app, runtime_of

START = 1_772_791_200.0  # 2026-03-06T10:00:00Z


@pytest.fixture
def app() -> Iterator[Flask]:
    """A fresh mock with a manual clock; a response that breaks the spec fails the test."""
    app = create_app(
        {"clock_mode": "manual", "start_time": START, "validate_responses": True, "seed": 7}
    )
    yield app
    violations = [
        v
        for entry in runtime_of(app).store.journal(None, 10_000)
        for v in entry["violations"]
        if v.startswith("response:")
    ]
    runtime_of(app).close()
    assert not violations, violations


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def advance(client: FlaskClient, seconds: float, session: str | None = None) -> None:
    headers = {"X-Mock-Session": session} if session else {}
    response = client.post("/__mock/clock/advance", json={"seconds": seconds}, headers=headers)
    assert response.status_code == 200, response.json
