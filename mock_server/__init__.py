"""The mock: `create_app(config)` builds the WSGI app that `pixxel-mock serve` runs.

Its names load on first use, so that the command line, `--version` and the harness's
stdlib-only parts do not pay for Flask and the compiled contract.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pixxel_mock.server.app.config import MockConfig
    from pixxel_mock.server.app.factory import create_app, instance_of

__all__ = ["MockConfig", "create_app", "instance_of"]


def __getattr__(name: str) -> Any:
    if name == "MockConfig":
        from pixxel_mock.server.app.config import MockConfig

        return MockConfig
    if name in ("create_app", "instance_of"):
        from pixxel_mock.server.app import factory

        return getattr(factory, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
