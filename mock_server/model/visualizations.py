"""Visualizations: an index drawn over an AOI's assets, with legends, PNGs and SLD styles.

A visualization is planned like an AOI (aois.plan's AssetPlan and evaluate): one
`visualization` asset per source asset, made in turn (`creating` for `asset_seconds`,
then `success`); it is `success` when the last is, or ends `failed` (the first fails)
or `partial_success` (the last of several fails) under a scenario. Its status,
progress, assets and legends are a pure function of (record, edits, time).

Legends are keyed by the sources' capture dates (`YYYY_MM_DD`), present once a date's
asset has succeeded, and computed from the index's values over the sources' GeoTIFFs
(read with rasterio): `dynamic` bins span the values found, `theoretical` bins the
index's `rescale`. A metadata change is an edit record appended to a log, never a
change of the visualization's record: the last edit naming a (date, mode) decides it.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from pixxel_mock.server.model import legends, rasters
from pixxel_mock.server.model.aois import (
    FAILURE_POINT,
    AoiPlan,
    Aois,
    AoiState,
    AoiView,
    AssetPlan,
    AssetState,
    evaluate,
)
from pixxel_mock.server.model.catalog import ApiKey, Project
from pixxel_mock.server.model.errors import Conflict, InvalidInput, NotFound
from pixxel_mock.server.model.expressions import evaluate as evaluate_expression
from pixxel_mock.server.model.expressions import parse
from pixxel_mock.server.model.ids import derived_uuid
from pixxel_mock.server.model.indices import LEGEND_TYPES, Index, Indices
from pixxel_mock.server.model.sessions import Session
from pixxel_mock.server.model.timefmt import utc_day
from pixxel_mock.server.state.cache import BoundedCache
from pixxel_mock.server.state.records import JobTable, RecordKind
from pixxel_mock.server.state.store import Store

STATUSES = ("creating", "success", "partial_success", "failed")
MODES = ("dynamic", "theoretical")
NO_VISUALIZATION = "No visualization with this id exists for this AOI."
PNG_CACHE_SIZE = 64  # PNGs rendered most recently
RasterSource = Callable[[AssetPlan], bytes]  # an asset's GeoTIFF (AoiDownloads.geotiff)


@dataclass(frozen=True)
class VisualizationSettings:
    """How long each visualization asset takes, in simulated seconds."""

    asset_seconds: float = 30.0


@dataclass(frozen=True)
class VisualizationRecord:
    namespace: str
    id: str
    seq: int
    aoi_id: str
    index_id: str  # the index's facts below are copied: the visualization keeps them
    index_name: str
    index_type: str
    expression: str
    expression_type: str
    colormap: str
    rescale_low: int
    rescale_high: int
    workspace: str
    created_by: str
    created_at: float
    polls: int
    source_ids: str  # comma-separated asset ids of the AOI, in order
    resolution: float  # 0: each source's own
    outcome: str


@dataclass(frozen=True)
class LegendEditRecord:
    """A PUT (`bins`: {date: [[min, max, color, label], ...]}) or a PATCH (`bins` "",
    `dates`: back to the computed legend) of one mode."""

    namespace: str
    id: str
    seq: int
    visualization_id: str
    mode: str
    dates: str  # comma-separated
    bins: str  # JSON, or "" for a recomputation
    created_at: float
    polls: int


VISUALIZATIONS = RecordKind.of_dataclass("visualizations", VisualizationRecord)
LEGEND_EDITS = RecordKind.of_dataclass("legend_edits", LegendEditRecord)


@dataclass(frozen=True)
class VisualizationView:
    record: VisualizationRecord
    aoi: AoiView
    plan: AoiPlan
    state: AoiState
    modes: tuple[str, ...]  # the legend modes it has
    dates: Mapping[str, tuple[AssetPlan, ...]]  # available date -> its source assets
    legend: Mapping[str, Mapping[str, tuple[legends.LegendItem, ...]]]  # date -> mode -> items

    @property
    def status(self) -> str:
        return self.state.status if self.state.is_terminal else "creating"


@dataclass(frozen=True)
class NewVisualization:
    index_id: str
    src_asset_ids: tuple[str, ...] | None
    resolution: float | None


@dataclass(frozen=True)
class LegendEntry:
    """One bin of a PUT body; bounds may be None for `dynamic`."""

    color: str
    label: str
    min: float | None
    max: float | None


def date_key(at: float) -> str:
    """A capture date as the documentation writes it, `YYYY_MM_DD`."""
    return utc_day(at).replace("-", "_")


def legend_modes(index_type: str, expression_type: str) -> tuple[str, ...]:
    """The documented rule: a preset index gets both legends, a custom `index` the
    dynamic one, a `composite` or `grayscale` none."""
    if expression_type not in LEGEND_TYPES:
        return ()
    return MODES if index_type == "preset" else ("dynamic",)


def plan_visualization(
    record: VisualizationRecord, sources: Sequence[AssetPlan], settings: VisualizationSettings
) -> AoiPlan:
    """Fix when each visualization asset starts and ends. Pure for the record."""
    outcome = record.outcome
    if outcome == "partial_success" and len(sources) < 2:
        outcome = "failed"  # nothing would be left to succeed
    plans: list[AssetPlan] = []
    moment = record.created_at
    for position, source in enumerate(sources):
        fails = (outcome == "failed" and position == 0) or (
            outcome == "partial_success" and position == len(sources) - 1
        )
        end = moment + settings.asset_seconds * (FAILURE_POINT if fails else 1.0)
        name = f"{record.index_name}_{source.name}"
        plans.append(
            AssetPlan(
                id=derived_uuid(record.id, "asset", source.id),
                asset_type="visualization",
                name=name,
                description=f"This asset is a visualization of {record.index_name}",
                band_names=(record.index_name,),
                date=source.date,
                resolution=record.resolution or source.resolution,
                footprint=source.footprint,
                start=moment,
                end=end,
                fails=fails,
            )
        )
        moment = end
        if fails and outcome == "failed":
            break
    events = sorted({record.created_at, *(p.start for p in plans), *(p.end for p in plans)})
    return AoiPlan(
        footprint=sources[0].footprint,
        started_at=record.created_at,
        finished_at=plans[-1].end,
        outcome=outcome,
        assets=tuple(plans),
        total_work=len(sources) * settings.asset_seconds,
        events=tuple(events),
    )


class Visualizations:
    """The visualizations of every namespace, their legend edits and their renderings."""

    def __init__(
        self,
        store: Store,
        aois: Aois,
        indices: Indices,
        projects: Mapping[str, Project],
        rasters_of: RasterSource,
        seed: int,
        settings: VisualizationSettings,
    ) -> None:
        self.records = store.register(JobTable(store.database, VISUALIZATIONS, store.namespaces))
        self.edits = store.register(JobTable(store.database, LEGEND_EDITS, store.namespaces))
        self._aois = aois
        self._indices = indices
        self._projects = projects
        self._rasters_of = rasters_of
        self._seed = seed
        self._settings = settings
        self._values: BoundedCache[tuple[str, str], np.ndarray] = BoundedCache(256)
        self._pngs: BoundedCache[tuple[object, ...], bytes] = BoundedCache(PNG_CACHE_SIZE)

    # -- use cases ----------------------------------------------------------------------
    def create(
        self, key: ApiKey, session: Session, aoi_id: str, new: NewVisualization
    ) -> VisualizationView:
        """Store a visualization of an index the key sees over succeeded assets of the AOI,
        refusing another satellite's index, unsuitable sources and a duplicate."""
        aoi = self._aois.get(key, session, aoi_id)
        index = self._indices.get(key, session, new.index_id)
        if index is None or index.satellite_id != aoi.record.satellite_id:
            problem = (
                "is not an index the key can see"
                if index is None
                else (f"is an index of satellite {index.satellite_id}, not of the AOI's")
            )
            raise InvalidInput(
                "invalid_index",
                f"Index {new.index_id} {problem}.",
                {"parameter": "index_id", "in": "body"},
            )
        sources = self._sources(aoi, index, new.src_asset_ids)
        namespace = session.namespace
        source_ids = ",".join(s.id for s in sources)
        resolution = new.resolution or 0.0
        visualization_id = derived_uuid(
            self._seed, namespace, "visualization", aoi.record.id, index.id, source_ids, resolution
        )
        project = self._projects.get(aoi.record.project_id)

        def build(seq: int) -> VisualizationRecord:
            if self.records.get(namespace, visualization_id) is not None:  # under the write lock
                raise Conflict(
                    "duplicate_visualization",
                    "This AOI already has a visualization of this index over these assets.",
                    {"parameter": "index_id", "in": "body", "visualization_id": visualization_id},
                )
            return VisualizationRecord(
                namespace=namespace,
                id=visualization_id,
                seq=seq,
                aoi_id=aoi.record.id,
                index_id=index.id,
                index_name=index.name,
                index_type=index.type,
                expression=index.expression,
                expression_type=index.expression_type,
                colormap=index.colormap,
                rescale_low=index.rescale[0],
                rescale_high=index.rescale[1],
                workspace=(project.org_id if project else "") or key.service_account_id,
                created_by=key.service_account_id,
                created_at=session.now,
                polls=0,
                source_ids=source_ids,
                resolution=resolution,
                outcome=session.scenario.visualization_outcome(aoi.record.project_id, index.name),
            )

        return self.view(self.records.insert(namespace, build), aoi, session)

    def _sources(
        self, aoi: AoiView, index: Index, asked: tuple[str, ...] | None
    ) -> tuple[AssetPlan, ...]:
        succeeded = {a.plan.id: a.plan for a in aoi.state.assets if a.status == "success"}
        if asked is None:
            sources = tuple(p for p in succeeded.values() if p.asset_type == "stac_item")
            if not sources:
                raise InvalidInput(
                    "not_ready",
                    "The AOI has no processed item assets yet; wait until they succeed.",
                    {"parameter": "aoi_id", "in": "path"},
                )
        else:
            sources = tuple(succeeded[i] for i in asked if i in succeeded)
            missing = next((i for i in asked if i not in succeeded), None)
            if missing is not None:
                raise InvalidInput(
                    "invalid_asset",
                    f"Asset {missing} is not a succeeded item or mosaic asset of this AOI.",
                    {"parameter": "src_asset_ids", "in": "body", "asset_id": missing},
                )
        for source in sources:
            lacking = [b for b in index.bands if b not in source.band_names]
            if lacking:
                raise InvalidInput(
                    "invalid_asset",
                    f"Asset {source.id} lacks the bands {', '.join(lacking)} of the index.",
                    {"parameter": "src_asset_ids", "in": "body", "asset_id": source.id},
                )
        return sources

    def matching(
        self, key: ApiKey, session: Session, aoi_id: str, filters: Mapping[str, str]
    ) -> list[VisualizationView]:
        """The AOI's visualizations passing every filter, newest first."""
        aoi = self._aois.get(key, session, aoi_id)
        views = []
        for record in self.records.listing(session.namespace):
            if record.aoi_id != aoi.record.id:
                continue
            facts = {
                "type": record.index_type,
                "user_id": record.created_by,
                "expression_type": record.expression_type,
                "index_id": record.index_id,
                "visualization_id": record.id,
            }
            if all(filters.get(name, value) == value for name, value in facts.items()):
                views.append(self.view(record, aoi, session, with_legend=False))
        return views

    def poll(self, session: Session, views: Sequence[VisualizationView]) -> list[VisualizationView]:
        """In polls clock mode, a listed visualization moves one step per listing."""
        if not session.polls_mode:
            return list(views)
        moved = []
        for view in views:
            record = self.records.poll(session.namespace, view.record.id) or view.record
            moved.append(self.view(record, view.aoi, session, with_legend=False))
        return moved

    def get(
        self, key: ApiKey, session: Session, aoi_id: str, visualization_id: str
    ) -> VisualizationView:
        """A visualization of an AOI the key sees; unknown ones and those of other AOIs
        (or tenants) are refused alike."""
        return self._found(key, session, aoi_id, visualization_id, with_legend=True)

    def _found(
        self,
        key: ApiKey,
        session: Session,
        aoi_id: str,
        visualization_id: str,
        with_legend: bool,
    ) -> VisualizationView:
        aoi = self._aois.get(key, session, aoi_id)
        record = self.records.get(session.namespace, visualization_id)
        if record is None or record.aoi_id != aoi.record.id:
            raise NotFound("not_found", NO_VISUALIZATION)
        return self.view(record, aoi, session, with_legend)

    def assets_of(self, session: Session, aoi: AoiView) -> list[tuple[str, AssetState]]:
        """The visualization assets made so far over an AOI, oldest visualization first,
        each with its visualization's id: they are listed with the AOI's own."""
        found = []
        for record in reversed(self.records.listing(session.namespace)):
            if record.aoi_id == aoi.record.id:
                view = self.view(record, aoi, session, with_legend=False)
                found += [(record.id, asset) for asset in view.state.assets]
        return found

    def update_legend(
        self,
        key: ApiKey,
        session: Session,
        aoi_id: str,
        visualization_id: str,
        mode: str,
        legend: Mapping[str, Sequence[LegendEntry]],
        dynamic_bins: int | None,
    ) -> VisualizationView:
        """Replace one mode's bins for the dates given (PUT); bounds left null in dynamic
        mode are computed from the values, in `dynamic_bins` equal intervals."""
        view = self.get(key, session, aoi_id, visualization_id)
        self._check_mode(view, mode, "visualization_mode")
        if mode == "dynamic" and dynamic_bins is None:
            raise _refuse(
                "dynamic_bins",
                "dynamic_bins (1-15) is required when visualization_mode is dynamic.",
            )
        self._check_dates(view, legend.keys(), "legend")
        resolved = {
            date: [
                [b.min, b.max, b.color, b.label]
                for b in self._bins(view, date, mode, entries, dynamic_bins)
            ]
            for date, entries in legend.items()
        }
        self._append(session, view, mode, tuple(legend), json.dumps(resolved))
        return self.get(key, session, aoi_id, visualization_id)

    def recompute_legend(
        self,
        key: ApiKey,
        session: Session,
        aoi_id: str,
        visualization_id: str,
        index_id: str,
        dates: Sequence[str],
        mode: str,
    ) -> VisualizationView:
        """Put one mode's legend of the dates given back to the computed one (PATCH)."""
        view = self.get(key, session, aoi_id, visualization_id)
        self._check_index(view, index_id)
        self._check_mode(view, mode, "visualization_mode")
        self._check_dates(view, dates, "dates")
        self._append(session, view, mode, tuple(dict.fromkeys(dates)), "")
        return self.get(key, session, aoi_id, visualization_id)

    def png(
        self,
        key: ApiKey,
        session: Session,
        aoi_id: str,
        visualization_id: str,
        index_id: str,
        date: str,
        mode: str,
    ) -> bytes:
        """The index of the date's first source as a PNG: classified by the mode's legend
        (drawn beside it), or stretched through the colormap (grayscale) or as colour
        (composite), which have no legend and ignore the mode."""
        view = self._found(key, session, aoi_id, visualization_id, with_legend=False)
        self._check_index(view, index_id)
        return self._render(session, view, date, mode)

    def preview(self, session: Session, visualization_id: str, date: str, mode: str) -> bytes:
        """The PNG of any visualization of the namespace, whoever made it (the inspector's)."""
        record = self.records.get(session.namespace, visualization_id)
        aoi = self._aois.find(session, record.aoi_id) if record is not None else None
        if record is None or aoi is None:
            raise NotFound("not_found", NO_VISUALIZATION)
        return self._render(session, self.view(record, aoi, session, with_legend=False), date, mode)

    def of_namespace(self, session: Session) -> list[VisualizationView]:
        """Every visualization of the namespace with its legends, newest first (the control
        plane's view)."""
        aois = {aoi.record.id: aoi for aoi in self._aois.of_namespace(session)}
        return [
            self.view(record, aois[record.aoi_id], session)
            for record in self.records.listing(session.namespace)
            if record.aoi_id in aois
        ]

    def _render(self, session: Session, view: VisualizationView, date: str, mode: str) -> bytes:
        """A PNG is a pure function of the visualization, the date's sources and the mode's
        edits: made once, then served from the cache (clients fetch the same map often)."""
        self._check_dates(view, [date], "date")
        record, sources = view.record, view.dates[date]
        if not view.modes:
            made = (record.namespace, record.id, date, len(sources))
            return self._pngs.get_or_make(made, lambda: self._stretched_png(record, sources[0]))
        self._check_mode(view, mode, "visualization_mode")
        edits = self._edits_of(session, record.id)
        applied = tuple((edit.mode, edit.dates, edit.bins) for edit in edits)
        made = (record.namespace, record.id, date, len(sources), mode, applied)

        def classified() -> bytes:
            bins = tuple(item.bin for item in self._legend(view, date, mode, edits))
            values = self._index_values(record, sources[0])
            return legends.png(legends.classified_rgba(values, bins), bins)

        return self._pngs.get_or_make(made, classified)

    def _stretched_png(self, record: VisualizationRecord, source: AssetPlan) -> bytes:
        channels = self._channels(record, source)
        stops = self._indices.colormaps.get(record.colormap, ("#000000", "#ffffff"))
        rgba = legends.stretched_rgba(channels, record.rescale_low, record.rescale_high, stops)
        return legends.png(rgba)

    def sld(
        self,
        key: ApiKey,
        session: Session,
        aoi_id: str,
        visualization_id: str,
        dates: Sequence[str],
        modes: Sequence[str],
    ) -> dict[str, dict[str, str]]:
        """SLD documents of the legends, by mode and date."""
        view = self.get(key, session, aoi_id, visualization_id)
        for mode in modes:
            self._check_mode(view, mode, "visualization_modes")
        self._check_dates(view, dates, "dates")
        name = view.record.index_name
        return {
            mode: {
                date: legends.sld(
                    f"{name}_{date}_{mode}", [item.bin for item in view.legend[date][mode]]
                )
                for date in dates
            }
            for mode in modes
        }

    # -- views --------------------------------------------------------------------------
    def view(
        self,
        record: VisualizationRecord,
        aoi: AoiView,
        session: Session,
        with_legend: bool = True,
    ) -> VisualizationView:
        by_id = {asset.id: asset for asset in aoi.plan.assets}
        sources = [by_id[i] for i in record.source_ids.split(",") if i in by_id]
        plan = plan_visualization(record, sources, self._settings)
        at = max(session.now, plan.step_time(record.polls))
        state = evaluate(plan, record.created_at, at)
        dates: dict[str, list[AssetPlan]] = {}
        for asset, source in zip(plan.assets, sources, strict=False):
            if at >= asset.end and not asset.fails:
                dates.setdefault(date_key(source.date), []).append(source)
        modes = legend_modes(record.index_type, record.expression_type)
        view = VisualizationView(
            record, aoi, plan, state, modes, {d: tuple(s) for d, s in dates.items()}, {}
        )
        if not with_legend or not modes:
            return view
        edits = self._edits_of(session, record.id)
        legend = {
            date: {mode: self._legend(view, date, mode, edits) for mode in modes} for date in dates
        }
        return VisualizationView(record, aoi, plan, state, modes, view.dates, legend)

    def _edits_of(self, session: Session, visualization_id: str) -> list[LegendEditRecord]:
        """The visualization's edits, oldest first."""
        return [
            edit
            for edit in reversed(self.edits.listing(session.namespace))
            if edit.visualization_id == visualization_id
        ]

    def _legend(
        self,
        view: VisualizationView,
        date: str,
        mode: str,
        edits: Sequence[LegendEditRecord],
    ) -> tuple[legends.LegendItem, ...]:
        bins = self._default_bins(view, date, mode)
        for edit in edits:
            if edit.mode == mode and date in edit.dates.split(","):
                bins = (
                    tuple(legends.Bin(*entry) for entry in json.loads(edit.bins)[date])
                    if edit.bins
                    else self._default_bins(view, date, mode)
                )
        area = sum(source.footprint.area_in_sq_m for source in view.dates[date])
        return legends.measure(self._date_values(view, date), bins, area)

    def _default_bins(
        self, view: VisualizationView, date: str, mode: str
    ) -> tuple[legends.Bin, ...]:
        return self._bins(view, date, mode, (), legends.DEFAULT_BINS)

    def _bins(
        self,
        view: VisualizationView,
        date: str,
        mode: str,
        entries: Sequence[LegendEntry],
        count: int | None,
    ) -> tuple[legends.Bin, ...]:
        """The bins of a mode: the entries' own when every bound is given, else equal
        intervals (over the values found, or `rescale` for theoretical) with the
        entries' colours and labels."""
        bounded = [(e.min, e.max) for e in entries if e.min is not None and e.max is not None]
        if entries and len(bounded) == len(entries):
            bins = tuple(
                legends.Bin(low, high, e.color, e.label)
                for (low, high), e in zip(bounded, entries, strict=True)
            )
            if mode == "dynamic" and count != len(bins):
                raise _refuse(
                    "dynamic_bins",
                    f"dynamic_bins is {count}, but the legend gives {len(bins)} bins.",
                )
            if any(b.min >= b.max for b in bins) or any(
                a.max > b.min for a, b in itertools.pairwise(bins)
            ):
                raise _refuse(
                    "legend",
                    f"The bins of {date} must be increasing: each min < max <= the next min.",
                )
            return bins
        if mode == "theoretical":
            if entries:
                raise _refuse("legend", "Theoretical bins need their min and max.")
            low, high = float(view.record.rescale_low), float(view.record.rescale_high)
        else:
            low, high = legends.value_range(self._date_values(view, date))
        stops = self._indices.colormaps.get(view.record.colormap, ("#000000", "#ffffff"))
        given = [(e.color, e.label) for e in entries]
        return legends.equal_bins(low, high, count or legends.DEFAULT_BINS, stops, given)

    def _date_values(self, view: VisualizationView, date: str) -> np.ndarray:
        return np.concatenate(
            [self._index_values(view.record, s).ravel() for s in view.dates[date]]
        )

    def _index_values(self, record: VisualizationRecord, source: AssetPlan) -> np.ndarray:
        return self._channels(record, source)[0]

    def _channels(self, record: VisualizationRecord, source: AssetPlan) -> list[np.ndarray]:
        """The index's parts over the source's GeoTIFF (one per channel); cached."""

        def compute() -> np.ndarray:
            parsed = parse(record.expression, source.band_names)
            bands = rasters.read_geotiff(self._rasters_of(source))
            return np.stack([evaluate_expression(part, bands) for part in parsed.parts])

        return list(self._values.get_or_make((source.id, record.expression), compute))

    # -- refusals -----------------------------------------------------------------------
    def _append(
        self,
        session: Session,
        view: VisualizationView,
        mode: str,
        dates: tuple[str, ...],
        bins: str,
    ) -> None:
        namespace, seed = session.namespace, self._seed
        self.edits.insert(
            namespace,
            lambda seq: LegendEditRecord(
                namespace=namespace,
                id=derived_uuid(seed, namespace, "legend-edit", seq),
                seq=seq,
                visualization_id=view.record.id,
                mode=mode,
                dates=",".join(dates),
                bins=bins,
                created_at=session.now,
                polls=0,
            ),
        )

    @staticmethod
    def _check_mode(view: VisualizationView, mode: str, parameter: str) -> None:
        if mode not in view.modes:
            has = ", ".join(view.modes) or "no legend"
            raise _refuse(
                parameter,
                f"This visualization has no {mode} legend (it has {has}).",
                "unknown_mode",
            )

    @staticmethod
    def _check_dates(view: VisualizationView, dates: Iterable[str], parameter: str) -> None:
        for date in dates:
            if date not in view.dates:
                known = ", ".join(view.dates) or "none yet"
                raise _refuse(
                    parameter,
                    f"{date} is not an available date of this visualization ({known}).",
                    "unknown_date",
                )

    @staticmethod
    def _check_index(view: VisualizationView, index_id: str) -> None:
        if index_id != view.record.index_id:
            raise _refuse(
                "index_id", "index_id is not the index of this visualization.", "invalid_index"
            )


def _refuse(parameter: str, message: str, code: str = "invalid_legend") -> InvalidInput:
    """A 400 naming the body field; the codes are the domain's, not the validation's."""
    return InvalidInput(code, message, {"parameter": parameter, "in": "body"})
