"""The scenario library (fixtures/scenarios/*.yaml) and `--scenario`: named bundles of
fault rules, domain scenarios and recordings to replay, validated against
openapi/control.yaml at load."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from pixxel_mock.server.faults.replay import parse_recording, read_recording, spec_violations
from pixxel_mock.server.handling import ApiError
from pixxel_mock.server.model.faults import FaultRule, merge_scenarios, with_absolute_times
from pixxel_mock.server.model.replay import recording_id
from pixxel_mock.server.model.sessions import ServerRules
from pixxel_mock.server.model.timefmt import rfc3339
from pixxel_mock.server.spec.document import ApiSpec, Operation, compile_schema, first_error
from pixxel_mock.server.spec.yamlio import read_yaml_cached
from pixxel_mock.server.state.store import Store

log = logging.getLogger(__name__)
SCENARIO_NAME = re.compile(r"[a-z0-9-]{1,64}")


class ScenarioError(ValueError):
    """A scenario file that cannot be used; the message names the file and the reason."""


@dataclass(frozen=True)
class ScenarioFile:
    name: str
    description: str
    content: dict[str, Any]
    recording: str | None = None  # the text of the file named by `replay:`

    @property
    def faults(self) -> list[dict[str, Any]]:
        """The file's rules, with ids prefixed by the scenario name (so they never collide)."""
        return [
            {**rule, "id": f"{self.name}.{rule.get('id') or index + 1}"}
            for index, rule in enumerate(self.content.get("faults") or [])
        ]

    def scenario(self, now: float) -> dict[str, Any]:
        """The file's domain scenario from `now` on; its replay, if any, starts then."""
        scenario = with_absolute_times(self.content.get("scenario") or {}, now)
        replay = self.content.get("replay")
        if replay is None or self.recording is None:
            return scenario
        settings = {k: v for k, v in replay.items() if k != "file"}
        return {
            **scenario,
            "replay": {
                "recording": recording_id(self.recording),
                **settings,
                "started": rfc3339(now),
            },
        }


class ScenarioLoader:
    """Reads and checks scenario files against the control spec and the API's operations."""

    def __init__(self, api_spec: ApiSpec, control_spec: ApiSpec) -> None:
        schemas = control_spec.resolved["components"]["schemas"]
        self._validator = compile_schema(schemas["ScenarioFile"])
        self._operations = list(api_spec.operations.values())
        self._api_spec = api_spec

    def load(self, path: Path) -> ScenarioFile:
        try:
            content = read_yaml_cached(path) or {}
        except (OSError, ValueError) as exc:
            raise ScenarioError(f"scenario {path}: {exc}") from exc
        return self._scenario(path, content)

    def replay_file(self, recording: Path, strict: bool, timing: str) -> ScenarioFile:
        """`serve --replay FILE`: a scenario that replays one recording."""
        content = {
            "description": f"replay of {recording}",
            "replay": {"file": str(recording.resolve()), "strict": strict, "timing": timing},
        }
        return self._scenario(Path("replay"), content)

    def _scenario(self, path: Path, content: Any) -> ScenarioFile:
        problem = first_error(self._validator, content)
        if problem:
            raise ScenarioError(f"scenario {path}: {problem}")
        recording = None
        if "replay" in content:
            source = path.parent / content["replay"]["file"]
            try:
                recording = read_recording(source)
                violations = spec_violations(recording, str(source), self._api_spec)
            except (OSError, ValueError) as exc:
                raise ScenarioError(f"scenario {path}: recording {source}: {exc}") from exc
            for violation in violations:
                log.warning("replay %s contradicts the spec: %s", source, violation)
        scenario = ScenarioFile(
            path.stem, str(content.get("description", "")).strip(), content, recording
        )
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
    scenario = merge_scenarios(f.scenario(now) for f in files)
    return ServerRules(faults=faults, scenario=scenario)


def install_recordings(files: Iterable[ScenarioFile], store: Store) -> None:
    """Keep the files' recordings in the state file, where every worker finds them."""
    for file in files:
        if file.recording is not None:
            store.put_recording(recording_id(file.recording), file.recording)


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


def write_replay_scenario(
    recording: Path, name: str, directory: Path, strict: bool, timing: str, description: str
) -> Path:
    """Keep a recording as a library scenario: DIR/NAME.har and DIR/NAME.yaml replaying it.

    Refuses to overwrite, and to copy a file that holds no recording."""
    if not SCENARIO_NAME.fullmatch(name):
        raise ScenarioError(f"scenario name {name!r}: use 1-64 of a-z, 0-9 and '-'")
    text = read_recording(recording)
    parse_recording(text, str(recording))
    directory.mkdir(parents=True, exist_ok=True)
    targets = [directory / f"{name}.har", directory / f"{name}.yaml"]
    if taken := [str(t) for t in targets if t.exists()]:
        raise ScenarioError(f"{', '.join(taken)} exist(s); choose another name")
    replay = {"file": targets[0].name, "timing": timing, **({"strict": True} if strict else {})}
    document = {"description": description or f"Replays {recording.name}.", "replay": replay}
    targets[0].write_text(text, encoding="utf-8")
    targets[1].write_text(
        f"# Reproduces: the traffic recorded in {recording.name} (see the README, Record and"
        " replay).\n" + yaml.safe_dump(document, sort_keys=False),
        encoding="utf-8",
    )
    return targets[1]
