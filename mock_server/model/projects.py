"""The projects an API key may see (fixtures only: nothing about them is stored)."""

from __future__ import annotations

from pixxel_mock.server.model.catalog import ApiKey, Catalog, Project
from pixxel_mock.server.model.errors import NotFound


class Projects:
    def __init__(self, catalog: Catalog) -> None:
        self._projects = catalog.projects

    def page(self, key: ApiKey, page_num: int, page_size: int) -> tuple[int, list[Project]]:
        """How many projects the key sees, and those of one page, oldest first."""
        visible = sorted(
            (p for p in self._projects.values() if p.id in key.project_ids),
            key=lambda p: p.created_at,
        )
        start = (page_num - 1) * page_size
        return len(visible), visible[start : start + page_size]

    def get(self, key: ApiKey, project_id: str) -> Project:
        project = self._projects.get(project_id)
        if project is None or project.id not in key.project_ids:
            raise NotFound("not_found", "No project with this id is visible to the API key.")
        return project
