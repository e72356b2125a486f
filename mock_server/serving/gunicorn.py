"""gunicorn embedded, its asyncio worker serving an `InlineBridge`: `pixxel-mock serve`
(the mock, its workers sharing one state file) and the harness's `pixxel-mock proxy`.

For the mock, the master process builds the app before forking, so a bad fixture or a
foreign state file fails at once with a clear message, and the workers inherit the
built app instead of each building it again; each worker opens its own SQLite
connections on the same file.
"""

from __future__ import annotations

import gc
import socket
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication
from gunicorn.workers import gasgi

from pixxel_mock.server.app.config import MockConfig
from pixxel_mock.server.app.factory import create_app, instance_of
from pixxel_mock.server.app.instance import MockInstance
from pixxel_mock.server.http.pipeline import may_wait
from pixxel_mock.server.model.catalog import ApiKey, Catalog
from pixxel_mock.server.serving.bridge import InlineBridge, MockProtocol, check_gunicorn_hooks
from pixxel_mock.server.serving.collector import collect_fully_on_a_timer
from pixxel_mock.server.serving.groupcommit import GroupCommit
from pixxel_mock.server.state.records import JobTable


class EmbeddedGunicorn(BaseApplication):  # type: ignore[misc]
    """gunicorn embedded: the options are ours, not gunicorn's command line."""

    def __init__(self, load: Callable[[], Any], options: dict[str, Any]) -> None:
        self._load = load
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        return self._load()


def run_gunicorn(
    load: Callable[[], InlineBridge],
    bind: str,
    workers: int,
    banner: Callable[[str], str],
    announce: Callable[[str], Any] = print,
) -> None:
    """Serve the bridge that `load()` builds (in each worker) on gunicorn's asyncio worker
    until interrupted; port 0 is resolved to a free port first.

    Every worker listens on its own SO_REUSEPORT socket and the banner waits for the last
    of the first workers, so that the kernel spreads connections, even those opened as
    the banner appears, over every worker.
    """
    check_gunicorn_hooks()  # in the master, before any worker: a clear error, not a drift
    host, _, port = bind.rpartition(":")
    if port == "0":
        port = str(_free_port(host))
    url = f"http://{host}:{port}"

    def post_worker_init(worker: Any) -> None:
        gasgi.ASGIProtocol = MockProtocol  # its refusals in the envelope, and drops
        collect_fully_on_a_timer()
        if worker.age == workers:  # the last one forked: every first worker has its socket
            announce(banner(url))
            sys.stdout.flush()

    options = {
        "bind": f"{host}:{port}",
        "reuse_port": True,
        "workers": workers,
        "worker_class": "asgi",
        "asgi_lifespan": "off",
        "post_worker_init": post_worker_init,
        "accesslog": None,
        "errorlog": "-",
        "loglevel": "warning",
        "graceful_timeout": 5,
        "timeout": 120,
        "keepalive": 5,
        # no `gunicornc` socket: every server would take the same ~/.gunicorn/gunicorn.ctl,
        # and its asyncio thread in the master competes with the first workers
        "control_socket_disable": True,
        # gunicorn's own limits answer HTML; lifted so that the app refuses oversized
        # request lines and headers itself, in the error envelope (see limits.py)
        "limit_request_line": 0,
        "limit_request_field_size": 0,
        "limit_request_fields": 32768,
    }
    EmbeddedGunicorn(load, options).run()


def _free_port(host: str) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def run_mock_server(config: MockConfig, host: str, port: int, workers: int, threads: int) -> None:
    """`pixxel-mock serve` until interrupted; without --state-file the state lives in a
    temporary directory, removed at exit."""
    app = app_for_workers(config)  # fails fast on bad fixtures or a foreign state file
    instance = instance_of(app)
    instance.store.journal.forget_writers()
    for table in group_committed(instance):
        table.route_inserts(GroupCommit(table).insert)
    bridge = InlineBridge(app, may_wait_for(app), threads, config.max_body_bytes)
    try:
        run_gunicorn(
            lambda: bridge,
            f"{host}:{port}",
            workers,
            lambda url: startup_banner(
                config, url, workers, threads, instance.store.path, instance.catalog
            ),
        )
    finally:
        instance.close()  # in the server's process only: a temporary state file goes


def group_committed(instance: MockInstance) -> tuple[JobTable[Any], ...]:
    """The tables created most by requests whose builds check only by key (`get`, which
    sees the rows the batch inserted before them, or nothing): jobs, AOIs, insights and
    orders. A build that checks a listing (a cached read) would not see its own batch's
    rows."""
    return (
        instance.jobs.records,
        instance.aois.records,
        instance.insights.records,
        instance.orders.records,
    )


def may_wait_for(app: Flask) -> Callable[[dict[str, Any]], bool]:
    instance = instance_of(app)
    return lambda environ: may_wait(instance, environ)


# An archive up to this size is built by the first search that needs it (under a second,
# which every start, and tests start servers by the dozen, would pay otherwise); a larger
# one (a minute for 100,000 items) is built here, before the workers serve.
EAGER_ARCHIVE_ITEMS = 10_000


def app_for_workers(config: MockConfig) -> Flask:
    """The app every worker serves, built once in the master before gunicorn forks.

    The workers inherit the specs, compiled validators, catalog and routes instead of
    each building them again after the fork. What must not cross a fork is opened per
    process on first use (SQLite connections, the journal flusher, the write gate, the
    shared maps; see state/database.py); the build's own connection is closed before the fork.
    """
    gc.freeze()  # the imports' objects live as long as the process: no collection walks them
    app = create_app(config)
    instance_of(app).store.database.release_connection()
    archive = instance_of(app).archive
    if archive.item_count > EAGER_ARCHIVE_ITEMS:
        archive.index.prepare()
    gc.freeze()  # nor the app's: the workers' collections skip it, its pages stay shared
    return app


def keys_of(catalog: Catalog) -> str:
    """The fixtures' keys and the projects each opens (a --fixtures folder has its own)."""

    def opens(key: ApiKey) -> str:
        names = sorted(catalog.projects[p].name for p in key.project_ids if p in catalog.projects)
        return "revoked" if key.revoked else ", ".join(names) or "no project"

    return ", ".join(f"{key.key} ({opens(key)})" for key in catalog.keys.values())


def first_usable_key(catalog: Catalog) -> str:
    return next((k.key for k in catalog.keys.values() if not k.revoked), "<your key>")


def startup_banner(
    config: MockConfig,
    url: str,
    workers: int,
    threads: int,
    state_file: Path,
    catalog: Catalog,
) -> str:
    state = str(state_file) if config.state_file else f"{state_file} (temporary)"
    return "\n".join(
        [
            f"pixxel-mock listening on {url}",
            f"  clock: {config.clock_mode} (speed {config.speed:g}x), seed {config.seed}",
            f"  scenarios: {', '.join(config.scenarios) or 'none'}",
            *(
                [
                    f"  replay: {config.replay_file} ({config.replay_timing}"
                    f"{', strict' if config.replay_strict else ''})"
                ]
                if config.replay_file
                else []
            ),
            f"  workers: {workers} (+{threads} threads each for delays), state: {state}",
            f"  keys: {keys_of(catalog)}",
            f"  try: curl -H 'Authorization: {first_usable_key(catalog)}' {url}/v0/workflows",
            f"  contract: {url}/openapi.yaml   control API: {url}/__mock/clock",
            f"  look at it: {url}/docs (API reference)   {url}/__mock/ui (inspector)",
            *(
                ["  control token: add #token=<your --control-token> to the pages' addresses"]
                if config.control_token
                else []
            ),
        ]
    )
