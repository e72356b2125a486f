"""The contract suite that `pixxel-mock contract` runs (pytest collects it by path).

Three parts: schemathesis over every operation (positive and negative data, every
check but those the summary lists as skipped), the stateful phase through the
spec's links, and the harness's own checks (the 403 key rule, lifecycle properties).
"""

from __future__ import annotations

from typing import Any

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck
from schemathesis.checks import ignored_auth, not_a_server_error, positive_data_acceptance
from schemathesis.core.errors import NoLinksFound
from schemathesis.core.failures import FailureGroup

from pixxel_mock.contract.lifecycle import LifecycleMachine
from pixxel_mock.contract.results import Results
from pixxel_mock.contract.target import (
    SEMANTIC_REFUSAL_CODE,
    SEMANTIC_REFUSALS,
    WRITE_OPERATIONS,
)
from pixxel_mock.server.handling import FAULT_HEADER
from pixxel_mock.server.spec.document import ApiSpec, compile_schema, first_error
from pixxel_mock.server.spec.resources import API_SPEC

schema = schemathesis.pytest.from_fixture("contract_schema")
FAULT_BLIND_CHECKS = (ignored_auth,)  # see target.skipped()
# the codes of the mock's request validation: any other 400 or 409 is the domain refusing a
# request its schema allows (an item the archive lacks, a name already taken)
VALIDATION_CODES = frozenset(
    {"invalid_parameter", "missing_parameter", "duplicate_parameter", "unexpected_body"}
    | {"missing_body", "invalid_body"}
)
SPEC = ApiSpec.load(API_SPEC)
ERROR_SCHEMA = compile_schema(SPEC.resolved["components"]["schemas"]["Error"])


def _settings(max_examples: int, **extra: Any) -> hypothesis.settings:
    return hypothesis.settings(
        max_examples=max_examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
        **extra,
    )


def _validated(case: Any, results: Results, call: Any) -> Any:
    label = case.operation.label
    try:
        response = call()
    except FailureGroup as group:
        results.record(label, list(group.exceptions), case.as_curl_command())
        raise
    results.record(label)
    return response


OPERATION_IDS = {(op.method, op.path): op.operation_id for op in SPEC.operations.values()}


def _checks_for(case: Any, response: Any, options: Any) -> dict[str, Any]:
    """A simulated fault (X-Mock-Fault) is a documented 429/5xx, not a server error;
    with faults on, checks that send their own probes cannot tell a fault from a bug;
    a refusal by the domain is no rejection of valid data."""
    excluded = [check for check in FAULT_BLIND_CHECKS if options.scenarios]
    if FAULT_HEADER.lower() in response.headers:
        excluded.append(not_a_server_error)
    if _domain_refusal(case, response):
        excluded.append(positive_data_acceptance)
    return {"excluded_checks": excluded}


def _domain_refusal(case: Any, response: Any) -> bool:
    """A documented 400 or 409 of the domain, not of the validation: data valid by the
    schema that names what does not exist or is taken (no schema can say which exist),
    or a search's semantic refusal (target.SEMANTIC_REFUSALS)."""
    if response.status_code not in (400, 409):
        return False
    try:
        code = response.json()["error"]["code"]
    except (ValueError, KeyError, TypeError):
        return False
    operation = OPERATION_IDS.get((case.method.upper(), case.path))
    return code not in VALIDATION_CODES or (
        code == SEMANTIC_REFUSAL_CODE and operation in SEMANTIC_REFUSALS
    )


@schema.parametrize()
def test_operation(case: Any, contract_options: Any, contract_results: Results) -> None:
    if case.method.upper() == "POST" and not contract_options.writes_allowed:
        # schemathesis probes a method the filtered schema lacks as "unsupported": on the
        # path of a write operation, that POST would write, so it is never sent.
        written = [op for op in WRITE_OPERATIONS if SPEC.operations[op].path == case.path]
        if written:
            pytest.skip(WRITE_OPERATIONS[written[0]])
    response = case.call()
    checks = _checks_for(case, response, contract_options)
    _validated(case, contract_results, lambda: case.validate_response(response, **checks))


def test_stateful_links(
    contract_schema: Any, contract_options: Any, contract_results: Results
) -> None:
    """Create job -> get job -> download job -> download task, following the spec's links."""

    class Recording(contract_schema.as_state_machine()):  # type: ignore[misc]
        def validate_response(self, response: Any, case: Any, **kwargs: Any) -> None:
            _validated(
                case,
                contract_results,
                lambda: case.validate_response(
                    response, **_checks_for(case, response, contract_options)
                ),
            )

    try:
        Recording.run(
            settings=_settings(
                contract_options.max_examples, stateful_step_count=contract_options.stateful_steps
            )
        )
    except NoLinksFound:
        pytest.skip("no link joins the operations named by --operation")


def _example_request(operation_id: str) -> tuple[str, str]:
    """A request that is valid by the spec, built from the parameters' examples."""
    operation = SPEC.operations[operation_id]
    raw = SPEC.resolved["paths"][operation.path][operation.method.lower()]
    examples = {p["name"]: p.get("example", "x") for p in raw.get("parameters", [])}
    path = operation.path
    query = []
    for parameter in operation.parameters:
        if parameter.location == "path":
            path = path.replace("{" + parameter.name + "}", str(examples[parameter.name]))
        elif parameter.location == "query" and parameter.required:
            query.append(f"{parameter.name}={examples[parameter.name]}")
    return operation.method, path + ("?" + "&".join(query) if query else "")


SECURED = sorted(op.operation_id for op in SPEC.operations.values() if op.secured)


@pytest.mark.parametrize("operation_id", SECURED)
@pytest.mark.parametrize("key", [None, "pxm-contract-invalid-key"], ids=["missing", "invalid"])
def test_keys_are_enforced_with_403(
    operation_id: str,
    key: str | None,
    contract_options: Any,
    contract_transport: Any,
    contract_results: Results,
) -> None:
    """Pixxel answers 403 (never 401) to a missing or unknown key, in the error envelope."""
    if not contract_options.selects(operation_id):
        pytest.skip("not named by --operation")
    if operation_id in WRITE_OPERATIONS and not contract_options.writes_allowed:
        pytest.skip(WRITE_OPERATIONS[operation_id])
    method, url = _example_request(operation_id)
    headers = {"Authorization": key} if key else {}
    reply = contract_transport.request(method, url, headers=headers)
    if FAULT_HEADER in reply.headers:
        pytest.skip(f"a simulated fault answered ({reply.headers[FAULT_HEADER]})")
    problem = None
    if reply.status != 403:
        problem = f"{'missing' if key is None else 'invalid'} key answered {reply.status}, not 403"
    else:
        error = first_error(ERROR_SCHEMA, reply.json())
        problem = f"403 body is not the error envelope: {error}" if error else None
    curl = f"curl -X {method} '{url}'" + (f" -H 'Authorization: {key}'" if key else "")
    contract_results.record_own(
        f"{method} {SPEC.operations[operation_id].path}", "keys_enforced_403", problem, curl
    )
    assert problem is None, problem


def test_lifecycle_properties(
    contract_options: Any, contract_transport: Any, contract_results: Results
) -> None:
    """The hypothesis state machine; it needs the mock's control API (not on the real API).
    It creates and reads jobs, so it runs when createJob is tested."""
    if not contract_options.selects("createJob"):
        pytest.skip("createJob is not named by --operation")
    if (
        not contract_options.in_process
        and contract_transport.request("GET", "/__mock/clock").status != 200
    ):
        pytest.skip(
            "the target has no pixxel-mock control API (a real API): lifecycle runs on mocks"
        )

    class Machine(LifecycleMachine):
        transport = contract_transport

    try:
        hypothesis.stateful.run_state_machine_as_test(
            Machine, settings=_settings(contract_options.max_examples, stateful_step_count=15)
        )
    except AssertionError as exc:
        contract_results.record_own("lifecycle", "lifecycle_properties", str(exc).splitlines()[0])
        raise
    contract_results.record_own("lifecycle", "lifecycle_properties", None)
