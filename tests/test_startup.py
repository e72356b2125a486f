"""`pixxel-mock serve` builds the app once, in the master, and forks the workers from it.

What must not cross a fork stays per process: the master forks with no SQLite
connection open, each worker opens its own on the shared state file, and workers that
replace killed ones serve the same state from the app they inherit.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from mock_server.live import LiveMock

from .helpers import AGRI, ALPHA, WF_LINEAR

pytestmark = pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="reads /proc")


def _open_files(pid: int) -> set[str]:
    names = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):  # closed since listed
            names.add(os.readlink(fd))
    return names


def _workers(master: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                parent = (entry / "stat").read_text().rsplit(")", 1)[1].split()[1]
                if int(parent) == master:
                    found.add(int(entry.name))
    return found


def _until(condition: Callable[[], bool], seconds: float = 30.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _answers(url: str) -> bool:
    try:
        return requests.get(f"{url}/ping").status_code == 200
    except requests.ConnectionError:
        return False


def _database_files(files: set[str], state: Path) -> set[str]:
    return files & {str(state), f"{state}-wal", f"{state}-shm"}


def test_the_master_forks_without_a_connection_and_new_workers_serve_the_same_state(
    tmp_path: Path,
) -> None:
    state = tmp_path / "state.sqlite"
    args = ["--validate-responses", "--workers", "2", "--clock", "manual"]
    with LiveMock([*args, "--state-file", str(state)]) as live:
        created = requests.post(
            f"{live.url}/v0/workflows/{WF_LINEAR}/jobs?project_id={AGRI}", headers=ALPHA
        )
        assert created.status_code == 200, created.text
        job_url = f"{live.url}/v0/workflows/{WF_LINEAR}/jobs/{created.json()['id']}"
        before = requests.get(job_url, headers=ALPHA).json()

        master = live.process.pid
        assert _database_files(_open_files(master), state) == set()
        assert _until(lambda: len(_workers(master)) == 2)  # the banner came with the first
        first = _workers(master)
        assert any(_database_files(_open_files(pid), state) for pid in first)

        for pid in first:
            os.kill(pid, signal.SIGKILL)
        assert _until(lambda: len(_workers(master) - first) == 2)
        assert _until(lambda: _answers(live.url))  # a replacement listens

        after = requests.get(job_url, headers=ALPHA)
        assert after.status_code == 200, after.text
        assert after.json() == before
        assert _database_files(_open_files(master), state) == set()
