"""Catalog download resources: a ZIP of catalogs' GeoTIFFs behind a signed URL.

`created`, then `in_progress`, then `success` with a signed URL (documented: the URL is
populated only on success), on the clock or, in `polls` clock mode, one step per read;
the status is derived from the record and the clock, never stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pixxel_mock.server.model import packages, signing
from pixxel_mock.server.model.catalog import ApiKey
from pixxel_mock.server.model.deliveries import Deliveries, EntryFile, entry_file
from pixxel_mock.server.model.errors import AccessDenied, NotFound
from pixxel_mock.server.model.ids import derived_uuid
from pixxel_mock.server.model.orders import CatalogEntry, Orders
from pixxel_mock.server.model.sessions import Session
from pixxel_mock.server.state.cache import BoundedCache
from pixxel_mock.server.state.records import JobTable, RecordKind
from pixxel_mock.server.state.store import Store

FOLDER = "catalogs"  # of the signed URLs: /__downloads/<namespace>/catalogs/<id>.zip
NO_DOWNLOAD = "No download resource with this id is visible to the API key."
STEPS = (("created", 0.0), ("in_progress", 2.0), ("success", 10.0))  # from creation


@dataclass(frozen=True)
class CatalogDownloadRecord:
    namespace: str
    id: str
    seq: int
    catalog_ids: str  # comma-separated, in the order resolved
    created_by: str
    created_at: float
    polls: int

    def status(self, now: float) -> str:
        """The lifecycle: the last step reached by time, or by counted reads."""
        reached = [name for name, after in STEPS if now >= self.created_at + after]
        return STEPS[max(len(reached) - 1, min(self.polls, len(STEPS) - 1))][0]


CATALOG_DOWNLOADS = RecordKind.of_dataclass("catalog_downloads", CatalogDownloadRecord)


@dataclass(frozen=True)
class CatalogDownloadView:
    id: str
    status: str
    signed_path: str  # "" until success; the HTTP layer makes it absolute


class CatalogDownloads:
    def __init__(
        self,
        store: Store,
        orders: Orders,
        deliveries: Deliveries,
        url_ttl_seconds: int,
        geotiff: EntryFile,
    ) -> None:
        self.records = store.register(JobTable(store.database, CATALOG_DOWNLOADS, store.namespaces))
        self._orders = orders
        self._deliveries = deliveries
        self._url_ttl_seconds = url_ttl_seconds
        self._geotiff = geotiff
        self._secret = store.database.meta("secret")
        self._packages: BoundedCache[CatalogDownloadRecord, bytes] = BoundedCache(16)

    def create(
        self,
        key: ApiKey,
        session: Session,
        catalog_ids: Sequence[str] | None,
        order_item_ids: Sequence[str] | None,
    ) -> CatalogDownloadView:
        entries = self._deliveries.resolve(key, session, catalog_ids, order_item_ids)
        namespace = session.namespace
        record = self.records.insert(
            namespace,
            lambda seq: CatalogDownloadRecord(
                namespace=namespace,
                id=derived_uuid(namespace, "catalog-download", seq),
                seq=seq,
                catalog_ids=",".join(dict.fromkeys(e.id for e in entries)),
                created_by=key.service_account_id,
                created_at=session.now,
                polls=0,
            ),
        )
        return self._view(session, record)

    def get(self, key: ApiKey, session: Session, download_id: str) -> CatalogDownloadView:
        record = self.records.get(session.namespace, download_id)
        if record is None or not self._entries(key, session, record):
            raise NotFound("not_found", NO_DOWNLOAD)
        if session.polls_mode:
            record = self.records.poll(session.namespace, download_id) or record
        return self._view(session, record)

    def _entries(
        self, key: ApiKey, session: Session, record: CatalogDownloadRecord
    ) -> list[CatalogEntry]:
        """The record's entries, if the key sees every one of them (else none)."""
        by_id = {e.id: e for e in self._orders.catalogs(key, session)}
        wanted = record.catalog_ids.split(",")
        return [by_id[c] for c in wanted] if all(c in by_id for c in wanted) else []

    def _view(self, session: Session, record: CatalogDownloadRecord) -> CatalogDownloadView:
        status = record.status(session.now)
        if status != "success":
            return CatalogDownloadView(record.id, status, "")
        ttl = session.scenario.url_ttl_seconds or self._url_ttl_seconds
        path = signing.signed_path(
            self._secret, session.namespace, record.id, int(session.now) + ttl, FOLDER
        )
        return CatalogDownloadView(record.id, status, path)

    def package(self, session: Session, download_id: str, expires: str, signature: str) -> bytes:
        """The ZIP behind a signed URL; any invalid, expired or unknown URL is refused alike."""
        denied = AccessDenied("forbidden", "The signed URL is invalid or has expired.")
        namespace = session.namespace
        if not signing.is_valid(
            self._secret, namespace, f"{FOLDER}/{download_id}", expires, signature
        ):
            raise denied
        record = self.records.get(namespace, download_id)
        if record is None or session.now >= int(expires) or record.status(session.now) != "success":
            raise denied
        entries = {
            entry.id: entry
            for view in self._orders.records.listing(namespace)
            for entry in self._orders.entries_of(self._orders.view(view, session.now))
        }
        chosen = [entries[c] for c in record.catalog_ids.split(",") if c in entries]
        return self._packages.get_or_make(record, lambda: self._build(record, chosen))

    def _build(self, record: CatalogDownloadRecord, entries: list[CatalogEntry]) -> bytes:
        files = [entry_file(e, self._geotiff(e), f"{e.id}/") for e in entries]
        manifest = {
            "format": "pixxel-mock-package",
            "kind": "catalogs",
            "download_id": record.id,
            "catalogs": [
                {"id": e.id, "item_id": e.item_id, "order_item_id": e.spec.id} for e in entries
            ],
        }
        return packages.build_zip(manifest, files)
