"""The static world the mock serves: projects, keys, blocks and workflows.

Loaded once from a fixtures directory and never changed at run time, so every
worker process holds its own read-only copy and the hot path never reads a file.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache, cached_property
from pathlib import Path
from typing import Any

import yaml

from pixxel_mock.server.model.timefmt import parse_rfc3339
from pixxel_mock.server.spec.document import compile_schema, first_error
from pixxel_mock.server.spec.resources import FIXTURES_SCHEMA
from pixxel_mock.server.spec.yamlio import read_yaml_cached

FIXTURE_FILES = ("projects.yaml", "keys.yaml", "blocks.yaml", "workflows.yaml")
FAILURE_TYPES = ("bad_request", "runtime_exception", "unknown")


class FixtureError(ValueError):
    """A fixtures directory that cannot be loaded; the message says where and why."""


@dataclass(frozen=True)
class Project:
    id: str
    name: str
    title: str
    org_id: str
    members_count: int
    created_at: float
    updated_at: float
    metadata: dict[str, Any]


@dataclass(frozen=True)
class ApiKey:
    key: str
    service_account_id: str
    service_account_name: str
    project_ids: frozenset[str]
    revoked: bool = False
    revoked_at: float | None = None

    def is_active(self, at: float) -> bool:
        """A key is usable until it is revoked, or until its scheduled revocation time."""
        if self.revoked:
            return False
        return self.revoked_at is None or at < self.revoked_at


@dataclass(frozen=True)
class BlockVersion:
    block_id: str
    version_id: str
    name: str
    title: str
    type: str
    description: str
    modes: tuple[str, ...]
    supported_collections_id: tuple[str, ...]
    inputs: tuple[dict[str, Any], ...]
    outputs: tuple[dict[str, Any], ...]
    version: str
    estimated_time_duration: int
    price: int
    created_at: float
    block_status: str = "released"


@dataclass(frozen=True)
class TaskFailure:
    failure_type: str
    err_msg: str


@dataclass(frozen=True)
class TaskTemplate:
    name: str
    block: BlockVersion
    depends_on: tuple[str, ...]
    inputs: dict[str, str]
    failure: TaskFailure | None = None


@dataclass(frozen=True)
class Workflow:
    id: str
    project_id: str
    name: str
    description: str
    created_by: str
    created_at: float
    updated_at: float
    tasks: tuple[TaskTemplate, ...]

    @cached_property  # the catalog never changes: computed once, not per job listed
    def estimated_cost(self) -> int:
        return sum(task.block.price for task in self.tasks)

    @cached_property
    def estimated_duration(self) -> int:
        """Seconds along the critical path of the DAG, from the blocks' estimates."""
        finish: dict[str, int] = {}
        for task in self.tasks:
            start = max((finish[dep] for dep in task.depends_on), default=0)
            finish[task.name] = start + task.block.estimated_time_duration
        return max(finish.values(), default=0)

    def spec(self) -> dict[str, Any]:
        """The workflow's raw spec as the API shows it (no mock-only hints)."""
        return {
            "tasks": [
                {
                    "name": task.name,
                    "block": {"name": task.block.name, "version": task.block.version},
                    "depends_on": list(task.depends_on),
                    **({"inputs": dict(task.inputs)} if task.inputs else {}),
                }
                for task in self.tasks
            ]
        }


@dataclass(frozen=True)
class Catalog:
    projects: dict[str, Project]
    keys: dict[str, ApiKey]
    blocks: dict[str, tuple[BlockVersion, ...]]
    workflows: dict[str, Workflow]
    source: Path = field(default=Path("."))

    def block_version(self, name: str, version: str) -> BlockVersion | None:
        return next((b for b in self.blocks.get(name, ()) if b.version == version), None)

    def all_block_versions(self) -> list[BlockVersion]:
        return [version for versions in self.blocks.values() for version in versions]


def load_catalog(directory: Path) -> Catalog:
    """Read and cross-check a fixtures directory (see fixtures/README.md)."""
    directory = Path(directory)
    documents = {name: _read_yaml(directory / name) for name in FIXTURE_FILES}
    for name, document in documents.items():
        problem = first_error(_file_validator(name), document)
        if problem:
            raise FixtureError(f"{directory / name}: {problem}")
    try:
        projects = {p.id: p for p in map(_project, documents["projects.yaml"]["projects"])}
        blocks = _blocks(documents["blocks.yaml"]["blocks"])
        keys = _keys(documents["keys.yaml"]["service_accounts"], projects)
        workflows = {
            w.id: w
            for w in (
                _workflow(raw, blocks, projects) for raw in documents["workflows.yaml"]["workflows"]
            )
        }
    except (KeyError, TypeError, ValueError) as exc:
        raise FixtureError(f"fixtures in {directory}: {exc!r}") from exc
    return Catalog(projects, keys, blocks, workflows, directory)


@cache
def _file_validator(name: str) -> Any:
    """The closed schema of one fixture file (openapi/fixtures.yaml), compiled once."""
    document = read_yaml_cached(FIXTURES_SCHEMA)
    return compile_schema({"$defs": document["$defs"], "$ref": f"#/$defs/{name}"})


def closed_fixture_problem(name: str, document: Any) -> str | None:
    """The first way a fixture file's document breaks its closed schema, or None: other
    domain modules load their own files (indices.yaml) to the same standard."""
    return first_error(_file_validator(name), document)


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = read_yaml_cached(path)
    except FileNotFoundError as exc:
        raise FixtureError(f"missing fixture file {path}") from exc
    except yaml.YAMLError as exc:
        raise FixtureError(f"{path} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise FixtureError(f"{path} must hold a mapping at the top level")
    return data


def _uuid(value: Any, what: str) -> str:
    try:
        return str(uuid.UUID(str(value)))
    except ValueError as exc:
        raise ValueError(f"{what} {value!r} is not a UUID") from exc


def _time(value: Any) -> float:
    if isinstance(value, datetime):
        return value.timestamp()
    return parse_rfc3339(str(value))


def _project(raw: dict[str, Any]) -> Project:
    return Project(
        id=_uuid(raw["id"], "project id"),
        name=str(raw["name"]),
        title=str(raw.get("title", raw["name"])),
        org_id=str(raw.get("org_id", "")),
        members_count=int(raw.get("members_count", 1)),
        created_at=_time(raw["created_at"]),
        updated_at=_time(raw.get("updated_at", raw["created_at"])),
        metadata=dict(raw.get("metadata") or {}),
    )


def _keys(accounts: list[dict[str, Any]], projects: dict[str, Project]) -> dict[str, ApiKey]:
    keys: dict[str, ApiKey] = {}
    for account in accounts:
        project_ids = frozenset(_uuid(p, "project id") for p in account["projects"])
        unknown = project_ids - projects.keys()
        if unknown:
            raise ValueError(f"service account {account['name']} names unknown projects {unknown}")
        for raw in account["keys"]:
            key = str(raw["key"])
            if key in keys:
                raise ValueError(f"API key {key} is listed twice")
            revoked_at = raw.get("revoked_at")
            keys[key] = ApiKey(
                key=key,
                service_account_id=_uuid(account["id"], "service account id"),
                service_account_name=str(account["name"]),
                project_ids=project_ids,
                revoked=bool(raw.get("revoked", False)),
                revoked_at=_time(revoked_at) if revoked_at is not None else None,
            )
    return keys


def _blocks(raw_blocks: list[dict[str, Any]]) -> dict[str, tuple[BlockVersion, ...]]:
    blocks: dict[str, tuple[BlockVersion, ...]] = {}
    for raw in raw_blocks:
        block_id = _uuid(raw["id"], "block id")
        blocks[raw["name"]] = tuple(
            BlockVersion(
                block_id=block_id,
                version_id=str(uuid.uuid5(uuid.UUID(block_id), str(v["version"]))),
                name=str(raw["name"]),
                title=str(raw.get("title", raw["name"])),
                type=str(raw.get("type", "processing")),
                description=str(raw.get("description", "")),
                modes=tuple(raw.get("modes", ("workflow",))),
                supported_collections_id=tuple(raw.get("supported_collections_id", ())),
                inputs=tuple(raw.get("inputs", ())),
                outputs=tuple(raw.get("outputs", ())),
                version=str(v["version"]),
                estimated_time_duration=int(v["estimated_time_duration"]),
                price=int(v.get("price", 0)),
                created_at=_time(v["created_at"]),
                block_status=str(v.get("block_status", "released")),
            )
            for v in raw["versions"]
        )
    return blocks


def _workflow(
    raw: dict[str, Any],
    blocks: dict[str, tuple[BlockVersion, ...]],
    projects: dict[str, Project],
) -> Workflow:
    project_id = _uuid(raw["project_id"], "workflow project_id")
    if project_id not in projects:
        raise ValueError(f"workflow {raw['name']} names unknown project {project_id}")
    tasks: list[TaskTemplate] = []
    for task in raw["tasks"]:
        ref = task["block"]
        block = next(
            (b for b in blocks.get(ref["name"], ()) if b.version == str(ref["version"])), None
        )
        if block is None:
            raise ValueError(f"task {task['name']} names unknown block {ref}")
        known = {t.name for t in tasks}
        missing = [dep for dep in task.get("depends_on", []) if dep not in known]
        if missing:
            raise ValueError(
                f"task {task['name']} depends on {missing}, which are not listed before it"
            )
        failure = task.get("mock_failure")
        if failure and failure["failure_type"] not in FAILURE_TYPES:
            raise ValueError(f"task {task['name']}: failure_type must be one of {FAILURE_TYPES}")
        tasks.append(
            TaskTemplate(
                name=str(task["name"]),
                block=block,
                depends_on=tuple(task.get("depends_on", ())),
                inputs={k: str(v) for k, v in (task.get("inputs") or {}).items()},
                failure=TaskFailure(failure["failure_type"], failure["err_msg"])
                if failure
                else None,
            )
        )
    if len({t.name for t in tasks}) != len(tasks):
        raise ValueError(f"workflow {raw['name']} repeats a task name")
    return Workflow(
        id=_uuid(raw["id"], "workflow id"),
        project_id=project_id,
        name=str(raw["name"]),
        description=str(raw.get("description", "")),
        created_by=str(raw.get("created_by", "")),
        created_at=_time(raw["created_at"]),
        updated_at=_time(raw.get("updated_at", raw["created_at"])),
        tasks=tuple(tasks),
    )
