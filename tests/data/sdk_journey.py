"""A typed journey with the client openapi-python-client generates from the contract.

tests/test_generated_client.py generates `pixxel_client` beside this file, checks this
file with mypy (no casts: ids, timestamps and date filters are typed by the contract)
and runs it against a mock: `python sdk_journey.py BASE_URL`.
"""

from __future__ import annotations

import io
import sys
import zipfile
from datetime import UTC, datetime
from uuid import UUID

import httpx
from pixxel_client import AuthenticatedClient
from pixxel_client.api.jobs import create_job, download_job, get_job, list_jobs
from pixxel_client.api.workflows import get_workflow, list_workflows
from pixxel_client.models import Error, Job, JobDownload, JobList, Workflow, WorkflowList

KEY = "pxm_demo_alpha"
PROJECT = UUID("9531985d-5d9d-49f8-9818-e811892f902b")
POLLS = 200


def client(base_url: str, key: str = KEY) -> AuthenticatedClient:
    return AuthenticatedClient(base_url=base_url, token=key, prefix="")


def first_workflow(api: AuthenticatedClient) -> Workflow:
    page = list_workflows.sync(client=api, project_id=PROJECT, name="NDVI")
    assert isinstance(page, WorkflowList), page
    summary = page.workflows[0]
    workflow = get_workflow.sync(summary.id, client=api, project_id=summary.project_id)
    assert isinstance(workflow, Workflow), workflow
    return workflow


def run_to_completion(api: AuthenticatedClient, workflow: Workflow) -> Job:
    job = create_job.sync(workflow.id, client=api, project_id=workflow.project_id)
    assert isinstance(job, Job), job
    early = download_job.sync(workflow.id, job.id, client=api)
    assert isinstance(early, Error) and early.error.code == "not_finished", early  # the 400
    for _ in range(POLLS):
        polled = get_job.sync(workflow.id, job.id, client=api)
        assert isinstance(polled, Job), polled
        if polled.status == "completed":
            assert isinstance(polled.finished_at, datetime), polled.finished_at
            return polled
    raise AssertionError(f"job {job.id} did not complete in {POLLS} polls")


def listed_today(api: AuthenticatedClient, workflow: Workflow, job: Job) -> bool:
    today = datetime.now(UTC)  # a date filter takes a datetime and sends RFC 3339
    jobs = list_jobs.sync(workflow.id, client=api, created_on=today)
    assert isinstance(jobs, JobList), jobs
    return job.id in {summary.id for summary in jobs.jobs}


def download(api: AuthenticatedClient, workflow: Workflow, job: Job) -> set[str]:
    for _ in range(POLLS):
        package = download_job.sync(workflow.id, job.id, client=api)
        assert isinstance(package, JobDownload), package
        if package.status == "ready":
            archive = httpx.get(package.signed_url)
            archive.raise_for_status()
            return set(zipfile.ZipFile(io.BytesIO(archive.content)).namelist())
    raise AssertionError(f"the download of job {job.id} was not ready in {POLLS} polls")


def refused_without_access(base_url: str, workflow: Workflow) -> str:
    answer = get_workflow.sync(
        workflow.id, client=client(base_url, "pxm_demo_beta"), project_id=workflow.project_id
    )
    assert isinstance(answer, Error), answer  # the 403
    return answer.error.code


def main(base_url: str) -> None:
    api = client(base_url)
    workflow = first_workflow(api)
    job = run_to_completion(api, workflow)
    assert listed_today(api, workflow, job)
    files = download(api, workflow, job)
    assert "manifest.json" in files, files
    print(
        f"job {job.id} completed; {len(files)} files; 403 {refused_without_access(base_url, workflow)}"
    )


if __name__ == "__main__":
    main(sys.argv[1])
