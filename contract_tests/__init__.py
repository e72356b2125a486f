"""The contract-test harness of pixxel-mock.

- `pixxel-mock contract`: schemathesis (stateless and stateful) and the lifecycle
  properties against the in-process mock or any base URL.
- the pytest plugin: the `pixxel_mock` fixture, for checking your own client, served as
  the `pixxel_mock_settings` fixture's `MockSettings` say.
- `pixxel-mock validate-traffic` and `pixxel-mock proxy`: checking recorded or live traffic.

`MockSettings` and `PixxelMock` load on first use: pytest imports this package in every
run of the environment (for the plugin), which must not pay for requests and the mock.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pixxel_mock.contract.fixture import PixxelMock
    from pixxel_mock.contract.plugin import MockSettings

__all__ = ["MockSettings", "PixxelMock"]
_HOMES = {
    "MockSettings": "pixxel_mock.contract.plugin",
    "PixxelMock": "pixxel_mock.contract.fixture",
}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
