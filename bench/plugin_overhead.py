"""`python -m bench.plugin_overhead`: what the `pixxel_mock` pytest plugin costs a foreign run.

pytest loads the plugin in every run of an environment that has pixxel-mock. This times
`pytest` on a one-test project that never asks for `pixxel_mock`, with the plugin and
with `-p no:pixxel_mock`, alternating, and prints the medians and their ratio.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _timed(project: Path, extra: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *extra],
        cwd=project,
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as folder:
        project = Path(folder)
        (project / "test_foreign.py").write_text("def test_one():\n    assert 1 + 1 == 2\n")
        with_plugin, without = [], []
        for _ in range(runs):
            with_plugin.append(_timed(project, []))
            without.append(_timed(project, ["-p", "no:pixxel_mock"]))
    a, b = statistics.median(with_plugin), statistics.median(without)
    print(f"foreign one-test project, median of {runs} runs each")
    print(f"  with the plugin:    {a * 1000:.0f} ms")
    print(f"  without the plugin: {b * 1000:.0f} ms")
    print(f"  ratio: {a / b:.3f}")


if __name__ == "__main__":
    main()
