"""Model objects as the Pixxel API shows them on the wire (field names, quirks included)."""

from __future__ import annotations

from typing import Any

from pixxel_mock.server.model.catalog import BlockVersion, Project, Workflow
from pixxel_mock.server.model.downloads import DownloadView
from pixxel_mock.server.model.jobs import JobView
from pixxel_mock.server.model.lifecycle import TaskState
from pixxel_mock.server.model.packages import ARTIFACT_FORMATS, output_file_name
from pixxel_mock.server.model.timefmt import go_duration, rfc3339

BLOCK_STATUS_CODES = {"released": 1, "deprecated": 2, "disabled": 3, "draft": 0}
REMOTE_ROOT = "s3://pixxel-mock"


def project(p: Project) -> dict[str, Any]:
    return {
        "id": p.id,
        "name": p.name,
        "title": p.title,
        "org_id": p.org_id,
        "members_count": p.members_count,
        "created_at": rfc3339(p.created_at),
        "updated_at": rfc3339(p.updated_at),
        "metadata": p.metadata,
    }


def block(b: BlockVersion) -> dict[str, Any]:
    """The generated reference's shape: the version's details nested under `spec`."""
    return {
        "id": b.block_id,
        "block_status": b.block_status,
        "spec": {
            "kind": "block",
            "status": BLOCK_STATUS_CODES.get(b.block_status, 1),
            "inputs": list(b.inputs),
            "outputs": list(b.outputs),
            "catalog_content_url": f"https://docs.pixxel.space/blocks/{b.name}",
            "supported_collections_id": list(b.supported_collections_id),
            "type": b.type,
            "description": b.description,
            "id": b.block_id,
            "version_id": b.version_id,
            "name": b.name,
            "title": b.title,
            "version": b.version,
        },
        "created_at": rfc3339(b.created_at),
        "err": "",
    }


def guide_block(b: BlockVersion) -> dict[str, Any]:
    """The developer guide's flat shape, for the DEV-only block lists."""
    return {
        "id": b.block_id,
        "block_status": b.block_status,
        "name": b.name,
        "title": b.title,
        "description": b.description,
        "version": b.version,
        "input": list(b.inputs),
        "output": list(b.outputs),
        "price": b.price,
        "info": [],
        "supported_collections_id": ",".join(b.supported_collections_id),
        "created_at": rfc3339(b.created_at),
    }


def workflow_summary(w: Workflow) -> dict[str, Any]:
    return {
        "id": w.id,
        "project_id": w.project_id,
        "legacy_project_id": "",
        "name": w.name,
        "created_by": w.created_by,
        "description": w.description,
        "created_at": rfc3339(w.created_at),
        "updated_at": rfc3339(w.updated_at),
    }


def workflow(w: Workflow) -> dict[str, Any]:
    return {
        "id": w.id,
        "estimated_cost": w.estimated_cost,
        "name": w.name,
        "created_by": w.created_by,
        "description": w.description,
        "spec": w.spec(),
        "created_at": rfc3339(w.created_at),
        "updated_at": rfc3339(w.updated_at),
        "val_errors": [],
        "project_id": w.project_id,
    }


def job_summary(view: JobView) -> dict[str, Any]:
    state = view.state
    return {
        "created_by": view.record.created_by,
        "id": view.record.id,
        "cost": view.workflow.estimated_cost,
        "workflow_id": view.workflow.id,
        "created_at": rfc3339(view.record.created_at),
        "updated_at": rfc3339(state.updated_at),
        "finished_at": rfc3339(state.finished_at),
        "estimated_duration": view.workflow.estimated_duration,
        "progress": f"{state.progress}%",
        "status": state.status,
        "time_taken": go_duration(state.time_taken),
    }


def job(view: JobView) -> dict[str, Any]:
    state = view.state
    outputs = {t.plan.template.name: t for t in state.tasks}
    created_at = rfc3339(view.record.created_at)  # every task's too
    return {
        **job_summary(view),
        "tasks": [task(view, t, outputs, created_at) for t in state.tasks],
        "val_errors": [],
        "spec": view.workflow.spec(),
        "exec_created_at": rfc3339(state.exec_created_at),
        "exec_updated_at": rfc3339(state.updated_at if state.exec_created_at else None),
    }


def task(
    view: JobView,
    t: TaskState,
    by_name: dict[str, TaskState],
    created_at: str,
) -> dict[str, Any]:
    template = t.plan.template
    failure = t.plan.failure if t.status == "failed" else None
    return {
        "id": t.plan.id,
        "info_logs": _logs(t),
        "created_at": created_at,
        "updated_at": rfc3339(t.updated_at),
        "finished_at": rfc3339(t.finished_at),
        "estimated_time_duration": template.block.estimated_time_duration,
        "time_taken": go_duration(t.time_taken),
        "status": t.status,
        "state_msg": _STATE_MESSAGES[t.status],
        "inputs": _task_inputs(view, t, by_name) if t.status != "created" else [],
        "result": _task_outputs(view.record.id, t) if t.status == "completed" else [],
        "depends_on": list(template.depends_on),
        "name": template.name,
        "progress": t.progress,
        "disclaimer": [],
        "recv_time": rfc3339(t.recv_time),
        "send_time": rfc3339(t.send_time),
        "block_inf_start_time": rfc3339(t.inference_start),
        "block_inf_end_time": rfc3339(t.inference_end),
        "block_info": {
            "id": template.block.block_id,
            "name": template.block.name,
            "version": template.block.version,
        },
        "err_msg": failure.err_msg if failure else "",
        "failure_type": failure.failure_type if failure else "",
    }


_STATE_MESSAGES = {
    "created": "waiting for dependencies",
    "inprogress": "running inference",
    "completed": "completed",
    "failed": "failed",
}


def _logs(t: TaskState) -> list[str]:
    block_ref = f"block {t.plan.template.block.name} {t.plan.template.block.version}"
    lines = []
    if t.status != "created":
        lines.append(f"{block_ref} started")
    if t.status == "completed":
        lines.append(f"{block_ref} finished")
    if t.status == "failed" and t.plan.failure:
        lines.append(t.plan.failure.err_msg)
    return lines


def _remote_output(job_id: str, task_name: str, output: dict[str, Any]) -> str:
    return f"{REMOTE_ROOT}/jobs/{job_id}/{task_name}/{output['name']}/{output_file_name(output)}"


def _task_outputs(job_id: str, t: TaskState) -> list[dict[str, Any]]:
    name = t.plan.template.name
    return [
        {**output, "value": _remote_output(job_id, name, output), "metadata": {"block-name": name}}
        if output.get("format") in ARTIFACT_FORMATS
        else dict(output)
        for output in t.plan.template.block.outputs
    ]


def _task_inputs(
    view: JobView, t: TaskState, by_name: dict[str, TaskState]
) -> list[dict[str, Any]]:
    """Block inputs with their values: the workflow's own, or the upstream output of that format."""
    template = t.plan.template
    filled = []
    for spec in template.block.inputs:
        value = template.inputs.get(spec["name"])
        if value is None:
            value = next(
                (
                    _remote_output(view.record.id, dep, output)
                    for dep in template.depends_on
                    for output in by_name[dep].plan.template.block.outputs
                    if output.get("format") == spec.get("format")
                ),
                "",
            )
        filled.append({**spec, "value": value})
    return filled


def download_job(d: DownloadView, base_url: str) -> dict[str, Any]:
    return {
        "id": d.id,
        "status": d.status,
        "signed_url": _absolute(d.signed_path, base_url),
        "workflowId": d.workflow_id,
    }


def download_task(d: DownloadView, base_url: str) -> dict[str, Any]:
    return {
        "id": d.task_id,
        "job_id": d.job_id,
        "workflow_id": d.workflow_id,
        "status": d.status,
        "signed_url": _absolute(d.signed_path, base_url),
    }


def _absolute(path: str, base_url: str) -> str:
    return base_url.rstrip("/") + path if path else ""
