"""Hypothesis strategies of server behaviours: what the Pixxel API may do to a client.

Nothing is listed by hand: the space comes from the statuses each operation documents
(openapi/pixxel.yaml) that a fault rule may answer (openapi/control.yaml), the headers
those responses declare (Retry-After on 429), the tasks of the fixture workflows, the
failure types, AOI outcomes and shortest URL lifetime of the scenario schema, and the failure messages of
the fixtures and the scenario library. A behaviour is the content of a scenario file,
`{"faults": [...], "scenario": {...}}`, so what `pixxel-mock serve --scenario FILE` and the
fixture's `apply_scenario` take. Shrinking goes toward fewer faults, earlier and shorter
request windows, the first status of each operation and no domain scenario.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from pixxel_mock.contract.keys import client_key
from pixxel_mock.server.faults.scenarios import ScenarioLoader
from pixxel_mock.server.model.catalog import load_catalog
from pixxel_mock.server.spec.document import ApiSpec
from pixxel_mock.server.spec.resources import API_SPEC, CONTROL_SPEC, FIXTURES_DIR


@dataclass(frozen=True)
class BehaviourSpace:
    """What a behaviour may contain, derived from the contract and the fixtures."""

    statuses: dict[str, tuple[int, ...]]  # operationId -> statuses a fault may answer there
    retry_after: frozenset[tuple[str, int]]  # (operationId, status) whose answer has Retry-After
    tasks: tuple[str, ...]
    failure_types: tuple[str, ...]
    # err_msg of the fixtures' failing tasks and of the library's task and insight failures
    messages: tuple[str, ...]
    min_url_ttl: int  # the shortest signed-URL lifetime a scenario may set
    aoi_outcomes: tuple[str, ...]  # how a scenario may make AOIs end, success aside
    visualization_outcomes: tuple[str, ...]  # and visualizations
    order_outcomes: tuple[str, ...]  # and tasking order items (infeasible, cloudy, ...)
    delivery_outcomes: tuple[str, ...]  # and deliveries to stores (failed)
    key: str  # the fixtures' first usable key: the client's, unless explore is given another

    @classmethod
    def derive(
        cls,
        operations: Collection[str] | None = None,
        statuses: Collection[int] | None = None,
        workflows: Collection[str] | None = None,
        fixtures_dir: Path = FIXTURES_DIR,
    ) -> BehaviourSpace:
        """`operations`: the operationIds to break (default: every one that takes a key);
        `statuses`: only these of the statuses they document (default: all a fault may);
        `workflows`: the ids whose tasks may fail (default: every fixture workflow)."""
        api, control = ApiSpec.load(API_SPEC), ApiSpec.load(CONTROL_SPEC)
        schemas = control.resolved["components"]["schemas"]
        action = schemas["FaultRuleFields"]["properties"]["action"]["properties"]
        allowed = set(action["status"]["enum"]) & set(statuses or action["status"]["enum"])
        task_failure = schemas["Scenario"]["properties"]["task_failures"]["items"]
        chosen = [
            op
            for op in api.operations.values()
            if op.secured and (operations is None or op.operation_id in operations)
        ]
        documented = {
            op.operation_id: tuple(
                sorted(int(s) for s in op.responses if s.isdigit() and int(s) in allowed)
            )
            for op in chosen
        }
        retry_after = frozenset(
            (op.operation_id, int(status))
            for op in chosen
            for status, response in op.responses.items()
            if status.isdigit() and "Retry-After" in (response.get("headers") or {})
        )
        catalog = load_catalog(fixtures_dir)
        tasks = sorted(
            {
                task.name
                for workflow in catalog.workflows.values()
                if workflows is None or workflow.id in workflows
                for task in workflow.tasks
            }
        )
        library = ScenarioLoader(api, control).library(fixtures_dir / "scenarios")
        messages = {
            task.failure.err_msg
            for workflow in catalog.workflows.values()
            for task in workflow.tasks
            if task.failure
        } | {
            failure["err_msg"]
            for scenario in library.values()
            for kind in ("task_failures", "insight_failures")
            for failure in (scenario.content.get("scenario") or {}).get(kind, [])
            if "err_msg" in failure
        }
        ttl = schemas["Scenario"]["properties"]["signed_urls"]["properties"]["ttl_seconds"]
        scenario = schemas["Scenario"]["properties"]
        outcome = scenario["aoi_outcomes"]["items"]["properties"]["outcome"]
        shown = scenario["visualization_outcomes"]["items"]["properties"]["outcome"]
        ordered = scenario["order_outcomes"]["items"]["properties"]["outcome"]
        delivered = scenario["delivery_outcomes"]["items"]["properties"]["outcome"]
        return cls(
            statuses={op: found for op, found in documented.items() if found},
            retry_after=retry_after,
            tasks=tuple(tasks),
            failure_types=tuple(task_failure["properties"]["failure_type"]["enum"]),
            messages=tuple(sorted(messages)),
            min_url_ttl=int(ttl["minimum"]),
            aoi_outcomes=tuple(o for o in outcome["enum"] if o != "success"),
            visualization_outcomes=tuple(o for o in shown["enum"] if o != "success"),
            order_outcomes=tuple(o for o in ordered["enum"] if o != "success"),
            delivery_outcomes=tuple(o for o in delivered["enum"] if o != "success"),
            key=client_key(catalog),
        )


@st.composite
def _status_fault(draw: Any, space: BehaviourSpace, retry_after: st.SearchStrategy[int]) -> dict:
    """A documented error status on the Nth to Mth call of one operation."""
    operation = draw(st.sampled_from(sorted(space.statuses)))
    status = draw(st.sampled_from(space.statuses[operation]))
    first = draw(st.integers(1, 8))
    last = first + draw(st.integers(0, 8))
    action: dict[str, Any] = {"status": status}
    if (operation, status) in space.retry_after:
        action["headers"] = {"Retry-After": str(draw(retry_after))}
    return {
        "match": {"operation_id": operation, "requests": {"from": first, "to": last}},
        "action": action,
    }


def _revocation(key: str) -> st.SearchStrategy[dict]:
    """The key revoked from its Nth call on: every secured call answers 403."""
    return st.integers(1, 20).map(
        lambda n: {"match": {"key": key, "requests": {"from": n}}, "action": {"status": 403}}
    )


def _one_outcome(outcomes: tuple[str, ...]) -> st.SearchStrategy[list[dict]]:
    """A scenario's list of one entry that ends every matching resource so."""
    return st.lists(
        st.fixed_dictionaries({"outcome": st.sampled_from(outcomes)}), min_size=1, max_size=1
    )


def _scenario(space: BehaviourSpace) -> st.SearchStrategy[dict]:
    task_failure = st.fixed_dictionaries(
        {
            "task": st.sampled_from(space.tasks),
            "failure_type": st.sampled_from(space.failure_types),
            "err_msg": st.sampled_from(space.messages),
        }
    )
    return st.fixed_dictionaries(
        {},
        optional={
            "task_failures": st.lists(task_failure, min_size=1, max_size=1),
            "downloads": st.fixed_dictionaries({"pending_polls": st.integers(1, 12)}),
            "signed_urls": st.fixed_dictionaries(
                {"ttl_seconds": st.integers(space.min_url_ttl, 3600)}
            ),
            "aoi_outcomes": _one_outcome(space.aoi_outcomes),
            "aoi_downloads": st.fixed_dictionaries(
                {"pending_seconds": st.integers(1, 600), "pending_polls": st.integers(1, 12)}
            ),
            "visualization_outcomes": _one_outcome(space.visualization_outcomes),
            "insight_failures": st.lists(
                st.fixed_dictionaries({"err_msg": st.sampled_from(space.messages)}),
                min_size=1,
                max_size=1,
            ),
            "insight_downloads": st.fixed_dictionaries(
                {"pending_seconds": st.integers(1, 600), "pending_polls": st.integers(1, 12)}
            ),
            "order_outcomes": _one_outcome(space.order_outcomes),
            "delivery_outcomes": _one_outcome(space.delivery_outcomes),
        },
    )


def server_behaviours(
    key: str | None = None,
    space: BehaviourSpace | None = None,
    max_faults: int = 3,
    retry_after: st.SearchStrategy[int] | None = None,
    revocations: bool = True,
    scenarios: bool = True,
) -> st.SearchStrategy[dict]:
    """Behaviours for a client that uses `key` (default: the space's); each is
    `{"faults": [...], "scenario": {...}}`.

    `retry_after`: the seconds a Retry-After header asks for (default 0 or 1: real seconds
    the client sleeps, so kept short). `revocations`, `scenarios`: include key revocations
    and domain scenarios (failing tasks, pending packages, short-lived signed URLs, failing
    AOIs and visualizations, pending AOI downloads, failing insights, pending insight
    packages, infeasible, cloudy and expired tasking, failing deliveries)."""
    space = space or BehaviourSpace.derive()
    waits = retry_after if retry_after is not None else st.sampled_from([0, 1])
    fault = _status_fault(space, waits)
    if revocations:
        fault = st.one_of(fault, _revocation(key or space.key))
    return st.builds(
        _numbered,
        st.lists(fault, max_size=max_faults),
        _scenario(space) if scenarios else st.just({}),
    )


def _numbered(faults: list[dict], scenario: dict) -> dict:
    """Ids that say where each rule came from, in the order they were drawn."""
    return {
        "faults": [{"id": f"explore-{n}", **fault} for n, fault in enumerate(faults, start=1)],
        "scenario": scenario,
    }
