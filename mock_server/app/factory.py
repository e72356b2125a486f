"""The app factory: a mock instance built from its config, served by the one pipeline.

Flask is the shell (its test client, `app.extensions`); every request goes to the
pipeline, which routes both contracts itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask

from pixxel_mock.server.api.aois import HANDLERS as AOI_HANDLERS
from pixxel_mock.server.api.archive import HANDLERS as ARCHIVE_HANDLERS
from pixxel_mock.server.api.handlers import HANDLERS as API_HANDLERS
from pixxel_mock.server.api.indices import HANDLERS as INDEX_HANDLERS
from pixxel_mock.server.api.insights import HANDLERS as INSIGHT_HANDLERS
from pixxel_mock.server.api.orders import HANDLERS as ORDER_HANDLERS
from pixxel_mock.server.api.visualizations import HANDLERS as VISUALIZATION_HANDLERS
from pixxel_mock.server.app.config import MockConfig
from pixxel_mock.server.app.instance import MockInstance
from pixxel_mock.server.control.handlers import HANDLERS as CONTROL_HANDLERS
from pixxel_mock.server.handling import HandlerRegistry
from pixxel_mock.server.http.guards import api_guard, control_guard
from pixxel_mock.server.http.pipeline import Pipeline, Plane
from pixxel_mock.server.web.handlers import HANDLERS as WEB_HANDLERS

EXTENSION = "pixxel_mock"


def create_app(config: MockConfig | Mapping[str, Any] | None = None) -> Flask:
    """Build a mock app. `config` is a MockConfig, a mapping of its fields, or None."""
    instance = MockInstance.build(MockConfig.coerce(config))
    app = Flask(__name__)
    app.extensions[EXTENSION] = instance
    app.wsgi_app = Pipeline(  # type: ignore[method-assign]
        instance,
        [
            Plane(
                instance.api_spec,
                HandlerRegistry(
                    {
                        **API_HANDLERS,
                        **AOI_HANDLERS,
                        **ARCHIVE_HANDLERS,
                        **INDEX_HANDLERS,
                        **VISUALIZATION_HANDLERS,
                        **INSIGHT_HANDLERS,
                        **ORDER_HANDLERS,
                    }
                ),
                api_guard,
                injectable=True,
            ),
            Plane(
                instance.control_spec,
                HandlerRegistry({**CONTROL_HANDLERS, **WEB_HANDLERS}),
                control_guard,
            ),
        ],
    )
    return app


def instance_of(app: Flask) -> MockInstance:
    """The parts an app built by `create_app` runs on (its store, service, config)."""
    return app.extensions[EXTENSION]
