"""Insights: one insight block run on an AOI, read through the jobs' lifecycle.

An insight is a one-task job: its block becomes the single task of a workflow made for
it, and `lifecycle.plan_job` / `evaluate` (with no queue) give its status, progress and
end, so the clock modes, jitter and failures behave exactly as a job's do. The record is
what creation fixed (the block, the input as given, the failure a scenario chose); a
deletion is a record of its own (soft delete: the insight is hidden, never changed).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pixxel_mock.server.model.aois import Aois, AoiView
from pixxel_mock.server.model.catalog import (
    ApiKey,
    BlockVersion,
    Catalog,
    TaskFailure,
    TaskTemplate,
    Workflow,
)
from pixxel_mock.server.model.errors import AccessDenied, InvalidInput, NotFound
from pixxel_mock.server.model.ids import derived_uuid
from pixxel_mock.server.model.lifecycle import (
    JobOverrides,
    JobPlan,
    JobRecord,
    JobState,
    evaluate,
    plan_job,
)
from pixxel_mock.server.model.packages import EXTENSIONS
from pixxel_mock.server.model.sessions import Session
from pixxel_mock.server.model.timefmt import utc_day
from pixxel_mock.server.state.cache import BoundedCache
from pixxel_mock.server.state.records import JobTable, RecordKind, RecordTable
from pixxel_mock.server.state.store import Store

INSIGHT_STATUSES = ("running", "completed", "failed")
READY_AOI = ("success", "partial_success")  # AOI statuses an insight may run on
NO_ACCESS_AOI = "No AOI with this id is visible to the API key."
NO_ACCESS_INSIGHT = "No insight with this id exists for this AOI, or it was deleted."
NO_PROJECT = "The API key does not have access to this project, or it does not exist."
FAILURE_TYPE = "runtime_exception"  # of the one task an insight runs
REMOTE_ROOT = "s3://pixxel-mock/insights"


@dataclass(frozen=True)
class InsightRecord:
    namespace: str
    id: str
    seq: int
    aoi_id: str
    project_id: str
    name: str
    block_name: str
    block_version: str
    input: str  # the request's `input`, JSON text
    metadata: str  # JSON text of a string map
    created_by: str
    created_at: float
    polls: int
    err_msg: str  # "" unless a scenario makes it fail, fixed at creation


@dataclass(frozen=True)
class DeletionRecord:
    """An insight's soft deletion: its id, when and by whom."""

    namespace: str
    id: str
    deleted_at: float
    deleted_by: str


INSIGHTS = RecordKind.of_dataclass("insights", InsightRecord)
INSIGHT_DELETIONS = RecordKind.of_dataclass("insight_deletions", DeletionRecord)


@dataclass(frozen=True)
class InsightView:
    record: InsightRecord
    block: BlockVersion
    state: JobState

    @property
    def status(self) -> str:
        """The job's status in the insight's words: a one-task job never reads queued
        but for a clock set back before its creation, which reads as running."""
        return "running" if self.state.status == "queued" else self.state.status

    @property
    def input(self) -> list[Any]:
        return list(json.loads(self.record.input))

    @property
    def metadata(self) -> dict[str, str]:
        return dict(json.loads(self.record.metadata))

    @property
    def estimated_time_in_min(self) -> int:
        return math.ceil(self.block.estimated_time_duration / 60)

    def outputs(self) -> list[dict[str, Any]]:
        """The block's outputs, each with the URL of its file once the insight completed."""
        if self.status != "completed":
            return []
        return [
            {**output, "value": f"{REMOTE_ROOT}/{self.record.id}/{output_file(output)}"}
            for output in self.block.outputs
        ]


def output_file(spec: Mapping[str, Any]) -> str:
    """A DataType's file name: its name and the extension of its format (none for values)."""
    return str(spec["name"]) + EXTENSIONS.get(str(spec.get("format")), "")


@dataclass(frozen=True)
class NewInsight:
    """A validated Create Insights body."""

    name: str
    block_name: str | None
    block_id: str | None
    block_version: str
    input: list[Any]
    project_id: str | None
    metadata: dict[str, str]


def as_job(record: InsightRecord, block: BlockVersion) -> tuple[JobRecord, Workflow]:
    """The one-task job an insight is, for the jobs' lifecycle."""
    failure = TaskFailure(FAILURE_TYPE, record.err_msg) if record.err_msg else None
    task = TaskTemplate(name=block.name, block=block, depends_on=(), inputs={})
    workflow = Workflow(
        id=record.id,
        project_id=record.project_id,
        name=record.name,
        description="",
        created_by=record.created_by,
        created_at=record.created_at,
        updated_at=record.created_at,
        tasks=(task,),
    )
    job = JobRecord(
        namespace=record.namespace,
        id=record.id,
        seq=record.seq,
        workflow_id=record.id,
        project_id=record.project_id,
        created_by=record.created_by,
        created_at=record.created_at,
        polls=record.polls,
        overrides=JobOverrides.of(failures={block.name: failure} if failure else None),
    )
    return job, workflow


class Insights:
    """The insights of every namespace; `seed` fixes their ids and durations."""

    def __init__(self, catalog: Catalog, aois: Aois, store: Store, seed: int) -> None:
        self.records = store.register(JobTable(store.database, INSIGHTS, store.namespaces))
        self.deletions = store.register(RecordTable(store.database, INSIGHT_DELETIONS))
        self._catalog = catalog
        self._aois = aois
        self._seed = seed
        self._plans: BoundedCache[tuple[object, ...], JobPlan] = BoundedCache(1024)

    def estimate(self, key: ApiKey, session: Session, aoi_id: str, new: NewInsight) -> int:
        """The cost of running the insight (its block's price); nothing runs or is stored."""
        return self._checked(key, session, aoi_id, new)[1].price

    def create(self, key: ApiKey, session: Session, aoi_id: str, new: NewInsight) -> InsightView:
        """Store a new insight, running from now, on an AOI whose processing succeeded."""
        aoi, block = self._checked(key, session, aoi_id, new)
        if aoi.state.status not in READY_AOI:
            raise InvalidInput(
                "aoi_not_ready",
                "The AOI has not finished processing successfully; run insights on it"
                " once its status is success or partial_success.",
                {"parameter": "aoi_id", "in": "path", "status": aoi.state.status},
            )
        seed, namespace = self._seed, session.namespace
        err_msg = session.scenario.insight_failure(block.name, aoi.record.id)
        record = self.records.insert(
            namespace,
            lambda seq: InsightRecord(
                namespace=namespace,
                id=derived_uuid(seed, namespace, "insight", seq),
                seq=seq,
                aoi_id=aoi.record.id,
                project_id=aoi.record.project_id,
                name=new.name,
                block_name=block.name,
                block_version=block.version,
                input=json.dumps(new.input),
                metadata=json.dumps(new.metadata),
                created_by=key.service_account_id,
                created_at=session.now,
                polls=0,
                err_msg=err_msg,
            ),
        )
        return self.view(record, session.now)

    def _checked(
        self, key: ApiKey, session: Session, aoi_id: str, new: NewInsight
    ) -> tuple[AoiView, BlockVersion]:
        """The AOI and the insight block a request names, or the refusal it earns."""
        aoi = self.aoi(key, session, aoi_id)
        if new.project_id is not None:
            self._check_project(key, aoi, new.project_id, "body")
        block = self._block(new)
        inputs = {spec["name"] for spec in block.inputs}
        for index, value in enumerate(new.input):
            if isinstance(value, Mapping) and value.get("name") not in inputs:
                raise InvalidInput(
                    "invalid_input",
                    f"input[{index}] names {value.get('name')!r}, which is not an input of"
                    f" block {block.name} (its inputs: {', '.join(sorted(inputs))}).",
                    {"parameter": "input", "in": "body", "index": index},
                )
        return aoi, block

    def _block(self, new: NewInsight) -> BlockVersion:
        """The insight block a body names by name (or by id, its `string`) and version."""
        name = new.block_name
        if name is None and new.block_id is not None:
            name = next(
                (
                    n
                    for n, versions in self._catalog.blocks.items()
                    if versions[0].block_id == new.block_id
                ),
                None,
            )
        block = self._catalog.block_version(name or "", new.block_version)
        if (
            block is None
            or "insight" not in block.modes
            or (new.block_id is not None and new.block_id != block.block_id)
        ):
            raise InvalidInput(
                "unknown_block",
                "No insight block has this name (or id) and version; see GET /v0/blocks/insights.",
                {"parameter": "block", "in": "body"},
            )
        return block

    def aoi(self, key: ApiKey, session: Session, aoi_id: str) -> AoiView:
        """An AOI of the key's projects: unknown and foreign ones answer the same 403
        (the insight operations document no 404)."""
        try:
            return self._aois.get(key, session, aoi_id)
        except NotFound:
            raise AccessDenied("forbidden", NO_ACCESS_AOI) from None

    def _check_project(self, key: ApiKey, aoi: AoiView, project_id: str, where: str) -> None:
        if project_id not in key.project_ids:
            raise AccessDenied("forbidden", NO_PROJECT, {"parameter": "project_id", "in": where})
        if project_id != aoi.record.project_id:
            raise InvalidInput(
                "invalid_project",
                "The AOI does not belong to this project.",
                {"parameter": "project_id", "in": where},
            )

    def matching(
        self, key: ApiKey, session: Session, aoi_id: str, filters: Mapping[str, str]
    ) -> list[InsightView]:
        """The AOI's insights that are not deleted and match every filter, newest first;
        in polls clock mode this read moves each of them one step."""
        aoi = self.aoi(key, session, aoi_id)
        namespace = session.namespace
        records = [
            record
            for record in self.records.listing(namespace)
            if record.aoi_id == aoi.record.id
            and filters.get("id", record.id) == record.id
            and filters.get("created_by", record.created_by) == record.created_by
            and filters.get("created_on", utc_day(record.created_at)) == utc_day(record.created_at)
            and self.deletions.get(namespace, record.id) is None
        ]
        if session.polls_mode:
            records = [self.records.poll(namespace, r.id) or r for r in records]
        views = [self.view(record, session.now) for record in records]
        return [v for v in views if filters.get("status", v.status) == v.status]

    def find(self, key: ApiKey, session: Session, aoi_id: str, insight_id: str) -> InsightView:
        """An insight of the AOI that is not deleted; any other id answers the same 403."""
        aoi = self.aoi(key, session, aoi_id)
        record = self.records.get(session.namespace, insight_id)
        if (
            record is None
            or record.aoi_id != aoi.record.id
            or self.deletions.get(session.namespace, insight_id) is not None
        ):
            raise AccessDenied("forbidden", NO_ACCESS_INSIGHT)
        return self.view(record, session.now)

    def delete(
        self, key: ApiKey, session: Session, aoi_id: str, insight_id: str, project_id: str
    ) -> None:
        """Soft-delete an insight of an AOI of `project_id`, which must be the AOI's."""
        if project_id not in key.project_ids:
            raise AccessDenied("forbidden", NO_PROJECT, {"parameter": "project_id", "in": "query"})
        aoi = self.aoi(key, session, aoi_id)
        self._check_project(key, aoi, project_id, "query")
        insight = self.find(key, session, aoi_id, insight_id)
        self.deletions.open(
            DeletionRecord(
                session.namespace, insight.record.id, session.now, key.service_account_id
            ),
            count_poll=False,
        )

    def view(self, record: InsightRecord, now: float) -> InsightView:
        """The insight at `now`, read through the jobs' lifecycle (no queue)."""
        block = self._catalog.block_version(record.block_name, record.block_version)
        assert block is not None, "an insight's block is in the catalog it was made from"
        job, workflow = as_job(record, block)
        key = (record.namespace, record.id, record.created_at, record.err_msg)
        plan = self._plans.get_or_make(key, lambda: plan_job(job, workflow, self._seed, 0.0))
        at = max(now, plan.step_time(record.polls))
        return InsightView(record, block, evaluate(plan, at))

    def aoi_of(self, insight: InsightView, session: Session) -> AoiView | None:
        """The AOI an insight of the session ran on (None only in an imported state that
        lacks it)."""
        return self._aois.find(session, insight.record.aoi_id)

    def of_namespace(self, session: Session) -> list[InsightView]:
        """Every insight of the namespace, deleted ones too, newest first (the inspector's)."""
        return [self.view(r, session.now) for r in self.records.listing(session.namespace)]

    def deleted_at(self, session: Session, insight_id: str) -> float | None:
        deletion = self.deletions.get(session.namespace, insight_id)
        return deletion.deleted_at if deletion else None
