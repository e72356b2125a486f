"""The workflows an API key may see and run (fixtures only: nothing about them is stored)."""

from __future__ import annotations

from pixxel_mock.server.model.catalog import ApiKey, Catalog, Workflow
from pixxel_mock.server.model.errors import NO_ACCESS, AccessDenied
from pixxel_mock.server.model.timefmt import utc_day


class Workflows:
    def __init__(self, catalog: Catalog) -> None:
        self._workflows = catalog.workflows

    def matching(
        self,
        key: ApiKey,
        project_id: str | None,
        filters: dict[str, str],
        offset: int,
        limit: int,
    ) -> tuple[int, list[Workflow]]:
        """How many of the key's workflows match, and those from `offset` on, oldest first."""
        if project_id is not None and project_id not in key.project_ids:
            raise AccessDenied("forbidden", NO_ACCESS, {"parameter": "project_id"})
        matching = [
            w
            for w in self._workflows.values()
            if w.project_id in key.project_ids
            and (project_id is None or w.project_id == project_id)
            and _matches(w, filters)
        ]
        matching.sort(key=lambda w: (w.created_at, w.id))
        return len(matching), matching[offset : offset + limit]

    def get(self, key: ApiKey, workflow_id: str, project_id: str | None = None) -> Workflow:
        """A workflow the key may use; unknown and foreign ones are refused alike."""
        workflow = self._workflows.get(workflow_id)
        if (
            workflow is None
            or workflow.project_id not in key.project_ids
            or (project_id is not None and workflow.project_id != project_id)
        ):
            raise AccessDenied("forbidden", NO_ACCESS)
        return workflow


def _matches(workflow: Workflow, filters: dict[str, str]) -> bool:
    return (
        ("id" not in filters or workflow.id == filters["id"])
        and ("name" not in filters or filters["name"].lower() in workflow.name.lower())
        and ("created_by" not in filters or workflow.created_by == filters["created_by"])
        and ("created_on" not in filters or utc_day(workflow.created_at) == filters["created_on"])
        and ("updated_at" not in filters or utc_day(workflow.updated_at) == filters["updated_at"])
    )
