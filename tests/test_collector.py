"""The workers' garbage collection (serving/collector.py): no automatic full collection,
one on a timer instead. Each case runs in a process of its own, so that the test
session's collector stays as it is."""

from __future__ import annotations

import gc
import subprocess
import sys

import pytest

PROGRAM = """
import gc, sys, threading
from pixxel_mock.server.serving.collector import collect_fully_on_a_timer

full = threading.Event()
gc.callbacks.append(lambda phase, info: phase == "start" and info["generation"] == 2 and full.set())
case = sys.argv[1]
if case == "incremental":  # its interface: the third threshold ignored, and read as 0
    young, middle, _ = gc.get_threshold()
    gc.set_threshold = lambda *thresholds: None
    gc.get_threshold = lambda: (young, middle, 0)
if case != "default":
    collect_fully_on_a_timer(0.01 if case == "timer" else 3600)
if case == "timer":
    print(full.wait(60))
elif case in ("threads", "incremental"):
    print(*sorted(thread.name for thread in threading.enumerate()))
else:
    kept = [[] for _ in range(300_000)]  # a few times what starts a full collection
    print(full.is_set())
"""


def _run(case: str) -> str:
    """default, set: whether allocating started a full collection; timer: whether the
    timer's came; threads, incremental: the program's threads once the collector is set."""
    run = [sys.executable, "-c", PROGRAM, case]
    return subprocess.run(run, capture_output=True, text=True, check=True).stdout.strip()


@pytest.mark.skipif(gc.get_threshold()[2] == 0, reason="an incremental collector (3.14's)")
def test_allocations_no_longer_start_a_full_collection_the_timer_does() -> None:
    assert _run("default") == "True"  # what the setting stops
    assert _run("set") == "False"
    assert _run("timer") == "True"
    assert _run("threads") == "MainThread full-collection"


def test_a_collector_that_ignores_the_threshold_is_left_alone() -> None:
    assert _run("incremental") == "MainThread"
