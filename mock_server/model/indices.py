"""Spectral indices: presets seeded per satellite from `fixtures/indices.yaml`, and custom
ones a workspace creates, each a formula parsed (expressions.py) against its satellite's
bands.

A custom index belongs to the workspace that made it (the organisation of the key's
projects, `workspace_of`), in its namespace; presets are the same everywhere. A record
never changes: the API has no update or delete of an index.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pixxel_mock.server.model.catalog import ApiKey, FixtureError, Project, closed_fixture_problem
from pixxel_mock.server.model.errors import Conflict, InvalidInput
from pixxel_mock.server.model.expressions import Expression, ExpressionError, parse
from pixxel_mock.server.model.ids import derived_uuid
from pixxel_mock.server.model.sessions import Session
from pixxel_mock.server.model.timefmt import parse_rfc3339
from pixxel_mock.server.spec.yamlio import read_yaml_cached
from pixxel_mock.server.state.records import JobTable, RecordKind
from pixxel_mock.server.state.store import Store

INDICES_FILE = "indices.yaml"
PARTS = {"composite": 3, "index": 1, "grayscale": 1}  # formulas per expression type
LEGEND_TYPES = ("index",)  # expression types drawn through a legend


@dataclass(frozen=True)
class Index:
    """An index as the API shows it; `workspace` is "" for presets."""

    id: str
    name: str
    description: str
    expression: str
    colormap: str
    satellite_id: str
    rescale: tuple[int, int]
    expression_type: str
    type: str  # custom | preset
    created_at: float
    workspace: str
    parsed: Expression

    @property
    def bands(self) -> tuple[str, ...]:
        return self.parsed.bands


@dataclass(frozen=True)
class IndexRecord:
    namespace: str
    id: str
    seq: int
    workspace: str
    name: str
    description: str
    expression: str
    colormap: str
    satellite_id: str
    expression_type: str
    rescale_low: int
    rescale_high: int
    created_by: str
    created_at: float
    polls: int


INDICES = RecordKind.of_dataclass("indices", IndexRecord)


@dataclass(frozen=True)
class IndexFixtures:
    colormaps: Mapping[str, tuple[str, ...]]
    presets: tuple[Index, ...]


@dataclass(frozen=True)
class NewIndex:
    """A Create index body, as the contract let it through."""

    name: str
    description: str
    expression: str
    colormap: str
    satellite_id: str
    expression_type: str
    rescale: tuple[int, int]


def workspace_of(key: ApiKey, projects: Mapping[str, Project]) -> str:
    """The workspace a key acts for: the organisation of its projects (the first, sorted,
    if they span several), or its service account when no project names one."""
    orgs = sorted({projects[p].org_id for p in key.project_ids if projects[p].org_id})
    return orgs[0] if orgs else key.service_account_id


def workspaces_of(key: ApiKey, projects: Mapping[str, Project]) -> frozenset[str]:
    """Every workspace whose custom indices the key sees."""
    orgs = {projects[p].org_id for p in key.project_ids if projects[p].org_id}
    return frozenset(orgs or {key.service_account_id})


def load_index_fixtures(directory: Path, bands: Mapping[str, Sequence[str]]) -> IndexFixtures:
    """Read `indices.yaml` (closed) and parse every preset against its satellite's bands
    (`bands`: satellite id -> band names); a directory without the file has no presets."""
    path = Path(directory) / INDICES_FILE
    if not path.exists():
        return IndexFixtures({}, ())
    raw = read_yaml_cached(path)
    problem = closed_fixture_problem(INDICES_FILE, raw)
    if problem:
        raise FixtureError(f"{path}: {problem}")
    colormaps = {name: tuple(stops) for name, stops in raw["colormaps"].items()}
    created_at = parse_rfc3339(str(raw["created_at"]))
    presets = []
    for group in raw["presets"]:
        satellite_id = str(group["satellite_id"])
        if satellite_id not in bands:
            raise FixtureError(f"{path}: satellite {satellite_id} is not in archive.yaml")
        for entry in group["indices"]:
            new = NewIndex(
                name=entry["name"],
                description=entry["description"],
                expression=entry["expression"],
                colormap=entry["colormap"],
                satellite_id=satellite_id,
                expression_type=entry["expression_type"],
                rescale=(entry["rescale"][0], entry["rescale"][1]),
            )
            try:
                parsed = checked(new, bands[satellite_id], colormaps)
            except InvalidInput as exc:
                raise FixtureError(f"{path}: preset {new.name}: {exc.message}") from exc
            presets.append(
                _index(
                    derived_uuid("preset-index", satellite_id, new.name), new, parsed, created_at
                )
            )
    return IndexFixtures(colormaps, tuple(presets))


def checked(
    new: NewIndex, band_names: Sequence[str], colormaps: Mapping[str, object]
) -> Expression:
    """The parsed formula of a valid index, or a 400 naming the field that is wrong."""

    def refuse(parameter: str, code: str, message: str) -> InvalidInput:
        return InvalidInput(code, message, {"parameter": parameter, "in": "body"})

    try:
        parsed = parse(new.expression, band_names)
    except ExpressionError as exc:
        message = f"The expression is invalid: {exc}."
        raise refuse("expression", "invalid_expression", message) from exc
    wanted = PARTS[new.expression_type]
    if len(parsed.parts) != wanted:
        raise refuse(
            "expression",
            "invalid_expression",
            f"A {new.expression_type} expression has {wanted} comma-separated part(s),"
            f" not {len(parsed.parts)}.",
        )
    if new.expression_type != "composite" and new.colormap not in colormaps:
        raise refuse(
            "colormap",
            "invalid_colormap",
            f"Unknown colormap {new.colormap!r}; known: {', '.join(sorted(colormaps))}.",
        )
    if new.rescale[0] >= new.rescale[1]:
        raise refuse("rescale", "invalid_rescale", "rescale must be [low, high] with low < high.")
    return parsed


def _index(
    index_id: str, new: NewIndex, parsed: Expression, created_at: float, workspace: str = ""
) -> Index:
    return Index(
        id=index_id,
        name=new.name,
        description=new.description,
        expression=new.expression,
        colormap=new.colormap,
        satellite_id=new.satellite_id,
        rescale=new.rescale,
        expression_type=new.expression_type,
        type="custom" if workspace else "preset",
        created_at=created_at,
        workspace=workspace,
        parsed=parsed,
    )


class Indices:
    """Preset and custom indices; `bands` maps each satellite to its band names."""

    def __init__(
        self,
        store: Store,
        fixtures: IndexFixtures,
        bands: Mapping[str, Sequence[str]],
        projects: Mapping[str, Project],
        seed: int,
    ) -> None:
        self.records = store.register(JobTable(store.database, INDICES, store.namespaces))
        self.colormaps = fixtures.colormaps
        self._presets = fixtures.presets
        self._preset_by_id = {index.id: index for index in fixtures.presets}
        self._bands = bands
        self._projects = projects
        self._seed = seed

    def create(self, key: ApiKey, session: Session, new: NewIndex) -> Index:
        """Store a custom index of the key's workspace, refusing an unknown satellite, a
        bad formula or colormap, and a name the satellite's indices already use."""
        if new.satellite_id not in self._bands:
            raise InvalidInput(
                "invalid_satellite",
                f"Satellite {new.satellite_id} is not one of List Satellites.",
                {"parameter": "satellite_id", "in": "body"},
            )
        checked(new, self._bands[new.satellite_id], self.colormaps)
        workspace, namespace = workspace_of(key, self._projects), session.namespace
        name = new.name.strip().lower()
        index_id = derived_uuid(self._seed, namespace, "index", workspace, new.satellite_id, name)
        taken = Conflict(
            "duplicate_name",
            f"An index named {new.name!r} already exists for this satellite.",
            {"parameter": "name", "in": "body"},
        )
        if any(
            p.satellite_id == new.satellite_id and p.name.lower() == name for p in self._presets
        ):
            raise taken

        def build(seq: int) -> IndexRecord:
            if self.records.get(namespace, index_id) is not None:  # under the write lock
                raise taken
            return IndexRecord(
                namespace=namespace,
                id=index_id,
                seq=seq,
                workspace=workspace,
                name=new.name,
                description=new.description,
                expression=new.expression,
                colormap=new.colormap,
                satellite_id=new.satellite_id,
                expression_type=new.expression_type,
                rescale_low=new.rescale[0],
                rescale_high=new.rescale[1],
                created_by=key.service_account_id,
                created_at=session.now,
                polls=0,
            )

        return self._custom(self.records.insert(namespace, build))

    def visible(self, key: ApiKey, session: Session) -> list[Index]:
        """The presets, then the custom indices of the key's workspaces, oldest first."""
        workspaces = workspaces_of(key, self._projects)
        custom = [
            self._custom(record)
            for record in reversed(self.records.listing(session.namespace))
            if record.workspace in workspaces
        ]
        return [*self._presets, *custom]

    def get(self, key: ApiKey, session: Session, index_id: str) -> Index | None:
        """A preset, or a custom index of the key's workspaces; None otherwise."""
        preset = self._preset_by_id.get(index_id)
        if preset is not None:
            return preset
        record = self.records.get(session.namespace, index_id)
        if record is None or record.workspace not in workspaces_of(key, self._projects):
            return None
        return self._custom(record)

    def _custom(self, record: IndexRecord) -> Index:
        new = NewIndex(
            name=record.name,
            description=record.description,
            expression=record.expression,
            colormap=record.colormap,
            satellite_id=record.satellite_id,
            expression_type=record.expression_type,
            rescale=(record.rescale_low, record.rescale_high),
        )
        parsed = parse(record.expression, self._bands.get(record.satellite_id, ()))
        return _index(record.id, new, parsed, record.created_at, record.workspace)


def matches(index: Index, filters: Mapping[str, Any]) -> bool:
    """Whether the index passes every given filter (exact matches)."""
    return all(
        getattr(index, attribute) == filters[name]
        for name, attribute in (
            ("satellite_id", "satellite_id"),
            ("type", "type"),
            ("expression_type", "expression_type"),
            ("index_id", "id"),
        )
        if filters.get(name) is not None
    )
