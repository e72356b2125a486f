"""The mock's use cases, free of HTTP: what each API operation means for the model.

Handlers call these methods with plain values and get model objects back, or a
DomainError that the HTTP layer turns into the documented status and envelope.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pixxel_mock.server.model import packages, signing
from pixxel_mock.server.model.catalog import ApiKey, BlockVersion, Catalog, Project, Workflow
from pixxel_mock.server.model.faults import FaultRule, Scenario, merge_scenarios
from pixxel_mock.server.model.ids import derived_uuid
from pixxel_mock.server.model.lifecycle import (
    JobPlan,
    JobRecord,
    JobState,
    evaluate,
    is_queued_when_created,
    plan_job,
)
from pixxel_mock.server.model.timefmt import utc_day
from pixxel_mock.server.state.cache import BoundedCache
from pixxel_mock.server.state.clock import Clock
from pixxel_mock.server.state.store import DownloadRecord, Store

NO_ACCESS = "The API key does not have access to this resource, or it does not exist."
BAD_KEY = "Missing, invalid or revoked API key in the Authorization header."


class DomainError(Exception):
    """An expected refusal; `kind` says which (the HTTP layer maps it to a status)."""

    kind = "invalid"

    def __init__(self, code: str, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.code, self.message, self.details = code, message, details


class AccessDenied(DomainError):
    kind = "forbidden"


class NotFound(DomainError):
    kind = "not_found"


class NotFinished(DomainError):
    kind = "invalid"


@dataclass(frozen=True)
class Settings:
    """Lifecycle and download timings, all in simulated seconds unless said otherwise."""

    seed: int = 0
    queue_seconds: float = 10.0
    job_package_seconds: float = 30.0
    task_package_seconds: float = 10.0
    package_polls: int = 1  # polls mode: PUTs after the first before a package is ready
    url_ttl_seconds: int = 3600
    plan_cache_size: int = 4096
    package_cache_size: int = 32


@dataclass(frozen=True)
class Session:
    """One request's view of a namespace: its clock read once, its rules."""

    namespace: str
    clock: Clock
    now: float
    faults: tuple[FaultRule, ...]
    scenario: Scenario

    @property
    def polls_mode(self) -> bool:
        return self.clock.mode == "polls"


@dataclass(frozen=True)
class ServerRules:
    """Rules loaded at start (`--scenario`): they apply in every namespace."""

    faults: tuple[FaultRule, ...] = ()
    scenario: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class JobView:
    record: JobRecord
    workflow: Workflow
    state: JobState


@dataclass(frozen=True)
class DownloadView:
    id: str
    status: str
    signed_path: str  # "" while pending; the HTTP layer makes it absolute
    workflow_id: str
    job_id: str
    task_id: str


class MockService:
    """The domain operations behind the API, for one catalog and one store."""

    def __init__(
        self,
        catalog: Catalog,
        store: Store,
        settings: Settings,
        server_rules: ServerRules | None = None,
        real_time: Callable[[], float] = time.time,
    ) -> None:
        self.catalog = catalog
        self.store = store
        self.settings = settings
        self.server_rules = server_rules or ServerRules()
        self._real_time = real_time
        self._rules: BoundedCache[tuple[str, int], tuple[tuple[FaultRule, ...], Scenario]] = (
            BoundedCache(256)
        )
        self._plans: BoundedCache[tuple[object, ...], JobPlan] = BoundedCache(
            settings.plan_cache_size
        )
        self._packages: BoundedCache[tuple[object, ...], bytes] = BoundedCache(
            settings.package_cache_size
        )
        self._states: BoundedCache[tuple[object, ...], JobState] = BoundedCache(
            settings.plan_cache_size
        )
        self._secret = store.meta("secret")

    # -- sessions and keys ------------------------------------------------
    def session(self, namespace: str) -> Session:
        """Read the namespace once: clock and rule version (rules are cached per version)."""
        row = self.store.namespace(namespace)
        faults, scenario = self._rules_of(namespace, row.rules_version)
        return Session(namespace, row.clock, row.clock.now(self._real_time()), faults, scenario)

    def fault_rules(self, namespace: str) -> tuple[FaultRule, ...]:
        """The namespace's fault rules, then the server's; no clock read, no Session."""
        return self._rules_of(namespace, self.store.namespace(namespace).rules_version)[0]

    def _rules_of(self, namespace: str, version: int) -> tuple[tuple[FaultRule, ...], Scenario]:
        return self._rules.get_or_make(
            (namespace, version), lambda: self._load_rules(namespace, version)
        )

    def _load_rules(self, namespace: str, version: int) -> tuple[tuple[FaultRule, ...], Scenario]:
        own_faults, own_scenario = self.store.rules(namespace) if version else ([], {})
        faults = tuple(FaultRule.from_json(f, "namespace", f["id"]) for f in own_faults)
        scenario = merge_scenarios([self.server_rules.scenario, own_scenario])
        return faults + self.server_rules.faults, Scenario.from_json(scenario)

    def authenticate(self, header: str | None, session: Session) -> ApiKey:
        """Accept `Authorization: <key>` and `Authorization: Bearer <key>`."""
        value = (header or "").strip()
        if value[:7].lower() == "bearer ":
            value = value[7:].strip()
        key = self.catalog.keys.get(value)
        if (
            key is None
            or not key.is_active(session.now)
            or session.scenario.revoked(key.key, session.now)
        ):
            raise AccessDenied("forbidden", BAD_KEY)
        return key

    # -- projects ----------------------------------------------------------
    def list_projects(
        self, key: ApiKey, page_num: int, page_size: int
    ) -> tuple[int, list[Project]]:
        visible = sorted(
            (p for p in self.catalog.projects.values() if p.id in key.project_ids),
            key=lambda p: p.created_at,
        )
        start = (page_num - 1) * page_size
        return len(visible), visible[start : start + page_size]

    def get_project(self, key: ApiKey, project_id: str) -> Project:
        project = self.catalog.projects.get(project_id)
        if project is None or project.id not in key.project_ids:
            raise NotFound("not_found", "No project with this id is visible to the API key.")
        return project

    # -- blocks ------------------------------------------------------------
    def list_blocks(
        self, mode: str | None = None, name: str | None = None, version: str | None = None
    ) -> list[BlockVersion]:
        return [
            b
            for b in self.catalog.all_block_versions()
            if (mode is None or mode in b.modes)
            and (name is None or b.name == name)
            and (version is None or b.version == version)
        ]

    def block_versions(self, name: str) -> list[BlockVersion]:
        versions = self.catalog.blocks.get(name)
        if not versions:
            raise NotFound("not_found", f'No block is named "{name}".')
        return list(versions)

    def block_version(self, name: str, version: str) -> BlockVersion:
        block = self.catalog.block_version(name, version)
        if block is None:
            raise NotFound("not_found", f'No block named "{name}" has version "{version}".')
        return block

    # -- workflows ---------------------------------------------------------
    def list_workflows(
        self,
        key: ApiKey,
        project_id: str | None,
        filters: dict[str, str],
        offset: int,
        limit: int,
    ) -> tuple[int, list[Workflow]]:
        if project_id is not None and project_id not in key.project_ids:
            raise AccessDenied("forbidden", NO_ACCESS, {"parameter": "project_id"})
        matching = [
            w
            for w in self.catalog.workflows.values()
            if w.project_id in key.project_ids
            and (project_id is None or w.project_id == project_id)
            and _matches_workflow(w, filters)
        ]
        matching.sort(key=lambda w: (w.created_at, w.id))
        return len(matching), matching[offset : offset + limit]

    def workflow(self, key: ApiKey, workflow_id: str, project_id: str | None = None) -> Workflow:
        """A workflow the key may use; unknown and foreign ones are refused alike."""
        workflow = self.catalog.workflows.get(workflow_id)
        if (
            workflow is None
            or workflow.project_id not in key.project_ids
            or (project_id is not None and workflow.project_id != project_id)
        ):
            raise AccessDenied("forbidden", NO_ACCESS)
        return workflow

    # -- jobs --------------------------------------------------------------
    def create_job(
        self, key: ApiKey, session: Session, workflow_id: str, project_id: str
    ) -> tuple[JobRecord, Workflow]:
        """Store a new job. No plan yet: while `queued_on_creation`, its answer needs none
        (api/queued.py), and the first read makes it; otherwise the caller asks `view`."""
        workflow = self.workflow(key, workflow_id, project_id)
        seed, namespace = self.settings.seed, session.namespace

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

        return self.store.insert_job(namespace, build), workflow

    def queued_on_creation(self, record: JobRecord) -> bool:
        return is_queued_when_created(record, self.settings.queue_seconds)

    def list_jobs(
        self, key: ApiKey, session: Session, workflow_id: str, filters: dict[str, str]
    ) -> list[JobView]:
        workflow = self.workflow(key, workflow_id)
        views = [
            self.view(record, workflow, session.now)
            for record in self.store.jobs(session.namespace, workflow.id)
            if ("id" not in filters or record.id == filters["id"])
            and ("created_by" not in filters or record.created_by == filters["created_by"])
            and ("created_on" not in filters or utc_day(record.created_at) == filters["created_on"])
        ]
        if "status" in filters:
            views = [v for v in views if v.state.status == filters["status"]]
        return views

    def get_job(self, key: ApiKey, session: Session, workflow_id: str, job_id: str) -> JobView:
        """Read a job; in polls clock mode each read moves it one lifecycle step."""
        return self._job(key, session, workflow_id, job_id, poll=session.polls_mode)

    def _job(
        self, key: ApiKey, session: Session, workflow_id: str, job_id: str, poll: bool = False
    ) -> JobView:
        workflow = self.workflow(key, workflow_id)
        if poll:
            record = self.store.poll_job(session.namespace, job_id)
        else:
            record = self.store.job(session.namespace, job_id)
        if record is None or record.workflow_id != workflow.id:
            raise AccessDenied("forbidden", NO_ACCESS)
        return self.view(record, workflow, session.now)

    def view(self, record: JobRecord, workflow: Workflow, now: float) -> JobView:
        """The job at `now`; a state is reused while nothing in it can have changed."""
        # the whole record but its poll count: ids repeat after a reset (they are seeded)
        key = (record.namespace, record.id, record.created_at, record.workflow_id, record.overrides)
        plan = self._plans.get_or_make(
            key, lambda: plan_job(record, workflow, self.settings.seed, self.settings.queue_seconds)
        )
        at = max(now, plan.step_time(record.polls))
        state = self._states.get((*key, record.polls))
        if state is None or not state.holds_at(at):
            state = self._states.put((*key, record.polls), evaluate(plan, at))
        return JobView(record, workflow, state)

    # -- downloads ---------------------------------------------------------
    def download_job(
        self, key: ApiKey, session: Session, workflow_id: str, job_id: str
    ) -> DownloadView:
        job = self._job(key, session, workflow_id, job_id)
        if not job.state.is_terminal:
            raise NotFinished(
                "not_finished",
                "The job has not finished yet; download it once its status is completed or failed.",
                {"status": job.state.status},
            )
        return self._open_download(session, job, "", self.settings.job_package_seconds)

    def download_task(
        self, key: ApiKey, session: Session, workflow_id: str, job_id: str, task_id: str
    ) -> DownloadView:
        job = self._job(key, session, workflow_id, job_id)
        task = next((t for t in job.state.tasks if t.plan.id == task_id), None)
        if task is None:
            raise AccessDenied("forbidden", NO_ACCESS)
        if task.status != "completed":
            raise NotFinished(
                "not_finished",
                "The task has not completed; only completed tasks can be downloaded.",
                {"status": task.status},
            )
        return self._open_download(session, job, task_id, self.settings.task_package_seconds)

    def _open_download(
        self, session: Session, job: JobView, task_id: str, preparation: float
    ) -> DownloadView:
        scenario, namespace = session.scenario, session.namespace
        record = self.store.open_download(
            DownloadRecord(
                namespace=namespace,
                id=derived_uuid(namespace, "download", job.record.id, task_id),
                workflow_id=job.workflow.id,
                job_id=job.record.id,
                task_id=task_id,
                created_at=session.now,
                polls=0,
                ready_after_seconds=(
                    preparation if scenario.pending_seconds is None else scenario.pending_seconds
                ),
                ready_after_polls=(
                    self.settings.package_polls
                    if scenario.pending_polls is None
                    else scenario.pending_polls
                ),
            ),
            count_poll=session.polls_mode,
        )
        return self._download_view(session, record)

    def _download_view(self, session: Session, record: DownloadRecord) -> DownloadView:
        ready = record.is_ready(session.now)
        return DownloadView(
            id=record.id,
            status="ready" if ready else "pending",
            signed_path=self._signed_path(session, record) if ready else "",
            workflow_id=record.workflow_id,
            job_id=record.job_id,
            task_id=record.task_id,
        )

    def _signed_path(self, session: Session, record: DownloadRecord) -> str:
        """A fresh URL at each call: it lives the scenario's or the server's TTL from now."""
        ttl = session.scenario.url_ttl_seconds or self.settings.url_ttl_seconds
        return signing.signed_path(
            self._secret, session.namespace, record.id, int(session.now) + ttl
        )

    # -- inspection (control plane) ------------------------------------------
    def inspect_jobs(self, session: Session) -> list[tuple[JobView, list[DownloadView]]]:
        """Every job of the namespace, newest first, each with its downloads as they stand."""
        downloads: dict[str, list[DownloadView]] = {}
        for record in self.store.downloads(session.namespace):
            downloads.setdefault(record.job_id, []).append(self._download_view(session, record))
        return [
            (
                self.view(record, self.catalog.workflows[record.workflow_id], session.now),
                downloads.get(record.id, []),
            )
            for record in self.store.jobs(session.namespace)
        ]

    def package(self, session: Session, download_id: str, expires: str, signature: str) -> bytes:
        """The ZIP behind a signed URL; any invalid, expired or unknown URL is refused alike."""
        denied = AccessDenied("forbidden", "The signed URL is invalid or has expired.")
        namespace = session.namespace
        if not signing.is_valid(self._secret, namespace, download_id, expires, signature):
            raise denied
        if session.now >= int(expires):
            raise denied
        record = self.store.download(namespace, download_id)
        job_record = record and self.store.job(namespace, record.job_id)
        if record is None or job_record is None:
            raise denied
        # a package shows a finished job: fixed by the download and the job's record
        key = (record, job_record.workflow_id, job_record.created_at, job_record.overrides)
        return self._packages.get_or_make(
            key, lambda: self._build_package(record, job_record, session.now)
        )

    def _build_package(self, record: DownloadRecord, job_record: JobRecord, now: float) -> bytes:
        workflow = self.catalog.workflows[record.workflow_id]
        job = self.view(job_record, workflow, now)
        tasks = [t for t in job.state.tasks if not record.task_id or t.plan.id == record.task_id]
        files = [f for t in tasks for f in packages.task_output_files(job.record.id, t)]
        if not record.task_id:
            files += packages.job_input_files(job.record.id, job.state)
        manifest = {
            "format": "pixxel-mock-package",
            "kind": "task" if record.task_id else "job",
            "download_id": record.id,
            "workflow_id": workflow.id,
            "job_id": job.record.id,
            "job_status": job.state.status,
            "task_id": record.task_id or None,
            "tasks": [
                {
                    "id": t.plan.id,
                    "name": t.plan.template.name,
                    "status": t.status,
                    "block": {
                        "name": t.plan.template.block.name,
                        "version": t.plan.template.block.version,
                    },
                }
                for t in tasks
            ],
        }
        return packages.build_zip(manifest, files)


def _matches_workflow(workflow: Workflow, filters: dict[str, str]) -> bool:
    return (
        ("id" not in filters or workflow.id == filters["id"])
        and ("name" not in filters or filters["name"].lower() in workflow.name.lower())
        and ("created_by" not in filters or workflow.created_by == filters["created_by"])
        and ("created_on" not in filters or utc_day(workflow.created_at) == filters["created_on"])
        and ("updated_at" not in filters or utc_day(workflow.updated_at) == filters["updated_at"])
    )
