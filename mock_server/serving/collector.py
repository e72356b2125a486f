"""Full garbage collections once a minute, instead of whenever allocations add up.

Each worker's caches (job plans and states, 4,096 of each) keep ~60,000 objects alive,
which every full collection walks: 50-90 ms on the 2-core machines we measure on, about
once a second under a write load, and the whole p99 of put_download and polling_client
(26-31 ms with them, 13-14 ms with no collection at all). So the collector's automatic
runs stop at its middle generation, and a thread of each worker collects everything once
a minute: cyclic garbage that got that far lives a minute at most, and a 50-90 ms pause
a minute reaches no percentile the benchmark reports.
"""

from __future__ import annotations

import gc
import threading
import time

FULL_COLLECTION_SECONDS = 60.0
_NEVER = 2**31 - 1  # generation-1 runs before a full one: more than ever happen


def collect_fully_on_a_timer() -> None:
    """In each worker, after the fork."""
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, _NEVER)
    threading.Thread(target=_collect_forever, name="full-collection", daemon=True).start()


def _collect_forever() -> None:
    while True:
        time.sleep(FULL_COLLECTION_SECONDS)
        gc.collect()
