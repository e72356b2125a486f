"""Full garbage collections once a minute, instead of whenever allocations add up.

A full collection walks every object the workers' caches keep alive, and under load its
pause would be the requests' slowest percentile (docs/performance.md); cyclic garbage
that reaches the oldest generation lives a minute at most. An incremental collector
(the one CPython 3.14 shipped with) ignores the threshold set here and has no such
pause: it is left alone.
"""

from __future__ import annotations

import gc
import threading
import time

FULL_COLLECTION_SECONDS = 60.0
_NEVER = 2**31 - 1  # generation-1 runs before a full one: more than ever happen


def collect_fully_on_a_timer(seconds: float = FULL_COLLECTION_SECONDS) -> None:
    """In each worker, after the fork."""
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, _NEVER)
    if gc.get_threshold()[2] != _NEVER:  # ignored: the collector is incremental
        return
    threading.Thread(
        target=_collect_forever, args=(seconds,), name="full-collection", daemon=True
    ).start()


def _collect_forever(seconds: float) -> None:
    while True:
        time.sleep(seconds)
        gc.collect()
