"""AOI downloads: a ZIP of some of an AOI's assets, one GeoTIFF each, behind a signed URL.

Ready at once (`SUCCESS`, as the documentation's samples show) unless a scenario makes
it wait (`PENDING`, empty `signed_url`); like a job package, its status is derived from
the record and the clock, never stored.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pixxel_mock.server.model import packages, signing
from pixxel_mock.server.model.aois import Aois, AoiView, AssetPlan
from pixxel_mock.server.model.catalog import ApiKey
from pixxel_mock.server.model.downloads import BecomesReady
from pixxel_mock.server.model.errors import AccessDenied, InvalidInput, NotFound
from pixxel_mock.server.model.ids import derived_uuid, unit_interval
from pixxel_mock.server.model.sessions import Session
from pixxel_mock.server.state.cache import BoundedCache
from pixxel_mock.server.state.records import JobTable, RecordKind
from pixxel_mock.server.state.store import Store

FOLDER = "aois"  # of the signed URLs: /__downloads/<namespace>/aois/<id>.zip
NO_DOWNLOAD = "No download with this id exists for this AOI."
Bounds = tuple[float, float, float, float]
# model/rasters.py's write_geotiff(band_names, bounds, crs, seed) -> COG bytes
RasterWriter = Callable[[Sequence[str], Bounds, str, int], bytes]


@dataclass(frozen=True)
class AoiDownloadRecord(BecomesReady):
    namespace: str
    id: str
    seq: int
    aoi_id: str
    asset_ids: str  # comma-separated, in the order asked
    created_at: float
    polls: int
    ready_after_seconds: float  # fixed at creation, so a ready download never turns pending
    ready_after_polls: int


AOI_DOWNLOADS = RecordKind.of_dataclass("aoi_downloads", AoiDownloadRecord)


@dataclass(frozen=True)
class AoiDownloadView:
    id: str
    status: str  # PENDING | SUCCESS
    signed_path: str  # "" while pending; the HTTP layer makes it absolute


class AoiDownloads:
    def __init__(
        self, aois: Aois, store: Store, seed: int, url_ttl_seconds: int, write_geotiff: RasterWriter
    ) -> None:
        self.records = store.register(JobTable(store.database, AOI_DOWNLOADS, store.namespaces))
        self._aois = aois
        self._seed = seed
        self._url_ttl_seconds = url_ttl_seconds
        self._write_geotiff = write_geotiff
        self._secret = store.database.meta("secret")
        self._packages: BoundedCache[AoiDownloadRecord, bytes] = BoundedCache(32)

    def create(
        self, key: ApiKey, session: Session, aoi_id: str, asset_ids: list[str]
    ) -> AoiDownloadView:
        """Request a download of assets of the AOI that have succeeded."""
        aoi = self._aois.get(key, session, aoi_id)
        assets = {asset.plan.id: asset for asset in aoi.state.assets}
        for requested in asset_ids:
            asset = assets.get(requested)
            if asset is None or asset.status != "success":
                problem = "is not an asset of this AOI" if asset is None else "has not succeeded"
                raise InvalidInput(
                    "invalid_asset",
                    f"Asset {requested} {problem}.",
                    {"parameter": "asset_ids", "in": "body", "asset_id": requested},
                )
        scenario, namespace, seed = session.scenario, session.namespace, self._seed
        record = self.records.insert(
            namespace,
            lambda seq: AoiDownloadRecord(
                namespace=namespace,
                id=derived_uuid(seed, namespace, "aoi-download", seq),
                seq=seq,
                aoi_id=aoi.record.id,
                asset_ids=",".join(asset_ids),
                created_at=session.now,
                polls=0,
                ready_after_seconds=scenario.aoi_download_seconds,
                ready_after_polls=scenario.aoi_download_polls,
            ),
        )
        return self._view(session, record)

    def get(self, key: ApiKey, session: Session, aoi_id: str, download_id: str) -> AoiDownloadView:
        """A download of the AOI; in polls clock mode each read moves it one step."""
        aoi = self._aois.get(key, session, aoi_id)
        record = self.records.get(session.namespace, download_id)
        if record is None or record.aoi_id != aoi.record.id:
            raise NotFound("not_found", NO_DOWNLOAD)
        if session.polls_mode:
            record = self.records.poll(session.namespace, download_id) or record
        return self._view(session, record)

    def _view(self, session: Session, record: AoiDownloadRecord) -> AoiDownloadView:
        if not record.is_ready(session.now):
            return AoiDownloadView(record.id, "PENDING", "")
        ttl = session.scenario.url_ttl_seconds or self._url_ttl_seconds
        path = signing.signed_path(
            self._secret, session.namespace, record.id, int(session.now) + ttl, FOLDER
        )
        return AoiDownloadView(record.id, "SUCCESS", path)

    def package(self, session: Session, download_id: str, expires: str, signature: str) -> bytes:
        """The ZIP behind a signed URL; any invalid, expired or unknown URL is refused alike."""
        denied = AccessDenied("forbidden", "The signed URL is invalid or has expired.")
        namespace = session.namespace
        signed_id = f"{FOLDER}/{download_id}"
        if not signing.is_valid(self._secret, namespace, signed_id, expires, signature):
            raise denied
        record = self.records.get(namespace, download_id)
        aoi = record and self._aois.records.get(namespace, record.aoi_id)
        if session.now >= int(expires) or record is None or aoi is None:
            raise denied
        if not record.is_ready(session.now):
            raise denied
        view = self._aois.view(aoi, session.now)
        return self._packages.get_or_make(record, lambda: self._build(record, view))

    def geotiff(self, asset: AssetPlan) -> bytes:
        """An asset's file: a COG over its footprint's bounds, pixels seeded by its id (the
        same bytes in every package, and what visualizations compute their index from)."""
        return self._write_geotiff(
            asset.band_names,
            asset.footprint.bounds,
            "EPSG:4326",
            int(unit_interval(self._seed, asset.id) * 2**31),
        )

    def _build(self, record: AoiDownloadRecord, aoi: AoiView) -> bytes:
        by_id = {asset.id: asset for asset in aoi.plan.assets}
        assets = [by_id[asset_id] for asset_id in record.asset_ids.split(",")]
        files = [
            packages.PackageFile(
                path=f"assets/{asset.name}.tif",
                format="raster",
                task=asset.asset_type,
                name=asset.name,
                content=self.geotiff(asset),
            )
            for asset in assets
        ]
        manifest = {
            "format": "pixxel-mock-package",
            "kind": "aoi",
            "download_id": record.id,
            "aoi_id": aoi.record.id,
            "aoi_name": aoi.record.name,
            "assets": [
                {
                    "id": a.id,
                    "name": a.name,
                    "asset_type": a.asset_type,
                    "bands": list(a.band_names),
                }
                for a in assets
            ],
        }
        return packages.build_zip(manifest, files)
