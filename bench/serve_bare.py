"""Serve the bare app on the same embedded gunicorn as `pixxel-mock serve`."""

from __future__ import annotations

import argparse

from pixxel_mock.server.app.config import MockConfig
from pixxel_mock.server.serving.bridge import InlineBridge, never_waits
from pixxel_mock.server.serving.gunicorn import run_gunicorn

from .bare_app import create_bare_app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    bridge = InlineBridge(create_bare_app(), never_waits, args.threads, MockConfig().max_body_bytes)
    run_gunicorn(
        lambda: bridge,
        f"127.0.0.1:{args.port}",
        args.workers,
        lambda url: f"bare flask listening on {url}",
    )


if __name__ == "__main__":
    main()
