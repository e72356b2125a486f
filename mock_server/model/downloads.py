"""Downloads: a finished job's (or task's) package, pending for a while, then ready
behind a signed URL. The record is what the first PUT fixed; its status is derived."""

from __future__ import annotations

from dataclasses import dataclass

from pixxel_mock.server.model import packages, signing
from pixxel_mock.server.model.catalog import ApiKey, Catalog
from pixxel_mock.server.model.errors import NO_ACCESS, AccessDenied, NotFinished
from pixxel_mock.server.model.ids import derived_uuid
from pixxel_mock.server.model.jobs import Jobs, JobView
from pixxel_mock.server.model.lifecycle import JobRecord
from pixxel_mock.server.model.sessions import Session
from pixxel_mock.server.state.cache import BoundedCache
from pixxel_mock.server.state.records import RecordKind, RecordTable
from pixxel_mock.server.state.store import Store

PACKAGE_CACHE_SIZE = 32  # ZIPs built most recently


class BecomesReady:
    """The lifecycle every download kind shares, mixed into its record: pending, then
    ready after its time or its polls, for good. Not a dataclass, so it adds no columns."""

    created_at: float
    polls: int
    ready_after_seconds: float  # fixed at creation, so a ready package never turns pending
    ready_after_polls: int

    def is_ready(self, now: float) -> bool:
        return now >= self.created_at + self.ready_after_seconds or (
            self.polls >= self.ready_after_polls
        )


@dataclass(frozen=True)
class DownloadRecord(BecomesReady):
    namespace: str
    id: str
    workflow_id: str
    job_id: str
    task_id: str  # "" for a job package
    created_at: float
    polls: int
    ready_after_seconds: float  # fixed at creation, so a ready package never turns pending
    ready_after_polls: int


DOWNLOADS = RecordKind.of_dataclass("downloads", DownloadRecord)


@dataclass(frozen=True)
class DownloadSettings:
    """How long packages take to prepare (simulated seconds, or PUTs in polls mode)
    and how long a signed URL lives (real seconds)."""

    job_package_seconds: float = 30.0
    task_package_seconds: float = 10.0
    package_polls: int = 1  # polls mode: PUTs after the first before a package is ready
    url_ttl_seconds: int = 3600


@dataclass(frozen=True)
class DownloadView:
    id: str
    status: str
    signed_path: str  # "" while pending; the HTTP layer makes it absolute
    workflow_id: str
    job_id: str
    task_id: str


class Downloads:
    def __init__(
        self, catalog: Catalog, jobs: Jobs, store: Store, settings: DownloadSettings
    ) -> None:
        self.records = store.register(RecordTable(store.database, DOWNLOADS))
        self._workflows = catalog.workflows
        self._jobs = jobs
        self._settings = settings
        self._secret = store.database.meta("secret")
        self._packages: BoundedCache[tuple[object, ...], bytes] = BoundedCache(PACKAGE_CACHE_SIZE)

    def of_job(self, key: ApiKey, session: Session, workflow_id: str, job_id: str) -> DownloadView:
        """Open (or poll) the package of a finished job."""
        job = self._jobs.find(key, session, workflow_id, job_id)
        if not job.state.is_terminal:
            raise NotFinished(
                "not_finished",
                "The job has not finished yet; download it once its status is completed or failed.",
                {"status": job.state.status},
            )
        return self._open(session, job, "", self._settings.job_package_seconds)

    def of_task(
        self, key: ApiKey, session: Session, workflow_id: str, job_id: str, task_id: str
    ) -> DownloadView:
        """Open (or poll) the package of a completed task."""
        job = self._jobs.find(key, session, workflow_id, job_id)
        task = next((t for t in job.state.tasks if t.plan.id == task_id), None)
        if task is None:
            raise AccessDenied("forbidden", NO_ACCESS)
        if task.status != "completed":
            raise NotFinished(
                "not_finished",
                "The task has not completed; only completed tasks can be downloaded.",
                {"status": task.status},
            )
        return self._open(session, job, task_id, self._settings.task_package_seconds)

    def _open(
        self, session: Session, job: JobView, task_id: str, preparation: float
    ) -> DownloadView:
        scenario, namespace = session.scenario, session.namespace
        record = self.records.open(
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
                    self._settings.package_polls
                    if scenario.pending_polls is None
                    else scenario.pending_polls
                ),
            ),
            count_poll=session.polls_mode,
        )
        return self._view(session, record)

    def _view(self, session: Session, record: DownloadRecord) -> DownloadView:
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
        ttl = session.scenario.url_ttl_seconds or self._settings.url_ttl_seconds
        return signing.signed_path(
            self._secret, session.namespace, record.id, int(session.now) + ttl
        )

    def by_job(self, session: Session) -> dict[str, list[DownloadView]]:
        """The namespace's downloads as they stand, by job id (the control plane's view)."""
        downloads: dict[str, list[DownloadView]] = {}
        for record in self.records.of_namespace(session.namespace):
            downloads.setdefault(record.job_id, []).append(self._view(session, record))
        return downloads

    def package(self, session: Session, download_id: str, expires: str, signature: str) -> bytes:
        """The ZIP behind a signed URL; any invalid, expired or unknown URL is refused alike."""
        denied = AccessDenied("forbidden", "The signed URL is invalid or has expired.")
        namespace = session.namespace
        if not signing.is_valid(self._secret, namespace, download_id, expires, signature):
            raise denied
        if session.now >= int(expires):
            raise denied
        record = self.records.get(namespace, download_id)
        job_record = record and self._jobs.records.get(namespace, record.job_id)
        if record is None or job_record is None:
            raise denied
        # a package shows a finished job: fixed by the download and the job's record
        key = (record, job_record.workflow_id, job_record.created_at, job_record.overrides)
        return self._packages.get_or_make(
            key, lambda: self._build_package(record, job_record, session.now)
        )

    def _build_package(self, record: DownloadRecord, job_record: JobRecord, now: float) -> bytes:
        workflow = self._workflows[record.workflow_id]
        job = self._jobs.view(job_record, workflow, now)
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
