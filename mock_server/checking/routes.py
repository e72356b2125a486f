"""The one route table: (method, path) -> operation, compiled from the contracts.

The pipeline serves requests through it and the exchange checker judges recorded
traffic through it, so a path the mock answers is exactly a path the checker knows,
with the same 404 and 405 answers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from pixxel_mock.server.handling import ApiError
from pixxel_mock.server.spec.document import Operation

_TEMPLATE = re.compile(r"{([^}/]+)}")


def path_pattern(path: str) -> re.Pattern[str]:
    """The path template as a regex with one named group per parameter; a parameter
    is one non-empty segment."""
    parts = _TEMPLATE.split(path)  # static, name, static, name, ..., static
    return re.compile(
        "".join(
            re.escape(part) if index % 2 == 0 else f"(?P<{part}>[^/]+)"
            for index, part in enumerate(parts)
        )
    )


class RouteTable:
    """Operations by number of segments, so that a request tries only the few patterns
    that could match it. A request path belongs to the most concrete path template that
    matches it, whatever the method (OpenAPI: concrete paths match before templated
    ones), so a literal path (/v0/blocks/workflows, /v0/catalogs/search) wins over a
    template (/v0/blocks/{name}, /v0/catalogs/{id}) and another method on it is a 405.
    HEAD is GET without the body; OPTIONS is answered by no operation."""

    def __init__(self, operations: Iterable[Operation]) -> None:
        self._paths: dict[int, list[tuple[re.Pattern[str], str]]] = {}
        self._operations: dict[tuple[str, str], Operation] = {}
        for operation in sorted(operations, key=lambda op: op.path.count("{")):
            self._operations[(operation.method, operation.path)] = operation
            paths = self._paths.setdefault(operation.path.count("/"), [])
            if all(template != operation.path for _, template in paths):
                paths.append((path_pattern(operation.path), operation.path))
        self._methods = sorted({method for method, _ in self._operations})

    def find(self, method: str, path: str) -> tuple[Operation, dict[str, str]] | None:
        """The operation at (method, path) and its path values, or None."""
        for pattern, template in self._paths.get(path.count("/"), ()):
            match = pattern.fullmatch(path)
            if match is not None:
                operation = self._operations.get((method, template))
                return (operation, match.groupdict()) if operation is not None else None
        return None

    def match(self, method: str, path: str) -> tuple[Operation, dict[str, str]]:
        """Like `find`, but a miss raises the 404 or 405 (with `Allow`) the mock answers."""
        found = self.find("GET" if method == "HEAD" else method, path)
        if found is not None:
            return found
        allowed = [other for other in self._methods if self.find(other, path) is not None]
        if not allowed:
            raise ApiError(404, "not_found", f"No operation is defined at {path}.")
        if "GET" in allowed:
            allowed = sorted([*allowed, "HEAD"])
        raise ApiError(
            405,
            "method_not_allowed",
            f"{method} is not allowed on {path}; use {', '.join(allowed)}.",
            headers={"Allow": ", ".join(allowed)},
        )
