"""The blocks of the catalog and their versions (fixtures only, visible to every key)."""

from __future__ import annotations

from pixxel_mock.server.model.catalog import BlockVersion, Catalog
from pixxel_mock.server.model.errors import NotFound


class Blocks:
    def __init__(self, catalog: Catalog) -> None:
        self._catalog = catalog

    def matching(
        self, mode: str | None = None, name: str | None = None, version: str | None = None
    ) -> list[BlockVersion]:
        """Every block version of the given mode, name and version (each optional)."""
        return [
            b
            for b in self._catalog.all_block_versions()
            if (mode is None or mode in b.modes)
            and (name is None or b.name == name)
            and (version is None or b.version == version)
        ]

    def versions(self, name: str) -> list[BlockVersion]:
        versions = self._catalog.blocks.get(name)
        if not versions:
            raise NotFound("not_found", f'No block is named "{name}".')
        return list(versions)

    def version(self, name: str, version: str) -> BlockVersion:
        block = self._catalog.block_version(name, version)
        if block is None:
            raise NotFound("not_found", f'No block named "{name}" has version "{version}".')
        return block
