"""Stores: the cloud buckets of a workspace that deliveries go to.

A store's secrets are accepted and dropped: nothing is uploaded anywhere (a delivery
lands in a local folder standing for the bucket, model/deliveries.py), so the mock has
no use for them, and what it never keeps it can never show, journal or export. A
deletion is a record of its own (a store is never changed), so a delivery made before
it still knows where it went.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pixxel_mock.server.model.catalog import ApiKey, Project
from pixxel_mock.server.model.errors import AccessDenied, Conflict, InvalidInput
from pixxel_mock.server.model.ids import derived_uuid
from pixxel_mock.server.model.indices import workspace_of, workspaces_of
from pixxel_mock.server.model.sessions import Session
from pixxel_mock.server.state.records import JobTable, RecordKind, RecordTable
from pixxel_mock.server.state.store import Store

NO_STORE = "The API key does not have access to this store, or it does not exist."


@dataclass(frozen=True)
class StoreRecord:
    namespace: str
    id: str
    seq: int
    org_id: str
    name: str
    type: str
    bucket: str
    region: str
    path_prefix: str
    labels: str  # JSON object
    created_by: str
    created_at: float
    polls: int

    @property
    def label_map(self) -> dict[str, str]:
        return dict(json.loads(self.labels))


@dataclass(frozen=True)
class StoreDeletionRecord:
    namespace: str
    id: str  # the store's
    deleted_at: float
    deleted_by: str


STORES = RecordKind.of_dataclass("stores", StoreRecord)
STORE_DELETIONS = RecordKind.of_dataclass("store_deletions", StoreDeletionRecord)
InUse = Callable[[Session, StoreRecord], bool]  # an unfinished delivery uses the store


class Stores:
    """The stores of every namespace, per workspace; names are unique in a workspace."""

    def __init__(self, store: Store, projects: Mapping[str, Project], seed: int) -> None:
        self.records = store.register(JobTable(store.database, STORES, store.namespaces))
        self.deletions = store.register(RecordTable(store.database, STORE_DELETIONS))
        self._projects = projects
        self._seed = seed
        self.in_use: InUse = lambda session, record: False

    def create(self, key: ApiKey, session: Session, body: Mapping[str, Any]) -> StoreRecord:
        """A new store of the key's workspace; its secrets are not kept."""
        namespace, org_id = session.namespace, workspace_of(key, self._projects)
        name, configs = str(body["name"]), body["configs"]

        def build(seq: int) -> StoreRecord:
            if any(r.name == name for r in self._live(namespace, frozenset({org_id}))):
                raise Conflict(
                    "duplicate_name",
                    f"A store named {name!r} already exists in this workspace.",
                    {"parameter": "name", "in": "body"},
                )
            return StoreRecord(
                namespace=namespace,
                id=derived_uuid(self._seed, namespace, "store", seq),
                seq=seq,
                org_id=org_id,
                name=name,
                type=str(body["type"]),
                bucket=str(configs["bucket"]),
                region=str(configs["region"]),
                path_prefix=str(configs.get("path_prefix", "")),
                labels=json.dumps(dict(body.get("labels") or {}), sort_keys=True),
                created_by=key.service_account_id,
                created_at=session.now,
                polls=0,
            )

        return self.records.insert(namespace, build)

    def listing(self, key: ApiKey, session: Session) -> list[StoreRecord]:
        return self._live(session.namespace, workspaces_of(key, self._projects))

    def get(self, key: ApiKey, session: Session, store_id: str) -> StoreRecord:
        """A live store of the key's workspaces; unknown, foreign and deleted alike 403."""
        record = self.records.get(session.namespace, store_id)
        if (
            record is None
            or record.org_id not in workspaces_of(key, self._projects)
            or self.deletions.get(session.namespace, store_id) is not None
        ):
            raise AccessDenied("forbidden", NO_STORE)
        return record

    def usable(self, key: ApiKey, session: Session, store_id: str, parameter: str) -> StoreRecord:
        """A store a delivery may go to, or a 400 naming the field."""
        try:
            return self.get(key, session, store_id)
        except AccessDenied as exc:
            raise InvalidInput(
                "invalid_store",
                "No store with this id exists in the workspace (see List Stores).",
                {"parameter": parameter, "in": "body"},
            ) from exc

    def delete(self, key: ApiKey, session: Session, store_id: str) -> None:
        record = self.get(key, session, store_id)
        if self.in_use(session, record):
            raise Conflict(
                "store_in_use",
                "A delivery to this store has not finished yet; delete it afterwards.",
                {"parameter": "id", "in": "path"},
            )
        self.deletions.open(
            StoreDeletionRecord(session.namespace, record.id, session.now, key.service_account_id),
            count_poll=False,
        )

    def any(self, namespace: str, store_id: str) -> StoreRecord | None:
        """A store, deleted or not (where a past delivery went)."""
        return self.records.get(namespace, store_id)

    def _live(self, namespace: str, orgs: frozenset[str]) -> list[StoreRecord]:
        return [
            r
            for r in self.records.listing(namespace)
            if r.org_id in orgs and self.deletions.get(namespace, r.id) is None
        ]
