"""The layering of pixxel_mock.server that keeps a kind of resource in one place: the
state knows no domain type, and the domain runs no HTTP and no SQL of its own."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from .helpers import REPO

SERVER = REPO / "mock_server"
FORBIDDEN = {
    "state": ("pixxel_mock.server.model",),
    "model": ("flask", "werkzeug", "sqlite3"),
}


def _imports(path: Path) -> set[str]:
    """What a module imports at run time (imports under `if TYPE_CHECKING:` included)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_a_layer_imports_nothing_it_must_not(layer: str) -> None:
    offences = [
        f"{path.name} imports {name}"
        for path in sorted((SERVER / layer).glob("*.py"))
        for name in _imports(path)
        if any(name == banned or name.startswith(banned + ".") for banned in FORBIDDEN[layer])
    ]
    assert not offences
