"""Build the schemathesis schema for a target: the in-process mock, or a live base URL."""

from __future__ import annotations

from typing import Any

import schemathesis
from schemathesis import GenerationMode
from schemathesis.config import SchemathesisConfig
from schemathesis.config._checks import (
    NEGATIVE_DATA_REJECTION_EXPECTED_STATUSES,
    MissingRequiredHeaderConfig,
    NegativeDataRejectionConfig,
)

from pixxel_mock.contract.options import ContractOptions
from pixxel_mock.contract.transport import HttpTransport, Transport, WsgiTransport, per_second
from pixxel_mock.server import create_app
from pixxel_mock.server.spec.resources import API_SPEC

# The in-process twin: a fast clock so jobs finish and downloads get ready within
# a stateful scenario, and test mode so a response breaking the spec is a 500.
IN_PROCESS_CONFIG = {"clock_mode": "wall", "speed": 100_000.0, "validate_responses": True}

# Left out, with the reason the summary prints.
EXCLUDED_CHECKS = {
    "missing_required_header": (
        "hard-codes 401 for a missing Authorization header; Pixxel documents 403"
        " (the suite's own key check, test_keys_are_enforced_with_403, covers it)"
    ),
}
# Operations with rules JSON Schema cannot state (a bbox's south <= north, a closed polygon
# ring, a satellite's own collection): a schema-valid request may answer a documented 400
# naming the field, code `invalid_parameter`. positive_data_acceptance takes those only.
SEMANTIC_REFUSALS = {
    "searchArchive": "bbox south <= north, polygon rings closed and simple, intervals in order",
    "searchSatelliteImages": "the satellite's own collections, start_date <= end_date",
    "searchCatalogs": "bbox or intersects (not both), south <= north, rings closed, intervals in order",
    "listOrderItems": "created_at's instants are real dates and in order; area's min <= max",
}
SEMANTIC_REFUSAL_CODE = "invalid_parameter"
SHADOWED_BLOCK_NAMES = ("workflows", "insights")  # /v0/blocks/{name} vs the literal lists
WRITE_OPERATIONS = {
    "createJob": "creates a billable job; pass --allow-writes to include it",
    "createAoi": "creates an AOI in a project of the key; pass --allow-writes to include it",
    "createIndex": "creates a custom index in the key's workspace; pass --allow-writes to include it",
    "createVisualization": "creates a visualization of an AOI; pass --allow-writes to include it",
    "updateVisualizationMetadata": "changes a visualization's legend; pass --allow-writes to include it",
    "rollbackVisualizationMetadata": "changes a visualization's legend; pass --allow-writes to include it",
    "createInsights": "runs a billable insight on an AOI; pass --allow-writes to include it",
    "deleteInsights": "deletes an insight of an AOI; pass --allow-writes to include it",
    "submitOrder": "places an order that spends tokens; pass --allow-writes to include it",
    "createStore": "creates a store in the key's workspace; pass --allow-writes to include it",
    "deleteStore": "deletes a store of the key's workspace; pass --allow-writes to include it",
    "createDelivery": "pushes imagery to a store; pass --allow-writes to include it",
    "createDownload": "prepares a download of catalog imagery; pass --allow-writes to include it",
}


def in_process_app(options: ContractOptions) -> Any:
    return create_app({**IN_PROCESS_CONFIG, "seed": options.seed, "scenarios": options.scenarios})


def build_schema(options: ContractOptions, app: Any = None) -> Any:
    """The contract loaded for the target, with the harness's settings applied."""
    # Its own settings only: never a schemathesis.toml the working directory happens to hold
    # (the repository's configures plain CLI runs; a user's project may have its own).
    schema = schemathesis.openapi.from_path(str(API_SPEC), config=_config(options))
    if options.in_process:
        schema.app = app if app is not None else in_process_app(options)
    else:
        schema.config.update(base_url=options.base_url)
    schema.config.update(
        headers={"Authorization": options.api_key}, rate_limit=options.effective_rate_limit
    )
    schema.config.seed = options.seed
    schema.config.generation.update(
        modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
        max_examples=options.max_examples,
        deterministic=True,
        database="none",
    )
    schema.config.checks.missing_required_header = MissingRequiredHeaderConfig(enabled=False)
    # a schema-violating body can also be too large: its documented 413 rejects it too
    schema.config.checks.negative_data_rejection = NegativeDataRejectionConfig(
        expected_statuses=[*NEGATIVE_DATA_REJECTION_EXPECTED_STATUSES, "413"]
    )
    schema.hook(filter_path_parameters)
    if not options.writes_allowed:
        for operation_id in WRITE_OPERATIONS:
            schema = schema.exclude(operation_id=operation_id)
    return schema


def _config(options: ContractOptions) -> SchemathesisConfig:
    """--operation as schemathesis' own `[[operations]]` setting: the one filter that both
    its pytest loader and its state machine obey, so unnamed operations are never built."""
    if not options.operations:
        return SchemathesisConfig()
    unnamed = {"exclude-operation-id": list(options.operations), "enabled": False}
    return SchemathesisConfig.from_dict({"operations": [unnamed]})


def filter_path_parameters(ctx: Any, path_parameters: dict[str, Any] | None) -> bool:
    """A block named like a literal sibling route (`/v0/blocks/workflows`) is never
    reached: the literal route answers, as on Pixxel. Not a case of the {name} operations."""
    return not path_parameters or path_parameters.get("name") not in SHADOWED_BLOCK_NAMES


def transport_for(options: ContractOptions, app: Any) -> Transport:
    if options.in_process:
        return WsgiTransport(app)
    assert options.base_url is not None
    return HttpTransport(options.base_url, per_second(options.effective_rate_limit))


def skipped(options: ContractOptions) -> dict[str, str]:
    """What the run leaves out, and why."""
    reasons = {f"check {name}": why for name, why in EXCLUDED_CHECKS.items()}
    if not options.writes_allowed:
        reasons.update({f"operation {op}": why for op, why in WRITE_OPERATIONS.items()})
    reasons.update(
        {
            f"check positive_data_acceptance on a 400 {SEMANTIC_REFUSAL_CODE} of {op}": why
            for op, why in SEMANTIC_REFUSALS.items()
        }
    )
    if options.operations:
        reasons["operations not named by --operation"] = (
            f"only {', '.join(options.operations)} were asked for"
        )
    if options.scenarios:
        reasons["check ignored_auth"] = (
            f"faults on ({', '.join(options.scenarios)}): its own unauthenticated probes may"
            " meet a simulated fault; it runs in the fault-free contract run"
        )
    return reasons
