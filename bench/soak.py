"""`python -m bench.soak`: a long run at steady load; resident memory must stay flat.

Sends `--requests` requests (default 1,000,000) from a few keep-alive clients on
127.0.0.1: polls, lists, downloads and job creations across many X-Mock-Session
namespaces (so the namespace cap and the bounded caches are exercised), and prints
the server's resident memory every tenth of the run.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from pathlib import Path

import requests

from pixxel_mock.contract.live import LiveMock

from .measures import rss_kib

WF = "0fd630f1-f29d-4da9-953f-48f1a09f76b5"
PROJECT = "9531985d-5d9d-49f8-9818-e811892f902b"
KEY = {"Authorization": "pxm_demo_alpha"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.soak", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument(
        "--namespaces", type=int, default=2_000, help="distinct X-Mock-Session values"
    )
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "soak.json")
    args = parser.parse_args(argv)
    sent = [0]
    lock = threading.Lock()
    samples: list[dict[str, float]] = []
    with LiveMock(["--speed", "600", "--max-namespaces", "500", "--journal-size", "10000"]) as live:
        pid = live.process.pid
        started = time.monotonic()

        def client(index: int) -> None:
            session = requests.Session()
            job_of: dict[str, str] = {}
            while True:
                with lock:
                    number = sent[0]
                    if number >= args.requests:
                        return
                    sent[0] += 1
                namespace = f"soak-{number % args.namespaces}"
                headers = {**KEY, "X-Mock-Session": namespace}
                job = job_of.get(namespace)
                if job is None or number % 50 == 0:
                    response = session.post(
                        f"{live.url}/v0/workflows/{WF}/jobs?project_id={PROJECT}", headers=headers
                    )
                    if response.status_code == 200:
                        job_of[namespace] = response.json()["id"]
                elif number % 10 == 0:
                    session.get(f"{live.url}/v0/workflows/{WF}/jobs", headers=headers)
                elif number % 7 == 0:
                    session.put(
                        f"{live.url}/v0/workflows/{WF}/jobs/{job}/download", headers=headers
                    )
                else:
                    session.get(f"{live.url}/v0/workflows/{WF}/jobs/{job}", headers=headers)

        threads = [
            threading.Thread(target=client, args=(i,), daemon=True) for i in range(args.clients)
        ]
        for thread in threads:
            thread.start()
        step = args.requests // 10
        next_mark = step
        while any(thread.is_alive() for thread in threads):
            time.sleep(0.5)
            if sent[0] >= next_mark:
                samples.append(
                    {
                        "requests": sent[0],
                        "seconds": round(time.monotonic() - started, 1),
                        "rss_kib": rss_kib(pid),
                    }
                )
                print(samples[-1], flush=True)
                next_mark += step
        samples.append(
            {
                "requests": sent[0],
                "seconds": round(time.monotonic() - started, 1),
                "rss_kib": rss_kib(pid),
            }
        )
    warm, last = samples[1] if len(samples) > 1 else samples[0], samples[-1]
    result = {
        "requests": sent[0],
        "samples": samples,
        "rss_growth_after_warmup_kib": last["rss_kib"] - warm["rss_kib"],
        "rps": sent[0] / samples[-1]["seconds"],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps({k: v for k, v in result.items() if k != "samples"}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
