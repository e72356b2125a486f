"""The Flask app factory: the Pixxel API and the control plane, both bound from their specs."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from flask import Flask, Response
from werkzeug.routing import Rule

from pixxel_mock.server.api.handlers import HANDLERS as API_HANDLERS
from pixxel_mock.server.app.config import MockConfig
from pixxel_mock.server.app.instance import MockInstance
from pixxel_mock.server.control.handlers import HANDLERS as CONTROL_HANDLERS
from pixxel_mock.server.handling import DEFAULT_NAMESPACE, ApiError, HandlerRegistry
from pixxel_mock.server.http.direct import DirectRoutes
from pixxel_mock.server.http.limits import limited
from pixxel_mock.server.http.pipeline import (
    api_guard,
    bind_spec,
    control_guard,
    install_error_handlers,
    install_journal,
)
from pixxel_mock.server.state.journal import JournalEntry
from pixxel_mock.server.web.handlers import HANDLERS as WEB_HANDLERS

EXTENSION = "pixxel_mock"
DIRECT = "pixxel_mock_direct"  # the API's own router, in front of Flask's (wire/direct.py)


class LazyBuilderRule(Rule):
    """A rule whose URL builders are compiled on first use, not when it is added.

    werkzeug writes and compiles two builder functions per rule as it is added: a
    third of `create_app` (47 rules, ~30 ms of start-up), for URLs the mock builds
    for a handful of rules. Matching is unchanged; a werkzeug without this method
    simply compiles them at once again.
    """

    def _compile_builder(self, append_unknown: bool = True) -> Callable[..., tuple[str, str]]:
        compiled: list[Callable[..., tuple[str, str]]] = []

        def build(rule: Rule, **values: Any) -> tuple[str, str]:
            if not compiled:
                compiled.append(Rule._compile_builder(rule, append_unknown))
            return compiled[0](rule, **values)

        return build


def create_app(config: MockConfig | Mapping[str, Any] | None = None) -> Flask:
    """Build a mock app. `config` is a MockConfig, a mapping of its fields, or None."""
    instance = MockInstance.build(MockConfig.coerce(config))
    app = Flask(__name__)
    app.url_rule_class = LazyBuilderRule
    app.url_map.merge_slashes = False
    app.url_map.strict_slashes = True
    app.config["MAX_CONTENT_LENGTH"] = instance.config.max_body_bytes
    app.extensions[EXTENSION] = instance
    app.extensions["pixxel_mock_operations"] = {}
    api = bind_spec(app, instance.api_spec, API_HANDLERS, instance, api_guard, injectable=True)
    control_handlers = HandlerRegistry({**CONTROL_HANDLERS, **WEB_HANDLERS})
    bind_spec(app, instance.control_spec, control_handlers, instance, control_guard)
    _serve_contract(app, instance)
    install_error_handlers(app)
    install_journal(app, instance)
    direct = app.extensions[DIRECT] = DirectRoutes(api, instance, app.wsgi_app)
    app.wsgi_app = limited(  # type: ignore[method-assign]
        direct,
        lambda environ, error: _journal_refusal(instance, environ, error),
    )
    return app


def _journal_refusal(instance: MockInstance, environ: dict[str, Any], error: ApiError) -> None:
    instance.store.journal.append(
        JournalEntry(
            namespace=DEFAULT_NAMESPACE,
            method=environ.get("REQUEST_METHOD", ""),
            path=environ.get("PATH_INFO", "")[:200],
            query=environ.get("QUERY_STRING", "")[:200],
            operation_id=None,
            status=error.status,
            duration_ms=0.0,
            violations=[error.message],
        )
    )


def instance_of(app: Flask) -> MockInstance:
    return app.extensions[EXTENSION]


def _serve_contract(app: Flask, instance: MockInstance) -> None:
    """The contract itself, at /openapi.json and /openapi.yaml."""
    spec = instance.api_spec

    def as_json() -> Response:
        return Response(spec.as_json, mimetype="application/json")

    def as_yaml() -> Response:
        return Response(spec.as_yaml, mimetype="application/yaml")

    for rule, view in (("/openapi.json", as_json), ("/openapi.yaml", as_yaml)):
        app.add_url_rule(rule, endpoint=view.__name__, view_func=view, methods=["GET"])
