"""Insight downloads: a ZIP of a completed insight's selected inputs and outputs, pending
for a while, then ready behind a signed URL, as job packages are (downloads.py).

The record is what the first PUT of a selection fixed; its status is derived from the
record and the clock. Rasters are GeoTIFFs over the AOI (rasters.py), vectors GeoJSON,
tables CSV (packages.py).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pixxel_mock.server.model import packages, rasters, signing
from pixxel_mock.server.model.aois import AoiView
from pixxel_mock.server.model.catalog import ApiKey
from pixxel_mock.server.model.downloads import BecomesReady, DownloadSettings
from pixxel_mock.server.model.errors import AccessDenied, InvalidInput, NotFinished
from pixxel_mock.server.model.ids import derived_uuid, unit_interval
from pixxel_mock.server.model.insights import Insights, InsightView, output_file
from pixxel_mock.server.model.sessions import Session
from pixxel_mock.server.state.cache import BoundedCache
from pixxel_mock.server.state.records import RecordKind, RecordTable
from pixxel_mock.server.state.store import Store

FOLDER = "insights"  # of the signed URLs: /__downloads/<namespace>/insights/<id>.zip


@dataclass(frozen=True)
class InsightDownloadRecord(BecomesReady):
    namespace: str
    id: str
    insight_id: str
    inputs: str  # JSON list of the input names packaged
    outputs: str  # JSON list of the output names packaged
    created_at: float
    polls: int
    ready_after_seconds: float  # fixed at creation, so a ready package never turns pending
    ready_after_polls: int


INSIGHT_DOWNLOADS = RecordKind.of_dataclass("insight_downloads", InsightDownloadRecord)


@dataclass(frozen=True)
class InsightDownloadView:
    id: str  # the insight's, as documented ("Unique identifier of the insight")
    status: str  # pending | ready
    signed_path: str  # "" while pending; the HTTP layer makes it absolute


def selected(specs: Sequence[Mapping[str, Any]], names: list[str] | None, kind: str) -> list[str]:
    """The names of the DataTypes asked for (all if `names` is None); an unknown name
    is refused, naming it."""
    known = [str(spec["name"]) for spec in specs]
    if names is None:
        return known
    for name in names:
        if name not in known:
            raise InvalidInput(
                f"invalid_{kind}",
                f"The insight has no {kind} named {name!r}.",
                {"parameter": f"{kind}s", "in": "body", "name": name},
            )
    return list(dict.fromkeys(names))


class InsightDownloads:
    def __init__(
        self, insights: Insights, store: Store, seed: int, settings: DownloadSettings
    ) -> None:
        self.records = store.register(RecordTable(store.database, INSIGHT_DOWNLOADS))
        self._insights = insights
        self._seed = seed
        self._settings = settings
        self._secret = store.database.meta("secret")
        self._packages: BoundedCache[InsightDownloadRecord, bytes] = BoundedCache(32)

    def open(
        self,
        key: ApiKey,
        session: Session,
        aoi_id: str,
        insight_id: str,
        inputs: list[str] | None,
        outputs: list[str] | None,
    ) -> InsightDownloadView:
        """Open (or poll) the package of a completed insight's selection."""
        insight = self._insights.find(key, session, aoi_id, insight_id)
        if insight.status != "completed":
            raise NotFinished(
                "not_finished",
                "The insight has not completed; only completed insights can be downloaded.",
                {"status": insight.status},
            )
        chosen_inputs = selected(_named(insight.input), inputs, "input")
        chosen_outputs = selected(insight.block.outputs, outputs, "output")
        scenario, namespace = session.scenario, session.namespace
        selection = (json.dumps(chosen_inputs), json.dumps(chosen_outputs))
        record = self.records.open(
            InsightDownloadRecord(
                namespace=namespace,
                id=derived_uuid(namespace, "insight-download", insight.record.id, *selection),
                insight_id=insight.record.id,
                inputs=selection[0],
                outputs=selection[1],
                created_at=session.now,
                polls=0,
                ready_after_seconds=(
                    self._settings.job_package_seconds
                    if scenario.insight_download_seconds is None
                    else scenario.insight_download_seconds
                ),
                ready_after_polls=(
                    self._settings.package_polls
                    if scenario.insight_download_polls is None
                    else scenario.insight_download_polls
                ),
            ),
            count_poll=session.polls_mode,
        )
        return self._view(session, record)

    def _view(self, session: Session, record: InsightDownloadRecord) -> InsightDownloadView:
        if not record.is_ready(session.now):
            return InsightDownloadView(record.insight_id, "pending", "")
        ttl = session.scenario.url_ttl_seconds or self._settings.url_ttl_seconds
        path = signing.signed_path(
            self._secret, session.namespace, record.id, int(session.now) + ttl, FOLDER
        )
        return InsightDownloadView(record.insight_id, "ready", path)

    def of_namespace(self, session: Session) -> dict[str, list[InsightDownloadView]]:
        """The namespace's downloads as they stand, by insight id (the inspector's view)."""
        downloads: dict[str, list[InsightDownloadView]] = {}
        for record in self.records.of_namespace(session.namespace):
            downloads.setdefault(record.insight_id, []).append(self._view(session, record))
        return downloads

    def package(self, session: Session, download_id: str, expires: str, signature: str) -> bytes:
        """The ZIP behind a signed URL; any invalid, expired or unknown URL is refused alike."""
        denied = AccessDenied("forbidden", "The signed URL is invalid or has expired.")
        namespace = session.namespace
        signed_id = f"{FOLDER}/{download_id}"
        if not signing.is_valid(self._secret, namespace, signed_id, expires, signature):
            raise denied
        record = self.records.get(namespace, download_id)
        insight = record and self._insights.records.get(namespace, record.insight_id)
        if session.now >= int(expires) or record is None or insight is None:
            raise denied
        view = self._insights.view(insight, session.now)
        aoi = self._insights.aoi_of(view, session)
        if aoi is None:
            raise denied
        return self._packages.get_or_make(record, lambda: self._build(record, view, aoi))

    def _build(self, record: InsightDownloadRecord, insight: InsightView, aoi: AoiView) -> bytes:
        inputs = {spec["name"]: spec for spec in _named(insight.input)}
        outputs = {spec["name"]: spec for spec in insight.block.outputs}
        files = [
            self._file("inputs", inputs[name], insight, aoi)
            for name in json.loads(record.inputs)
            if inputs[name].get("format") in packages.ARTIFACT_FORMATS
        ] + [
            self._file("outputs", outputs[name], insight, aoi)
            for name in json.loads(record.outputs)
            if outputs[name].get("format") in packages.ARTIFACT_FORMATS
        ]
        manifest = {
            "format": "pixxel-mock-package",
            "kind": "insight",
            "download_id": record.id,
            "insight_id": insight.record.id,
            "insight_name": insight.record.name,
            "aoi_id": aoi.record.id,
            "block": {"name": insight.block.name, "version": insight.block.version},
            "inputs": [inputs[name] for name in json.loads(record.inputs)],
            "outputs": [outputs[name] for name in json.loads(record.outputs)],
        }
        return packages.build_zip(manifest, files)

    def _file(
        self, folder: str, spec: Mapping[str, Any], insight: InsightView, aoi: AoiView
    ) -> packages.PackageFile:
        """One input or output as a file: a raster covers the AOI (or the asset it came
        from), with the asset's bands for an input and one band for an output."""
        name, data_format = str(spec["name"]), str(spec["format"])
        seed = (self._seed, insight.record.id, folder, name)
        if data_format == "raster":
            bounds, bands = aoi.plan.footprint.bounds, [name]
            if folder == "inputs":
                bounds, bands = _input_raster(spec, aoi)
            content = rasters.write_geotiff(
                bands, bounds, "EPSG:4326", int(unit_interval(*seed) * 2**31), dtype="uint8"
            )
        elif data_format == "vector" and folder == "inputs":
            content = _aoi_feature(aoi)
        else:
            content = packages.render(dict(spec), *seed)
        return packages.PackageFile(
            path=f"{folder}/{output_file(spec)}",
            format=data_format,
            task=insight.block.name,
            name=name,
            content=content,
        )


def _named(values: list[Any]) -> list[dict[str, Any]]:
    """The DataTypes of an `input` (its integer form names nothing)."""
    return [v for v in values if isinstance(v, dict) and isinstance(v.get("name"), str)]


def _input_raster(
    spec: Mapping[str, Any], aoi: AoiView
) -> tuple[tuple[float, float, float, float], list[str]]:
    """Bounds and bands of a raster input: those of the AOI asset it names
    (`asset_source.id`), else the AOI's with the bands it asks for or the AOI's."""
    source = spec.get("asset_source") or {}
    asset = next((a for a in aoi.plan.assets if a.id == source.get("id")), None)
    if asset is not None:
        return asset.footprint.bounds, list(asset.band_names)
    bands = (spec.get("properties") or {}).get("bands") or [
        band for band in dict.fromkeys(b for item in aoi.record.items for b in item.band_names)
    ]
    return aoi.plan.footprint.bounds, [str(b) for b in bands]


def _aoi_feature(aoi: AoiView) -> bytes:
    """The AOI's polygon as a GeoJSON FeatureCollection."""
    feature = {
        "type": "Feature",
        "id": aoi.record.id,
        "properties": {"name": aoi.record.name},
        "geometry": {
            "type": "Polygon",
            "coordinates": [[list(p) for p in ring] for ring in aoi.record.geometry],
        },
    }
    return json.dumps({"type": "FeatureCollection", "features": [feature]}, indent=1).encode()
