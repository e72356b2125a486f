"""LiveMock (contract/live.py) against a server that hangs at start: it gives up at its
deadline and leaves no process behind."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest

from pixxel_mock.contract.live import LiveMock

# Prints nothing, ignores Ctrl-C and SIGTERM, and has a worker that hangs as well.
HUNG_SERVER = """
import os, signal, subprocess, sys, time
from pathlib import Path
signal.signal(signal.SIGINT, signal.SIG_IGN)
signal.signal(signal.SIGTERM, signal.SIG_IGN)
worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
Path(sys.argv[1]).write_text(f"{os.getpid()} {worker.pid}")
time.sleep(600)
"""


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")  # a zombie has ended


@pytest.mark.skipif(not Path("/proc/self/stat").is_file(), reason="reads /proc")
def test_a_server_that_hangs_at_start_is_given_up_and_killed(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    failures: list[BaseException] = []

    def start() -> None:
        try:
            LiveMock(startup_timeout=3, program=(sys.executable, "-c", HUNG_SERVER, str(pids)))
        except RuntimeError as error:
            failures.append(error)

    starting = threading.Thread(target=start, daemon=True)
    starting.start()
    starting.join(60)  # were the deadline not kept, this test fails instead of hanging
    assert not starting.is_alive(), "LiveMock is still waiting for a server that hangs"
    assert "printed no URL in 3 s" in str(failures[0])
    server, worker = map(int, pids.read_text().split())
    assert not _alive(server) and not _alive(worker)


def test_a_server_that_exits_at_start_is_reported_with_its_output() -> None:
    program = (sys.executable, "-c", "print('pixxel-mock: bad fixture'); raise SystemExit(2)")
    with pytest.raises(RuntimeError, match=r"ended its output \(exit code 2\): pixxel-mock: bad"):
        LiveMock(program=program)
