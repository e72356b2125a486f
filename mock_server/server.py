"""`pixxel-mock serve`: the app on gunicorn (threaded workers), sharing one state file.

The master process checks the fixtures and the state file before forking, so a
bad fixture or a foreign state file fails at once with a clear message; each
worker then builds its own app on the same SQLite file.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from gunicorn.app.base import BaseApplication

from . import gunicorn_errors
from .app import create_app
from .config import MockConfig
from .model.store import JOURNAL_FLUSH_SECONDS
from .runtime import Runtime


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
    load: Callable[[], Any],
    bind: str,
    workers: int,
    threads: int,
    banner: Callable[[str], str],
    announce: Callable[[str], Any] = print,
) -> None:
    """Serve the app that `load()` builds (in each worker) until interrupted."""

    def when_ready(server: Any) -> None:
        bound_host, bound_port = server.LISTENERS[0].sock.getsockname()[:2]
        announce(banner(f"http://{bound_host}:{bound_port}"))
        sys.stdout.flush()

    options = {
        "bind": bind,
        "workers": workers,
        "threads": threads,
        "worker_class": "gthread" if threads > 1 else "sync",
        "when_ready": when_ready,
        "accesslog": None,
        "errorlog": "-",
        "loglevel": "warning",
        "graceful_timeout": 5,
        "timeout": 120,
        "keepalive": 5,
        # gunicorn's own limits answer HTML; lifted so that the app refuses oversized
        # request lines and headers itself, in the error envelope (see limits.py)
        "limit_request_line": 0,
        "limit_request_field_size": 0,
        "limit_request_fields": 32768,
        "post_worker_init": gunicorn_errors.install,
    }
    EmbeddedGunicorn(load, options).run()


def serve(config: MockConfig, host: str, port: int, workers: int, threads: int) -> None:
    """Run until interrupted. Without --state-file the state lives in a temp dir removed at exit."""
    temp_dir = None
    if workers > 1:  # other workers' journal buffers reach the file within a few ms
        config = replace(config, journal_wait_seconds=3 * JOURNAL_FLUSH_SECONDS)
    if config.state_file is None:
        temp_dir = Path(tempfile.mkdtemp(prefix="pixxel-mock-"))
        config = replace(config, state_file=temp_dir / "state.sqlite")
    Runtime.build(config).close()  # fail fast on bad fixtures or a foreign state file
    try:
        run_gunicorn(
            lambda: create_app(config),
            f"{host}:{port}",
            workers,
            threads,
            lambda url: startup_banner(config, url, workers, threads),
        )
    finally:
        if temp_dir is not None:
            shutil.rmtree(temp_dir, ignore_errors=True)


def startup_banner(config: MockConfig, url: str, workers: int, threads: int) -> str:
    state = str(config.state_file) if config.state_file else "temporary"
    return "\n".join(
        [
            f"pixxel-mock listening on {url}",
            f"  clock: {config.clock_mode} (speed {config.speed:g}x), seed {config.seed}",
            f"  scenarios: {', '.join(config.scenarios) or 'none'}",
            f"  workers: {workers} x {threads} threads, state: {state}",
            "  demo keys: pxm_demo_alpha (agri-monitoring, coastal-watch),"
            " pxm_demo_beta (urban-heat), pxm_demo_revoked (revoked)",
            f"  try: curl -H 'Authorization: pxm_demo_alpha' {url}/v0/workflows",
            f"  contract: {url}/openapi.yaml   control API: {url}/__mock/clock",
        ]
    )
