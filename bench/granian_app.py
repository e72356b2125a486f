"""The same mock app, for serving on granian in the benchmark's server comparison."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pixxel_mock.server import MockConfig, create_app


def create() -> Any:
    return create_app(
        MockConfig(
            state_file=Path(os.environ["PIXXEL_MOCK_STATE"]),
            speed=float(os.environ.get("PIXXEL_MOCK_SPEED", "60")),
        )
    )
