"""Handlers of the Pixxel API: translate a validated call into a model call and back."""

from __future__ import annotations

from typing import Any

from pixxel_mock.server.api import serializers
from pixxel_mock.server.handling import Call, HandlerRegistry, Reply, to_json
from pixxel_mock.server.model.catalog import ApiKey
from pixxel_mock.server.model.coverage import download_states, encoded_states, job_states
from pixxel_mock.server.model.jobs import JobView
from pixxel_mock.server.model.timefmt import parse_rfc3339, utc_day

HANDLERS = HandlerRegistry()


def _key(call: Call) -> ApiKey:
    assert call.key is not None, "secured operations always carry a key"
    return call.key


def _filters(call: Call, *names: str) -> dict[str, str]:
    """The filters given, with dates normalised to their UTC day."""
    filters = {n: call.params[n] for n in names if call.params.get(n) is not None}
    for name in ("created_on", "updated_at"):
        if name in filters:
            filters[name] = utc_day(parse_rfc3339(filters[name]))
    return filters


@HANDLERS("ping")
def ping(call: Call) -> Reply:
    return 200, "pong"


@HANDLERS("listProjects")
def list_projects(call: Call) -> Reply:
    count, page = call.mock.projects.page(
        _key(call), call.params["page_num"], call.params["page_size"]
    )
    return 200, {"count": count, "projects": [serializers.project(p) for p in page]}


@HANDLERS("getProject")
def get_project(call: Call) -> Reply:
    project = call.mock.projects.get(_key(call), call.params["id"].lower())
    return 200, {"project": serializers.project(project)}


@HANDLERS("listBlocks")
def list_blocks(call: Call) -> Reply:
    blocks = call.mock.blocks.matching(mode=call.params.get("mode"))
    return 200, {"blocks": [serializers.block(b) for b in blocks]}


def _guide_blocks(call: Call, mode: str) -> Reply:
    blocks = call.mock.blocks.matching(
        mode=mode, name=call.params.get("name"), version=call.params.get("version")
    )
    return 200, {"blocks": [serializers.guide_block(b) for b in blocks]}


@HANDLERS("listWorkflowBlocks")
def list_workflow_blocks(call: Call) -> Reply:
    return _guide_blocks(call, "workflow")


@HANDLERS("listInsightBlocks")
def list_insight_blocks(call: Call) -> Reply:
    return _guide_blocks(call, "insight")


@HANDLERS("getBlockVersions")
def get_block_versions(call: Call) -> Reply:
    blocks = call.mock.blocks.versions(call.params["name"])
    return 200, {"blocks": [serializers.block(b) for b in blocks]}


@HANDLERS("getBlockByVersion")
def get_block_by_version(call: Call) -> Reply:
    return 200, serializers.block(
        call.mock.blocks.version(call.params["name"], call.params["version"])
    )


@HANDLERS("listWorkflows")
def list_workflows(call: Call) -> Reply:
    project_id = call.params.get("project_id")
    total, page = call.mock.workflows.matching(
        _key(call),
        project_id.lower() if project_id else None,
        _filters(call, "id", "name", "created_by", "created_on", "updated_at"),
        call.params["offset"],
        call.params["limit"],
    )
    pagination = {"limit": call.params["limit"], "offset": call.params["offset"], "total": total}
    return 200, {
        "workflows": [serializers.workflow_summary(w) for w in page],
        "pagination": pagination,
    }


@HANDLERS("getWorkflow")
def get_workflow(call: Call) -> Reply:
    workflow = call.mock.workflows.get(
        _key(call), _id(call, "workflow_id"), _id(call, "project_id")
    )
    return 200, serializers.workflow(workflow)


@HANDLERS("getWorkflowCostEstimate")
def get_workflow_cost_estimate(call: Call) -> Reply:
    workflow = call.mock.workflows.get(_key(call), _id(call, "workflow_id"))
    return 200, {"estimated_cost": workflow.estimated_cost}


@HANDLERS("listJobs")
def list_jobs(call: Call) -> Reply:
    jobs = call.mock.jobs.matching(
        _key(call),
        call.session,
        _id(call, "workflow_id"),
        _filters(call, "id", "status", "created_by", "created_on"),
    )
    return 200, b'{"jobs":[' + b",".join(_rendered(call, j, summary=True) for j in jobs) + b"]}"


@HANDLERS("createJob")
def create_job(call: Call) -> Reply:
    jobs = call.mock.jobs
    record, workflow = jobs.create(
        _key(call), call.session, _id(call, "workflow_id"), _id(call, "project_id")
    )
    if jobs.queued_on_creation(record):
        answer = call.mock.queued_answers.answer(
            record, workflow, lambda r: _encoded(jobs.view(r, workflow, r.created_at))
        )
        if answer is not None:
            call.observe(answer[1])
            return 200, answer[0]
    return 200, _rendered(call, jobs.view(record, workflow, call.session.now))


@HANDLERS("getJob")
def get_job(call: Call) -> Reply:
    job = call.mock.jobs.get(
        _key(call), call.session, _id(call, "workflow_id"), _id(call, "job_id")
    )
    return 200, _rendered(call, job)


def _rendered(call: Call, job: JobView, summary: bool = False) -> bytes:
    """A job's JSON (whole, or its list summary) and states, built once per state: while
    it holds, polls and lists reuse them. The state is keyed by the record but for its
    creator, which a reset and a re-creation by another key can change."""
    key = (job.record.namespace, job.record.id, job.record.created_by, summary)
    cached = call.mock.rendered_jobs.get(key)
    if cached is None or cached[0] is not job.state:
        cached = call.mock.rendered_jobs.put(key, (job.state, *_encoded(job, summary)))
    if not summary:
        call.observe(cached[2])
    return cached[1]


def _encoded(job: JobView, summary: bool = False) -> tuple[bytes, str]:
    """A job's JSON (whole, or its list summary) and the states it shows."""
    view = serializers.job_summary(job) if summary else serializers.job(job)
    state = job.state
    return to_json(view), encoded_states(job_states(state.status, (t.status for t in state.tasks)))


@HANDLERS("downloadJob")
def download_job(call: Call) -> Reply:
    download = call.mock.downloads.of_job(
        _key(call), call.session, _id(call, "workflow_id"), _id(call, "job_id")
    )
    call.observe(download_states(download.status))
    return 200, serializers.download_job(download, call.base_url)


@HANDLERS("downloadTask")
def download_task(call: Call) -> Reply:
    download = call.mock.downloads.of_task(
        _key(call),
        call.session,
        _id(call, "workflow_id"),
        _id(call, "job_id"),
        _id(call, "task_id"),
    )
    call.observe(download_states(download.status))
    return 200, serializers.download_task(download, call.base_url)


def _id(call: Call, name: str) -> Any:
    """UUIDs compare in canonical lower case, whatever case the client sent."""
    return call.params[name].lower()
