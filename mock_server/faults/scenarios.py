"""The scenario library (fixtures/scenarios/*.yaml) and `--scenario`: named bundles of
fault rules and domain scenarios, validated against openapi/control.yaml at load."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..model.faults import FaultRule, merge_scenarios, with_absolute_times
from ..model.service import ServerRules
from ..spec import ApiSpec, Operation, compile_schema, first_error
from ..wire.errors import ApiError
from ..yamlio import read_yaml


class ScenarioError(ValueError):
    """A scenario file that cannot be used; the message names the file and the reason."""


@dataclass(frozen=True)
class ScenarioFile:
    name: str
    description: str
    content: dict[str, Any]

    @property
    def faults(self) -> list[dict[str, Any]]:
        """The file's rules, with ids prefixed by the scenario name (so they never collide)."""
        return [
            {**rule, "id": f"{self.name}.{rule.get('id') or index + 1}"}
            for index, rule in enumerate(self.content.get("faults") or [])
        ]


class ScenarioLoader:
    """Reads and checks scenario files against the control spec and the API's operations."""

    def __init__(self, api_spec: ApiSpec, control_spec: ApiSpec) -> None:
        schemas = control_spec.resolved["components"]["schemas"]
        self._validator = compile_schema(schemas["ScenarioFile"])
        self._operations = list(api_spec.operations.values())

    def load(self, path: Path) -> ScenarioFile:
        try:
            content = read_yaml(path) or {}
        except (OSError, ValueError) as exc:
            raise ScenarioError(f"scenario {path}: {exc}") from exc
        problem = first_error(self._validator, content)
        if problem:
            raise ScenarioError(f"scenario {path}: {problem}")
        scenario = ScenarioFile(path.stem, str(content.get("description", "")).strip(), content)
        try:
            self.check_faults(scenario.faults)
        except ApiError as exc:
            raise ScenarioError(f"scenario {path}: {exc.message}") from exc
        return scenario

    def check_faults(self, faults: list[dict[str, Any]]) -> None:
        for rule in faults:
            validate_rule_statuses(
                FaultRule.from_json(rule, "namespace", rule["id"]), self._operations
            )

    def library(self, directory: Path) -> dict[str, ScenarioFile]:
        if not directory.is_dir():
            return {}
        return {path.stem: self.load(path) for path in sorted(directory.glob("*.yaml"))}

    def resolve(self, reference: str, library: dict[str, ScenarioFile]) -> ScenarioFile:
        """A library name, or the path of a scenario file."""
        if reference in library:
            return library[reference]
        path = Path(reference)
        if path.is_file():
            return self.load(path)
        names = ", ".join(sorted(library)) or "none"
        raise ScenarioError(f"no scenario {reference!r} (library: {names}; or give a file path)")


def server_rules(files: list[ScenarioFile], now: float) -> ServerRules:
    faults = tuple(
        FaultRule.from_json(rule, "server", rule["id"]) for file in files for rule in file.faults
    )
    scenario = merge_scenarios(
        with_absolute_times(f.content.get("scenario") or {}, now) for f in files
    )
    return ServerRules(faults=faults, scenario=scenario)


def validate_rule_statuses(rule: FaultRule, operations: list[Operation]) -> None:
    """Refuse a rule that could answer a status its operations do not document."""
    for operation in operations:
        if not rule.applies_to(
            operation.method, operation.path, operation.operation_id, operation.secured
        ):
            continue
        for status in rule.action.statuses:
            if str(status) not in operation.responses:
                raise ApiError(
                    400,
                    "invalid_body",
                    f"status {status} is not documented for {operation.operation_id}; a fault"
                    " may only answer a status its operation documents.",
                    {"operation_id": operation.operation_id, "status": status},
                )
