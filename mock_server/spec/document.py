"""Load an OpenAPI 3.1 document once and compile what requests and responses are checked against.

Every `$ref` is resolved and every JSON Schema compiled (jsonschema-rs) at start-up,
so validating a request costs a few microseconds and no file is read per request.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import jsonschema_rs

from pixxel_mock.server.spec.yamlio import read_yaml_cached

HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


@dataclass(frozen=True)
class Parameter:
    name: str
    location: str  # path | query | header
    required: bool
    schema: dict[str, Any]
    validator: Any = field(compare=False, repr=False)

    @property
    def type(self) -> str | None:
        return self.schema.get("type")


@dataclass(frozen=True)
class RequestBody:
    required: bool
    media_types: tuple[str, ...]
    schema: dict[str, Any]
    validator: Any = field(compare=False, repr=False)


@dataclass(frozen=True)
class Operation:
    operation_id: str
    method: str
    path: str
    parameters: tuple[Parameter, ...]
    secured: bool
    body: RequestBody | None
    responses: dict[str, Any] = field(compare=False, repr=False)
    response_validators: dict[str, Any] = field(compare=False, repr=False)

    def documented_statuses(self) -> set[str]:
        return set(self.responses)

    def example(self, status: str, name: str | None = None) -> tuple[str, Any] | None:
        """A named (or the first) example of a documented response: (name, value)."""
        content = self.responses.get(status, {}).get("content", {})
        examples = content.get("application/json", {}).get("examples", {})
        if name is not None:
            return (name, examples[name]["value"]) if name in examples else None
        return next(((n, e["value"]) for n, e in examples.items()), None)


class ApiSpec:
    """A loaded, dereferenced and compiled OpenAPI document."""

    def __init__(self, document: dict[str, Any], source: Path | None = None) -> None:
        self.document = document
        self.source = source
        self.resolved = _dereference(document)
        self.operations = {op.operation_id: op for op in self._compile()}

    @classmethod
    def load(cls, path: Path) -> ApiSpec:
        return cls(read_yaml_cached(path), Path(path))

    @cached_property
    def write_only_names(self) -> frozenset[str]:
        """The property names the contract marks `writeOnly` (secrets: a store's
        `secrets`), which a recording must never hold in clear."""
        names: set[str] = set()

        def walk(node: Any) -> None:
            if isinstance(node, dict):
                for name, schema in (node.get("properties") or {}).items():
                    if isinstance(schema, dict) and schema.get("writeOnly") is True:
                        names.add(name)
                for value in node.values():
                    walk(value)
            elif isinstance(node, list):
                for value in node:
                    walk(value)

        walk(self.document.get("components", {}))
        walk(self.document.get("paths", {}))
        return frozenset(names)

    @cached_property
    def as_json(self) -> bytes:
        return json.dumps(self.document, indent=2).encode()

    @cached_property
    def as_yaml(self) -> bytes:
        assert self.source is not None
        return self.source.read_bytes()

    def _compile(self) -> list[Operation]:
        compiled = _Validators()
        operations = []
        for path, item in self.resolved.get("paths", {}).items():
            shared = item.get("parameters", [])
            for method in HTTP_METHODS:
                if method not in item:
                    continue
                op = item[method]
                params = {(p["name"], p["in"]): p for p in [*shared, *op.get("parameters", [])]}
                security = op.get("security", self.resolved.get("security", []))
                responses = op.get("responses", {})
                operations.append(
                    Operation(
                        operation_id=op["operationId"],
                        method=method.upper(),
                        path=path,
                        parameters=tuple(_parameter(p, compiled) for p in params.values()),
                        secured=any(requirement for requirement in security),
                        body=_body(op.get("requestBody"), compiled),
                        responses=responses,
                        response_validators={
                            status: compiled(schema)
                            for status, response in responses.items()
                            if (schema := _json_schema(response)) is not None
                        },
                    )
                )
        return operations


def compile_schema(schema: dict[str, Any]) -> Any:
    return jsonschema_rs.Draft202012Validator(schema, validate_formats=True)


class _Validators:
    """One validator per schema object. `$ref`s resolve to shared objects, so the ~300
    schemas of the two specs are ~65 objects; each entry keeps its schema alive, so its
    id is never reused for another."""

    def __init__(self) -> None:
        self._by_id: dict[int, tuple[dict[str, Any], Any]] = {}

    def __call__(self, schema: dict[str, Any]) -> Any:
        entry = self._by_id.get(id(schema))
        if entry is None:
            entry = self._by_id[id(schema)] = (schema, compile_schema(schema))
        return entry[1]


def first_error(validator: Any, instance: Any) -> str | None:
    """The first validation error as `path: message`, or None when valid."""
    for error in validator.iter_errors(instance):
        where = "/".join(str(p) for p in error.instance_path)
        return f"{where or '(root)'}: {error.message}"
    return None


def _parameter(raw: dict[str, Any], compiled: _Validators) -> Parameter:
    schema = raw.get("schema", {})
    return Parameter(
        name=raw["name"],
        location=raw["in"],
        required=bool(raw.get("required", raw["in"] == "path")),
        schema=schema,
        validator=compiled(schema),
    )


def _body(raw: dict[str, Any] | None, compiled: _Validators) -> RequestBody | None:
    if raw is None:
        return None
    content = raw.get("content", {})
    schema = next((m.get("schema", {}) for m in content.values()), {})
    return RequestBody(
        required=bool(raw.get("required", False)),
        media_types=tuple(content),
        schema=schema,
        validator=compiled(schema),
    )


def _json_schema(response: dict[str, Any]) -> dict[str, Any] | None:
    content = response.get("content", {})
    media = content.get("application/json")
    return media.get("schema") if media else None


def _dereference(document: dict[str, Any]) -> dict[str, Any]:
    """Inline every local `$ref` (the documents here have no recursive schemas).

    Each target is resolved once and shared by every reference to it (a deep copy per
    reference was a quarter of a spec's load): the resolved tree is read-only, like the
    examples and schemas every request already shares.
    """
    targets: dict[str, Any] = {}

    def target(pointer: str) -> Any:
        if pointer not in targets:
            node: Any = document
            for part in pointer.lstrip("#/").split("/"):
                node = node[part.replace("~1", "/").replace("~0", "~")]
            targets[pointer] = walk(node)
        return targets[pointer]

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node and isinstance(node["$ref"], str):
                shared = target(node["$ref"])
                siblings = {k: walk(v) for k, v in node.items() if k != "$ref"}
                return {**shared, **siblings} if siblings and isinstance(shared, dict) else shared
            return {key: walk(value) for key, value in node.items()}
        if isinstance(node, list):
            return [walk(item) for item in node]
        return node

    return walk(document)
