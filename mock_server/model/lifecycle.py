"""The job lifecycle as a pure function of (job record, workflow, time).

Nothing here is stored: a job's status, progress, task states and timestamps are
computed on read from its record and the clock, the way moto's state manager
does. `plan_job` fixes when each task starts and ends (deterministic for a seed);
`evaluate` reads that plan at a moment. Rules (decisions.md):

- the job is `queued` for `queue_seconds`, then `running`, then `completed` or `failed`;
- a task starts when every task in its `depends_on` has completed;
- a failing task fails part-way through its duration; after the first failure no
  new task starts, tasks already running finish, and the job fails when the last
  of them ends; tasks that never started stay `created`;
- job progress is the duration-weighted share of task work done, never decreasing.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping
from dataclasses import dataclass

from pixxel_mock.server.model.catalog import TaskFailure, TaskTemplate, Workflow
from pixxel_mock.server.model.ids import derived_uuid, unit_interval

JOB_STATUSES = ("queued", "running", "completed", "failed")
TASK_STATUSES = ("created", "inprogress", "completed", "failed")
JITTER = 0.2  # actual durations are the estimate x [0.9, 1.1)
FAILURE_POINT = 0.6  # a failing task fails after this share of its duration


@dataclass(frozen=True)
class JobOverrides:
    """Per-job scenario settings fixed at creation (slow jobs, injected task failures).

    Hashable, so a job record can key the caches of its plan and states.
    """

    slow_factor: float = 1.0
    failures: tuple[tuple[str, TaskFailure], ...] = ()

    @classmethod
    def of(
        cls, slow_factor: float = 1.0, failures: Mapping[str, TaskFailure] | None = None
    ) -> JobOverrides:
        return cls(slow_factor, tuple(sorted((failures or {}).items())))

    def to_json(self) -> dict[str, object]:
        return {
            "slow_factor": self.slow_factor,
            "failures": {
                name: {"failure_type": f.failure_type, "err_msg": f.err_msg}
                for name, f in self.failures
            },
        }

    @classmethod
    def from_json(cls, data: Mapping[str, object] | None) -> JobOverrides:
        data = data or {}
        failures = data.get("failures") or {}
        assert isinstance(failures, Mapping)
        return cls.of(
            slow_factor=float(data.get("slow_factor", 1.0)),  # type: ignore[arg-type]
            failures={name: TaskFailure(**raw) for name, raw in failures.items()},
        )


@dataclass(frozen=True)
class JobRecord:
    """What is stored for a job: everything else is derived."""

    namespace: str
    id: str
    seq: int
    workflow_id: str
    project_id: str
    created_by: str
    created_at: float
    polls: int = 0
    overrides: JobOverrides = JobOverrides()


@dataclass(frozen=True)
class TaskPlan:
    template: TaskTemplate
    id: str  # derived from the job's id: made once per job, not at each answer
    duration: float
    start: float | None
    end: float | None
    failure: TaskFailure | None


@dataclass(frozen=True)
class JobPlan:
    created_at: float
    started_at: float
    finished_at: float
    failed: bool
    tasks: tuple[TaskPlan, ...]
    total_work: float
    events: tuple[float, ...]

    def step_time(self, steps: int) -> float:
        """The moment reached after `steps` lifecycle steps (polls mode)."""
        if steps <= 0 or not self.events:
            return self.created_at
        return self.events[min(steps, len(self.events)) - 1]


@dataclass(frozen=True)
class TaskState:
    plan: TaskPlan
    status: str
    progress: int
    recv_time: float | None
    send_time: float | None
    inference_start: float | None
    inference_end: float | None
    finished_at: float | None
    updated_at: float

    @property
    def time_taken(self) -> float | None:
        if self.finished_at is None or self.plan.start is None:
            return None
        return self.finished_at - self.plan.start


@dataclass(frozen=True)
class JobState:
    plan: JobPlan
    at: float
    status: str
    progress: int
    exec_created_at: float | None
    updated_at: float
    finished_at: float | None
    tasks: tuple[TaskState, ...]
    valid_until: float = math.inf  # nothing visible changes before this moment

    def holds_at(self, at: float) -> bool:
        """Whether a read at `at` would show exactly this state (so it can be reused)."""
        return self.at <= at < self.valid_until

    @property
    def is_terminal(self) -> bool:
        return self.status in ("completed", "failed")

    @property
    def time_taken(self) -> float | None:
        if self.finished_at is None:
            return None
        return self.finished_at - self.plan.started_at


def task_id(job_id: str, task_name: str) -> str:
    """A task's id: named by its job and its name, so it is the same at every read."""
    return derived_uuid(job_id, "task", task_name)


def is_queued_when_created(record: JobRecord, queue_seconds: float) -> bool:
    """Whether the job surely reads as queued, every task created, when it is created:
    any plan shows that for `queue_seconds`. Jobs a scenario changes are left out."""
    return queue_seconds > 0 and record.overrides == JobOverrides() and record.polls == 0


def plan_job(record: JobRecord, workflow: Workflow, seed: int, queue_seconds: float) -> JobPlan:
    """Fix each task's start and end. Pure and deterministic for (record, workflow, seed)."""
    started_at = record.created_at + queue_seconds
    failures = {t.name: t.failure for t in workflow.tasks if t.failure}
    failures.update(dict(record.overrides.failures))
    durations = {
        t.name: t.block.estimated_time_duration
        * record.overrides.slow_factor
        * (1 - JITTER / 2 + JITTER * unit_interval(seed, record.id, t.name))
        for t in workflow.tasks
    }
    start: dict[str, float] = {}
    end: dict[str, float] = {}
    for task in workflow.tasks:
        if any(dep not in end or dep in failures for dep in task.depends_on):
            continue  # a dependency failed or never ran
        start[task.name] = max((end[dep] for dep in task.depends_on), default=started_at)
        share = FAILURE_POINT if task.name in failures else 1.0
        end[task.name] = start[task.name] + durations[task.name] * share
    first_failure = min((end[name] for name in failures if name in end), default=None)
    if first_failure is not None:
        for name in [n for n, s in start.items() if s >= first_failure]:
            del start[name], end[name]
    plans = tuple(
        TaskPlan(
            template=task,
            id=task_id(record.id, task.name),
            duration=durations[task.name],
            start=start.get(task.name),
            end=end.get(task.name),
            failure=failures.get(task.name) if task.name in start else None,
        )
        for task in workflow.tasks
    )
    finished_at = max(end.values(), default=started_at)
    events = sorted({started_at, *start.values(), *end.values()})
    return JobPlan(
        created_at=record.created_at,
        started_at=started_at,
        finished_at=finished_at,
        failed=first_failure is not None,
        tasks=plans,
        total_work=sum(durations.values()),
        events=tuple(events),
    )


def evaluate(plan: JobPlan, at: float) -> JobState:
    """Read the plan at simulated time `at`."""
    tasks = tuple(_task_state(task, plan.created_at, at) for task in plan.tasks)
    if at < plan.started_at:
        status = "queued"
    elif at < plan.finished_at:
        status = "running"
    else:
        status = "failed" if plan.failed else "completed"
    done = sum(
        min(max(at - t.start, 0.0), t.end - t.start)
        for t in plan.tasks
        if t.start is not None and t.end is not None
    )
    if status == "completed" or plan.total_work <= 0:
        progress = 100 if status == "completed" else 0
    else:
        progress = min(99, int(100 * done / plan.total_work))
    finished_at = plan.finished_at if status in ("completed", "failed") else None
    exec_created_at = plan.started_at if at >= plan.started_at else None
    updated_at = max(
        [plan.created_at, exec_created_at or plan.created_at]
        + [t.updated_at for t in tasks]
        + [finished_at or plan.created_at]
    )
    return JobState(
        plan=plan,
        at=at,
        status=status,
        progress=progress,
        exec_created_at=exec_created_at,
        updated_at=updated_at,
        finished_at=finished_at,
        tasks=tasks,
        valid_until=_next_change(plan, at, progress, tasks),
    )


def _next_change(plan: JobPlan, at: float, progress: int, tasks: tuple[TaskState, ...]) -> float:
    """The first moment after `at` when the job, or any task, would read differently."""
    index = bisect.bisect_right(plan.events, at)
    moments = [plan.events[index]] if index < len(plan.events) else []
    running = 0
    for task in tasks:
        start, end = task.plan.start, task.plan.end
        if start is None or end is None or not start <= at < end:
            continue
        running += 1
        span = end - start
        moments += [m for m in (start + 0.02 * span, start + 0.05 * span) if m > at]
        if task.progress < 99:
            moments.append(start + (task.progress + 1) * span / 100)
    if running and progress < 99 and plan.total_work > 0:
        done = sum(
            min(max(at - t.start, 0.0), t.end - t.start)
            for t in plan.tasks
            if t.start is not None and t.end is not None
        )
        moments.append(at + ((progress + 1) * plan.total_work / 100 - done) / running)
    return min(moments, default=math.inf)


def _task_state(task: TaskPlan, created_at: float, at: float) -> TaskState:
    if task.start is None or task.end is None or at < task.start:
        return TaskState(task, "created", 0, None, None, None, None, None, created_at)
    span = task.end - task.start
    phases = {
        "recv": task.start,
        "send": task.start + 0.02 * span,
        "inference_start": task.start + 0.05 * span,
        "inference_end": None if task.failure else task.start + 0.95 * span,
        "finished": task.end,
    }
    reached = {name: t if t is not None and at >= t else None for name, t in phases.items()}
    if at >= task.end:
        status = "failed" if task.failure else "completed"
        progress = 100
    else:
        status = "inprogress"
        progress = min(99, int(100 * (at - task.start) / span)) if span > 0 else 0
    return TaskState(
        plan=task,
        status=status,
        progress=progress,
        recv_time=reached["recv"],
        send_time=reached["send"],
        inference_start=reached["inference_start"],
        inference_end=reached["inference_end"],
        finished_at=reached["finished"],
        updated_at=max(t for t in (created_at, *reached.values()) if t is not None),
    )
