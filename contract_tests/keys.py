"""The API keys of a fixtures folder (its keys.yaml), as the harness and the fixture hand them out.

Read from the catalog the mock serves, so a project's own fixtures bring their own keys.
"""

from __future__ import annotations

from collections import Counter

from pixxel_mock.server.model.catalog import Catalog


def _short_name(key: str) -> str:
    return key.rpartition("_")[2]


def named_keys(catalog: Catalog) -> dict[str, str]:
    """Each key by the last `_`-separated part of it (a key ending in `_alpha`: `alpha`), or
    by the whole key where two keys end alike, so that no key is lost."""
    shared = Counter(_short_name(key) for key in catalog.keys)
    return {
        (_short_name(key) if shared[_short_name(key)] == 1 else key): key for key in catalog.keys
    }


def client_key(catalog: Catalog) -> str:
    """The first key of keys.yaml that is not revoked: the one a harness client calls with."""
    return next(key.key for key in catalog.keys.values() if not key.revoked)


def other_tenant_key(catalog: Catalog, key: str) -> str:
    """The first key, not revoked, that reaches none of `key`'s projects: it must never see
    `key`'s jobs."""
    projects = catalog.keys[key].project_ids
    return next(
        other.key
        for other in catalog.keys.values()
        if not other.revoked and not other.project_ids & projects
    )
