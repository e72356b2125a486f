"""Jobs: created through the API, stored as records (only what cannot be derived), and
read through the lifecycle (lifecycle.py) at the session's simulated time."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

from pixxel_mock.server.model.catalog import ApiKey, Catalog, Workflow
from pixxel_mock.server.model.errors import NO_ACCESS, AccessDenied
from pixxel_mock.server.model.ids import derived_uuid
from pixxel_mock.server.model.lifecycle import (
    JobOverrides,
    JobPlan,
    JobRecord,
    JobState,
    evaluate,
    is_queued_when_created,
    plan_job,
)
from pixxel_mock.server.model.sessions import Session
from pixxel_mock.server.model.timefmt import utc_day
from pixxel_mock.server.model.workflows import Workflows
from pixxel_mock.server.state.cache import BoundedCache
from pixxel_mock.server.state.records import JobTable, RecordKind
from pixxel_mock.server.state.store import Store

PLAN_CACHE_SIZE = 4096  # plans, and states, of the jobs read most recently


def _overrides_json(overrides: JobOverrides) -> str:
    return json.dumps(overrides.to_json())


# what nearly every job stores: written and read back without JSON
_NO_OVERRIDES = JobOverrides()
_NO_OVERRIDES_JSON = _overrides_json(_NO_OVERRIDES)


def _job_row(record: JobRecord) -> tuple[Any, ...]:
    return (
        record.namespace,
        record.id,
        record.seq,
        record.workflow_id,
        record.project_id,
        record.created_by,
        record.created_at,
        record.polls,
        _NO_OVERRIDES_JSON
        if record.overrides == _NO_OVERRIDES
        else _overrides_json(record.overrides),
    )


def _job_from_row(row: tuple[Any, ...]) -> JobRecord:
    *fields, overrides = row
    if overrides == _NO_OVERRIDES_JSON:
        return JobRecord(*fields, overrides=_NO_OVERRIDES)
    return JobRecord(*fields, overrides=JobOverrides.from_json(json.loads(overrides)))


def _job_to_json(record: JobRecord) -> dict[str, Any]:
    data = dict(record.__dict__)
    data["overrides"] = record.overrides.to_json()
    return data


def _job_from_json(data: dict[str, Any]) -> JobRecord:
    fields = dict(data)
    fields["overrides"] = JobOverrides.from_json(fields.get("overrides"))
    return JobRecord(**fields)


JOBS = RecordKind(
    table="jobs",
    columns=tuple(f.name for f in dataclasses.fields(JobRecord)),
    to_row=_job_row,
    from_row=_job_from_row,
    to_json=_job_to_json,
    from_json=_job_from_json,
)


@dataclass(frozen=True)
class JobView:
    record: JobRecord
    workflow: Workflow
    state: JobState


class Jobs:
    """The jobs of every namespace; `seed` fixes their ids and durations."""

    def __init__(
        self,
        catalog: Catalog,
        workflows: Workflows,
        store: Store,
        seed: int,
        queue_seconds: float,
    ) -> None:
        self.records = store.register(JobTable(store.database, JOBS, store.namespaces))
        self._workflows = catalog.workflows
        self._workflow = workflows.get
        self._seed = seed
        self._queue_seconds = queue_seconds
        self._plans: BoundedCache[tuple[object, ...], JobPlan] = BoundedCache(PLAN_CACHE_SIZE)
        self._states: BoundedCache[tuple[object, ...], JobState] = BoundedCache(PLAN_CACHE_SIZE)

    def create(
        self, key: ApiKey, session: Session, workflow_id: str, project_id: str
    ) -> tuple[JobRecord, Workflow]:
        """Store a new job. No plan yet: while `queued_on_creation`, its answer needs none
        (api/queued.py), and the first read makes it; otherwise the caller asks `view`."""
        workflow = self._workflow(key, workflow_id, project_id)
        seed, namespace = self._seed, session.namespace

        def build(seq: int) -> JobRecord:
            job_id = derived_uuid(seed, namespace, "job", seq)
            return JobRecord(
                namespace=namespace,
                id=job_id,
                seq=seq,
                workflow_id=workflow.id,
                project_id=workflow.project_id,
                created_by=key.service_account_id,
                created_at=session.now,
                overrides=session.scenario.overrides_for(workflow.id, job_id),
            )

        return self.records.insert(namespace, build), workflow

    def queued_on_creation(self, record: JobRecord) -> bool:
        return is_queued_when_created(record, self._queue_seconds)

    def matching(
        self, key: ApiKey, session: Session, workflow_id: str, filters: dict[str, str]
    ) -> list[JobView]:
        """The workflow's jobs that match every filter given, newest first."""
        workflow = self._workflow(key, workflow_id)
        views = [
            self.view(record, workflow, session.now)
            for record in self.records.listing(session.namespace, workflow.id)
            if ("id" not in filters or record.id == filters["id"])
            and ("created_by" not in filters or record.created_by == filters["created_by"])
            and ("created_on" not in filters or utc_day(record.created_at) == filters["created_on"])
        ]
        if "status" in filters:
            views = [v for v in views if v.state.status == filters["status"]]
        return views

    def get(self, key: ApiKey, session: Session, workflow_id: str, job_id: str) -> JobView:
        """Read a job; in polls clock mode each read moves it one lifecycle step."""
        return self.find(key, session, workflow_id, job_id, poll=session.polls_mode)

    def find(
        self, key: ApiKey, session: Session, workflow_id: str, job_id: str, poll: bool = False
    ) -> JobView:
        """A job of a workflow the key may use; unknown and foreign ones are refused alike."""
        workflow = self._workflow(key, workflow_id)
        if poll:
            record = self.records.poll(session.namespace, job_id)
        else:
            record = self.records.get(session.namespace, job_id)
        if record is None or record.workflow_id != workflow.id:
            raise AccessDenied("forbidden", NO_ACCESS)
        return self.view(record, workflow, session.now)

    def view(self, record: JobRecord, workflow: Workflow, now: float) -> JobView:
        """The job at `now`; a state is reused while nothing in it can have changed."""
        # the whole record but its poll count: ids repeat after a reset (they are seeded)
        key = (record.namespace, record.id, record.created_at, record.workflow_id, record.overrides)
        plan = self._plans.get_or_make(
            key, lambda: plan_job(record, workflow, self._seed, self._queue_seconds)
        )
        at = max(now, plan.step_time(record.polls))
        state = self._states.get((*key, record.polls))
        if state is None or not state.holds_at(at):
            state = self._states.put((*key, record.polls), evaluate(plan, at))
        return JobView(record, workflow, state)

    def of_namespace(self, session: Session) -> list[JobView]:
        """Every job of the session's namespace, newest first (the control plane's view)."""
        return [
            self.view(record, self._workflows[record.workflow_id], session.now)
            for record in self.records.listing(session.namespace)
        ]
