"""The import graph of `pixxel_mock`: layers only look down, and nothing loops.

Every import that runs counts, at module level or inside a function; imports under
`if TYPE_CHECKING:` do not. Read from the source with `ast`, so nothing is imported.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

from .helpers import REPO

FOLDERS = {"pixxel_mock": "pixxel_mock", "pixxel_mock.server": "mock_server"}
FOLDERS["pixxel_mock.contract"] = "contract_tests"
# top to bottom; a module may import its own layer or any layer below it
LAYERS = [
    ["pixxel_mock.contract"],
    ["pixxel_mock.server.cli", "pixxel_mock.server.__main__"],
    ["pixxel_mock.server.serving"],
    ["pixxel_mock.server"],  # the package's own lazy names
    ["pixxel_mock.server.app"],
    ["pixxel_mock.server.http"],
    ["pixxel_mock.server.api", "pixxel_mock.server.control", "pixxel_mock.server.web"],
    ["pixxel_mock.server.faults"],
    ["pixxel_mock.server.checking"],
    ["pixxel_mock.server.handling"],
    ["pixxel_mock.server.model"],
    ["pixxel_mock.server.state"],
    ["pixxel_mock.server.spec"],
    ["pixxel_mock"],
]
FORBIDDEN_IN_DOMAIN = ("flask", "werkzeug", "sqlite3")


def modules() -> dict[str, Path]:
    found = {}
    for package, folder in FOLDERS.items():
        root = REPO / folder
        paths = [root / "__init__.py"] if package == "pixxel_mock" else root.rglob("*.py")
        for path in paths:
            parts = [package, *path.relative_to(root).with_suffix("").parts]
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imports(name: str, path: Path) -> set[str]:
    """Every module name this module imports when it runs (TYPE_CHECKING aside)."""
    names: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                for statement in child.orelse:
                    visit(statement)
                continue
            if isinstance(child, ast.Import):
                names.update(alias.name for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
                    parent = package.rsplit(".", child.level - 1)[0] if child.level > 1 else package
                    base = f"{parent}.{base}" if base else parent
                names.update(f"{base}.{alias.name}" for alias in child.names)
                names.add(base)
            visit(child)

    visit(ast.parse(path.read_text()))
    return names


def graph() -> dict[str, set[str]]:
    known = modules()
    edges: dict[str, set[str]] = defaultdict(set)
    for name, path in known.items():
        for target in imports(name, path):
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                edges[name].add(target)
    return edges


def layer_of(module: str) -> int:
    best = max(
        (
            prefix
            for layer in LAYERS
            for prefix in layer
            if module == prefix or module.startswith(prefix + ".")
        ),
        key=len,
    )
    return next(index for index, layer in enumerate(LAYERS) if best in layer)


def cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph, or None."""
    done: set[str] = set()

    def walk(node: str, trail: list[str]) -> list[str] | None:
        if node in trail:
            return [*trail[trail.index(node) :], node]
        if node in done:
            return None
        for target in sorted(edges.get(node, ())):
            found = walk(target, [*trail, node])
            if found:
                return found
        done.add(node)
        return None

    return next((found for node in sorted(edges) if (found := walk(node, []))), None)


def test_every_import_looks_down() -> None:
    upward = [
        f"{source} -> {target}"
        for source, targets in graph().items()
        for target in targets
        if layer_of(target) < layer_of(source)
    ]
    assert upward == []


def test_no_module_imports_itself_back() -> None:
    assert cycle(graph()) is None


def test_no_package_imports_itself_back() -> None:
    def package(module: str) -> str:
        """Its folder; a module beside the server's own __init__ (cli, handling) is a room
        of its own, as the layers above name it."""
        parent = module.rpartition(".")[0]
        is_package = modules()[module].name == "__init__.py"
        return module if is_package or parent == "pixxel_mock.server" else parent

    edges: dict[str, set[str]] = defaultdict(set)
    for source, targets in graph().items():
        for target in targets:
            if package(source) != package(target):
                edges[package(source)].add(package(target))
    assert cycle(edges) is None


def test_the_domain_knows_no_http_and_no_sqlite() -> None:
    for name, path in modules().items():
        if name.startswith("pixxel_mock.server.model"):
            used = {imported.split(".")[0] for imported in imports(name, path)}
            assert used.isdisjoint(FORBIDDEN_IN_DOMAIN), name


def test_the_mock_does_not_import_the_harness() -> None:
    for source, targets in graph().items():
        if source.startswith("pixxel_mock.server"):
            assert not any(t.startswith("pixxel_mock.contract") for t in targets), source


def test_the_checker_sees_a_cycle_and_an_upward_import() -> None:
    """The checks above can fail: a loop and a layer looking up are found."""
    assert cycle({"a": {"b"}, "b": {"a"}}) == ["a", "b", "a"]
    assert layer_of("pixxel_mock.server.state.store") > layer_of("pixxel_mock.server.model.jobs")
