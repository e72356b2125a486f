"""Serve the bare app on the same embedded gunicorn as `pixxel-mock serve`."""

from __future__ import annotations

import argparse

from mock_server.server import run_gunicorn

from .bare_app import create_bare_app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    run_gunicorn(
        create_bare_app,
        f"127.0.0.1:{args.port}",
        args.workers,
        args.threads,
        lambda url: f"bare flask listening on {url}",
    )


if __name__ == "__main__":
    main()
