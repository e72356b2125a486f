"""Handlers of the `web` operations of openapi/control.yaml: pages and their static files."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from flask import Response

from pixxel_mock.server.handling import ApiError, Call, HandlerRegistry, Reply

HANDLERS = HandlerRegistry()
STATIC = Path(str(files(__package__) / "static"))
SWAGGER_UI = Path(str(files("flask_swagger_ui") / "dist"))  # Swagger UI 5, from PyPI
SWAGGER_FILES = (
    "swagger-ui.css",
    "swagger-ui-bundle.js",
    "swagger-ui-standalone-preset.js",
    "favicon-32x32.png",
)
MEDIA_TYPES = {".css": "text/css", ".js": "text/javascript", ".png": "image/png"}


def _file(path: Path) -> Response:
    """A static file, cached by the browser for an hour (it changes only with a release)."""
    response = Response(path.read_bytes(), mimetype=MEDIA_TYPES.get(path.suffix, "text/html"))
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response


def _asset(name: str, *folders: tuple[Path, tuple[str, ...]]) -> Response:
    for folder, names in folders:
        if name in names:
            return _file(folder / name)
    raise ApiError(404, "not_found", f"No such file: {name}.", {"asset": name})


@HANDLERS("home")
def home(call: Call) -> Reply:
    return _file(STATIC / "index.html")


@HANDLERS("docsPage")
def docs_page(call: Call) -> Reply:
    return _file(STATIC / "docs.html")


@HANDLERS("docsAsset")
def docs_asset(call: Call) -> Reply:
    return _asset(call.params["asset"], (STATIC, ("docs.js",)), (SWAGGER_UI, SWAGGER_FILES))


@HANDLERS("inspectorPage")
def inspector_page(call: Call) -> Reply:
    return _file(STATIC / "inspector.html")


@HANDLERS("inspectorAsset")
def inspector_asset(call: Call) -> Reply:
    return _asset(call.params["asset"], (STATIC, ("inspector.js", "inspector.css")))


@HANDLERS("getApiSpec")
def api_spec(call: Call) -> Reply:
    return Response(call.mock.api_spec.as_json, mimetype="application/json")


@HANDLERS("getApiSpecYaml")
def api_spec_yaml(call: Call) -> Reply:
    return Response(call.mock.api_spec.as_yaml, mimetype="application/yaml")


@HANDLERS("getControlSpec")
def control_spec(call: Call) -> Reply:
    return Response(call.mock.control_spec.as_json, mimetype="application/json")
