"""Everything one app instance runs on, built once at start-up from its config."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import weakref
from dataclasses import dataclass, field
from pathlib import Path

from pixxel_mock.server.api.queued import QueuedAnswers
from pixxel_mock.server.api.stac import RENDERED_ITEMS, RenderedItems
from pixxel_mock.server.app.config import MockConfig
from pixxel_mock.server.faults.replay import parse_recording
from pixxel_mock.server.faults.scenarios import (
    ScenarioFile,
    ScenarioLoader,
    install_recordings,
    server_rules,
)
from pixxel_mock.server.model.aoi_downloads import AoiDownloads
from pixxel_mock.server.model.aois import Aois, AoiSettings
from pixxel_mock.server.model.archive import Archive, load_archive_fixtures
from pixxel_mock.server.model.blocks import Blocks
from pixxel_mock.server.model.catalog import Catalog, load_catalog
from pixxel_mock.server.model.catalog_downloads import CatalogDownloads
from pixxel_mock.server.model.deliveries import Deliveries
from pixxel_mock.server.model.downloads import Downloads, DownloadSettings
from pixxel_mock.server.model.indices import Indices, load_index_fixtures
from pixxel_mock.server.model.insight_downloads import InsightDownloads
from pixxel_mock.server.model.insights import Insights
from pixxel_mock.server.model.jobs import Jobs
from pixxel_mock.server.model.lifecycle import JobState
from pixxel_mock.server.model.orders import CatalogEntry, Orders, load_order_fixtures
from pixxel_mock.server.model.projects import Projects
from pixxel_mock.server.model.rasters import write_geotiff
from pixxel_mock.server.model.replay import Recording
from pixxel_mock.server.model.sessions import Sessions
from pixxel_mock.server.model.stores import Stores
from pixxel_mock.server.model.visualizations import Visualizations, VisualizationSettings
from pixxel_mock.server.model.workflows import Workflows
from pixxel_mock.server.spec.document import ApiSpec
from pixxel_mock.server.spec.resources import API_SPEC, CONTROL_SPEC
from pixxel_mock.server.state.cache import BoundedCache
from pixxel_mock.server.state.clock import Clock
from pixxel_mock.server.state.store import Store


@dataclass
class MockInstance:
    config: MockConfig
    api_spec: ApiSpec
    control_spec: ApiSpec
    catalog: Catalog
    store: Store
    # the domain, one object per kind of resource (a handler reaches its own kind's)
    sessions: Sessions
    projects: Projects
    blocks: Blocks
    workflows: Workflows
    jobs: Jobs
    downloads: Downloads
    archive: Archive
    aois: Aois
    aoi_downloads: AoiDownloads
    indices: Indices
    visualizations: Visualizations
    insights: Insights
    insight_downloads: InsightDownloads
    orders: Orders
    stores: Stores
    deliveries: Deliveries
    catalog_downloads: CatalogDownloads
    scenario_loader: ScenarioLoader
    library: dict[str, ScenarioFile]
    temp_dir: Path | None = None
    built_by: int = field(default_factory=os.getpid)  # forked workers inherit the instance
    recordings: BoundedCache[str, Recording] = field(default_factory=lambda: BoundedCache(8))
    rendered_jobs: BoundedCache[tuple[object, ...], tuple[JobState, bytes, str]] = field(
        default_factory=lambda: BoundedCache(4096)
    )
    rendered_items: RenderedItems = field(default_factory=lambda: BoundedCache(RENDERED_ITEMS))
    queued_answers: QueuedAnswers = field(default_factory=QueuedAnswers)

    @classmethod
    def build(cls, config: MockConfig) -> MockInstance:
        catalog = load_catalog(config.fixtures_dir)
        api_spec, control_spec = ApiSpec.load(API_SPEC), ApiSpec.load(CONTROL_SPEC)
        loader = ScenarioLoader(api_spec, control_spec)
        library = loader.library(config.fixtures_dir / "scenarios")
        chosen = [loader.resolve(reference, library) for reference in config.scenarios]
        if config.replay_file is not None:
            chosen.append(
                loader.replay_file(config.replay_file, config.replay_strict, config.replay_timing)
            )
        temp_dir = None
        state_file = config.state_file
        if state_file is None:
            temp_dir = Path(tempfile.mkdtemp(prefix="pixxel-mock-"))
            state_file = temp_dir / "state.sqlite"
        now = time.time()
        start = config.start_time if config.start_time is not None else float(int(now))
        store = Store(
            state_file,
            Clock(mode=config.clock_mode, speed=config.speed, sim_anchor=start, real_anchor=now),
            journal_size=config.journal_size,
            max_namespaces=config.max_namespaces,
            synced=config.state_file is not None,
        )
        install_recordings(chosen, store)
        workflows = Workflows(catalog)
        jobs = Jobs(catalog, workflows, store, config.seed, config.queue_seconds)
        download_settings = DownloadSettings(
            job_package_seconds=config.job_package_seconds,
            task_package_seconds=config.task_package_seconds,
            package_polls=config.package_polls,
            url_ttl_seconds=config.url_ttl_seconds,
        )
        rules = server_rules(chosen, store.namespaces.initial_clock().sim_anchor)
        archive = Archive(
            load_archive_fixtures(config.fixtures_dir),
            config.seed,
            config.archive_items,
            state_file.with_name(state_file.name + ".archive"),
        )
        aois = Aois(store, archive.items, config.seed, AoiSettings())
        aoi_downloads = AoiDownloads(
            aois, store, config.seed, config.url_ttl_seconds, write_geotiff
        )
        bands = {satellite.id: satellite.band_names for satellite in archive.satellites}
        indices = Indices(
            store,
            load_index_fixtures(config.fixtures_dir, bands),
            bands,
            catalog.projects,
            config.seed,
        )
        insights = Insights(catalog, aois, store, config.seed)
        satellites = {satellite.id: satellite for satellite in archive.satellites}
        orders = Orders(
            store,
            load_order_fixtures(config.fixtures_dir, satellites),
            archive.items,
            satellites,
            catalog.projects,
            config.seed,
        )
        stores = Stores(store, catalog.projects, config.seed)
        orders.store_check = lambda key, session, store_id, parameter: (
            stores.usable(key, session, store_id, parameter).name
        )

        def entry_geotiff(entry: CatalogEntry) -> bytes:
            """A catalog entry's GeoTIFF: the archive item's own bytes, or the capture's."""
            if entry.from_archive:
                return archive.geotiff(entry.collection, entry.item_id)
            return write_geotiff(entry.band_names, entry.bbox, "EPSG:4326", entry.raster_seed)

        stores_dir = config.stores_dir or state_file.with_name(state_file.name + "-stores")
        deliveries = Deliveries(store, orders, stores, stores_dir, entry_geotiff)
        instance = cls(
            config=config,
            api_spec=api_spec,
            control_spec=control_spec,
            catalog=catalog,
            store=store,
            sessions=Sessions(catalog, store.namespaces, rules),
            projects=Projects(catalog),
            blocks=Blocks(catalog),
            workflows=workflows,
            jobs=jobs,
            downloads=Downloads(catalog, jobs, store, download_settings),
            archive=archive,
            aois=aois,
            aoi_downloads=aoi_downloads,
            indices=indices,
            visualizations=Visualizations(
                store,
                aois,
                indices,
                catalog.projects,
                aoi_downloads.geotiff,
                config.seed,
                VisualizationSettings(),
            ),
            insights=insights,
            insight_downloads=InsightDownloads(insights, store, config.seed, download_settings),
            orders=orders,
            stores=stores,
            deliveries=deliveries,
            catalog_downloads=CatalogDownloads(
                store, orders, deliveries, config.url_ttl_seconds, entry_geotiff
            ),
            scenario_loader=loader,
            library=library,
            temp_dir=temp_dir,
        )
        if temp_dir is not None:  # an app nobody closes still leaves no files behind
            weakref.finalize(
                instance, _discard, store, instance.archive, temp_dir, instance.built_by
            )
        return instance

    def recording(self, recording_id: str) -> Recording | None:
        """A recording of the state file, parsed once per process (None: no longer kept)."""
        cached = self.recordings.get(recording_id)
        if cached is None:
            document = self.store.recording(recording_id)
            if document is None:
                return None
            cached = self.recordings.put(recording_id, parse_recording(document, recording_id))
        return cached

    def reset(self, namespace: str | None) -> None:
        """Forget the state of a namespace (or of every one) and the packages its
        deliveries left in the stores dir, as a fresh start would."""
        names = [namespace] if namespace is not None else self.store.namespaces.names()
        self.store.reset(namespace)
        self.deliveries.remove_packages(names)

    def close(self) -> None:
        """Close this thread's connection and remove a temporary state file: in the process
        that built the instance only (a worker leaving `run_mock_server` unwinds through its caller)."""
        _discard(self.store, self.archive, self.temp_dir, self.built_by)


def _discard(store: Store, archive: Archive, temp_dir: Path | None, owner: int) -> None:
    if os.getpid() != owner:  # a forked worker exiting: the file is its server's
        return
    store.close()  # stops the journal flusher before its file goes
    archive.index.close()
    if temp_dir is not None:
        shutil.rmtree(temp_dir, ignore_errors=True)
