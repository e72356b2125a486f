"""The lifecycle as a pure function of (record, workflow, time): no HTTP, no store."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from pixxel_mock.server.model.catalog import TaskFailure, TaskTemplate, Workflow, load_catalog
from pixxel_mock.server.model.ids import _ROOT, derived_uuid
from pixxel_mock.server.model.lifecycle import (
    JobOverrides,
    JobPlan,
    JobRecord,
    evaluate,
    plan_job,
)
from pixxel_mock.server.model.timefmt import rfc3339
from pixxel_mock.server.spec.resources import FIXTURES_DIR

from .helpers import WF_FAILING, WF_FANOUT, WF_LINEAR, WF_MANY

CATALOG = load_catalog(FIXTURES_DIR)
T0 = 1_772_791_200.0
JOB_RANK = {"queued": 0, "running": 1, "completed": 2, "failed": 2}
TASK_RANK = {"created": 0, "inprogress": 1, "completed": 2, "failed": 2}


def record(workflow: Workflow, overrides: JobOverrides | None = None) -> JobRecord:
    return JobRecord(
        namespace="default",
        id="job-1",
        seq=1,
        workflow_id=workflow.id,
        project_id=workflow.project_id,
        created_by="sa",
        created_at=T0,
        overrides=overrides or JobOverrides(),
    )


def plan(workflow: Workflow, overrides: JobOverrides | None = None, seed: int = 0) -> JobPlan:
    return plan_job(record(workflow, overrides), workflow, seed=seed, queue_seconds=10)


def moments(p: JobPlan) -> list[float]:
    """Every event, and points just before and after each."""
    times = {p.created_at, p.finished_at + 1000}
    for event in p.events:
        times |= {event - 0.5, event, event + 0.5}
    return sorted(times)


def check_invariants(p: JobPlan) -> None:
    previous = None
    for at in moments(p):
        state = evaluate(p, at)
        by_name = {t.plan.template.name: t for t in state.tasks}
        for task in state.tasks:
            if task.status != "created":
                for dep in task.plan.template.depends_on:
                    assert by_name[dep].status == "completed"
                    assert by_name[dep].finished_at <= task.recv_time
            stamps = [task.recv_time, task.send_time, task.inference_start, task.finished_at]
            set_stamps = [s for s in stamps if s is not None]
            assert set_stamps == sorted(set_stamps)
            assert (task.finished_at is not None) == (task.status in ("completed", "failed"))
            assert 0 <= task.progress <= 100
        assert (state.finished_at is not None) == state.is_terminal
        assert 0 <= state.progress <= 100
        assert state.updated_at >= p.created_at
        if previous is not None:
            assert JOB_RANK[state.status] >= JOB_RANK[previous.status]
            assert state.progress >= previous.progress
            assert state.updated_at >= previous.updated_at
            if previous.is_terminal:
                assert state.status == previous.status
            for old, new in zip(previous.tasks, state.tasks, strict=True):
                assert TASK_RANK[new.status] >= TASK_RANK[old.status]
                assert new.progress >= old.progress
                if old.status in ("completed", "failed"):
                    assert new.status == old.status
        previous = state


def test_fixture_workflows_keep_every_invariant() -> None:
    for workflow in CATALOG.workflows.values():
        check_invariants(plan(workflow))


def test_linear_workflow_runs_tasks_one_after_another() -> None:
    p = plan(CATALOG.workflows[WF_LINEAR])
    for before, after in zip(p.tasks, p.tasks[1:], strict=False):
        assert before.end == after.start
    assert evaluate(p, T0).status == "queued"
    assert evaluate(p, T0 + 10).status == "running"
    final = evaluate(p, p.finished_at)
    assert final.status == "completed" and final.progress == 100


def test_fan_out_runs_siblings_in_parallel_and_fan_in_waits_for_all() -> None:
    p = plan(CATALOG.workflows[WF_FANOUT])
    tasks = {t.template.name: t for t in p.tasks}
    assert tasks["ndvi"].start == tasks["crops"].start == tasks["water"].start == tasks["mask"].end
    assert tasks["report"].start == max(tasks[n].end for n in ("stats", "crops", "water"))


def test_failure_fails_the_job_and_its_dependants_never_start() -> None:
    p = plan(CATALOG.workflows[WF_FAILING])
    final = evaluate(p, p.finished_at + 1)
    tasks = {t.plan.template.name: t for t in final.tasks}
    assert final.status == "failed"
    assert tasks["water"].status == "failed"
    assert tasks["water"].plan.failure.failure_type == "runtime_exception"
    assert tasks["report"].status == "created"  # depends on the failed task
    assert tasks["ndvi"].status == "completed"  # already running when water failed: drains
    assert final.progress < 100


def test_injected_failure_and_slow_factor_are_part_of_the_record() -> None:
    workflow = CATALOG.workflows[WF_LINEAR]
    failing = plan(
        workflow, JobOverrides.of(failures={"mask": TaskFailure("bad_request", "no AOI")})
    )
    assert evaluate(failing, failing.finished_at).status == "failed"
    assert [t.start is not None for t in failing.tasks] == [True, True, False, False]
    normal, slow = plan(workflow), plan(workflow, JobOverrides(slow_factor=3.0))
    normal_span = normal.finished_at - normal.started_at
    assert abs((slow.finished_at - slow.started_at) - 3 * normal_span) < 1e-6


def test_plans_are_deterministic_per_seed() -> None:
    workflow = CATALOG.workflows[WF_MANY]
    assert plan(workflow, seed=1) == plan(workflow, seed=1)
    assert plan(workflow, seed=1).finished_at != plan(workflow, seed=2).finished_at


def test_polls_steps_walk_the_events_in_order() -> None:
    p = plan(CATALOG.workflows[WF_LINEAR])
    steps = [p.step_time(k) for k in range(len(p.events) + 3)]
    assert steps[0] == T0
    assert steps == sorted(steps)
    assert steps[-1] == p.finished_at
    assert evaluate(p, steps[1]).status == "running"


@st.composite
def workflows(draw: st.DrawFn) -> Workflow:
    """Random DAGs over the fixture blocks, some tasks failing."""
    blocks = CATALOG.all_block_versions()
    count = draw(st.integers(1, 12))
    tasks: list[TaskTemplate] = []
    for index in range(count):
        names = [t.name for t in tasks]
        depends = draw(st.lists(st.sampled_from(names), unique=True, max_size=3)) if names else []
        failing = draw(st.booleans()) and draw(st.integers(0, 5)) == 0
        tasks.append(
            TaskTemplate(
                name=f"t{index}",
                block=draw(st.sampled_from(blocks)),
                depends_on=tuple(depends),
                inputs={},
                failure=TaskFailure("runtime_exception", "boom") if failing else None,
            )
        )
    base = CATALOG.workflows[WF_LINEAR]
    return replace(base, tasks=tuple(tasks))


@settings(max_examples=150, deadline=None, derandomize=True)
@given(workflows(), st.integers(0, 1000), st.floats(0.5, 4.0))
def test_random_dags_keep_every_invariant(workflow: Workflow, seed: int, slow: float) -> None:
    p = plan(workflow, JobOverrides(slow_factor=slow), seed=seed)
    check_invariants(p)
    final = evaluate(p, p.finished_at)
    assert final.status == ("failed" if p.failed else "completed")
    assert (final.progress == 100) == (final.status == "completed")


def visible(state) -> tuple:
    """Everything a read shows (the API's fields are functions of these)."""
    return (
        state.status,
        state.progress,
        state.exec_created_at,
        state.updated_at,
        state.finished_at,
        tuple(
            (
                t.status,
                t.progress,
                t.recv_time,
                t.send_time,
                t.inference_start,
                t.inference_end,
                t.finished_at,
                t.updated_at,
            )
            for t in state.tasks
        ),
    )


@settings(max_examples=100, deadline=None, derandomize=True)
@given(workflows(), st.integers(0, 1000), st.lists(st.floats(0, 1), min_size=1, max_size=8))
def test_a_state_holds_until_its_valid_until(workflow: Workflow, seed: int, fractions) -> None:
    """The read cache reuses a state while `holds_at`: it must show nothing stale."""
    p = plan(workflow, seed=seed)
    span = p.finished_at - p.created_at + 20
    for fraction in fractions:
        at = p.created_at + fraction * span
        state = evaluate(p, at)
        assert state.valid_until > at
        later = min(state.valid_until, at + span) - 1e-6
        if later > at:
            assert visible(evaluate(p, later)) == visible(state)


@given(st.lists(st.one_of(st.integers(), st.text(), st.floats(allow_nan=False)), max_size=5))
def test_derived_uuid_is_uuid5_of_the_joined_parts(parts: list[object]) -> None:
    """The hand-rolled uuid5 keeps every id a state file or a client already holds."""
    expected = uuid.uuid5(_ROOT, "|".join(str(p) for p in parts))
    assert derived_uuid(*parts) == str(expected)


@given(st.floats(min_value=0, max_value=253_402_300_799))
def test_rfc3339_is_the_utc_second(at: float) -> None:
    expected = datetime.fromtimestamp(int(at), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert rfc3339(at) == expected
