"""Start `pixxel-mock serve` (or `proxy`) as a real subprocess on an ephemeral port, and stop it.

Used by the integration tests and the `pixxel_mock` pytest fixture: the server is
the same program a user runs, over real HTTP on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

_URL = re.compile(r"listening on (http://\S+)")
OUTPUT_SECONDS = 5.0  # how long a server killed at start may take to close its output
KILL_SECONDS = 10.0  # how long killed processes may take to end
PROC = Path("/proc")


class LiveMock:
    """A running `pixxel-mock serve` (or `proxy`); `url` is its base URL."""

    def __init__(
        self,
        args: Sequence[str] = (),
        command: str = "serve",
        startup_timeout: float = 30.0,
        program: Sequence[str] = (sys.executable, "-m", "pixxel_mock.server"),
        cwd: str | None = None,
    ) -> None:
        """`program`: this interpreter's own install by default, never whatever
        `pixxel-mock` PATH happens to name."""
        self.command = [*program, command, "--host", "127.0.0.1", "--port", "0", *args]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen(
            self.command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
            cwd=cwd,
            start_new_session=True,  # so kill() can reach the workers too
        )
        self.output: list[str] = []
        self._announced: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        self._reader = threading.Thread(target=self._read_output, daemon=True)
        self._reader.start()
        self.url = self._wait_for_url(startup_timeout)

    def _read_output(self) -> None:
        """Every line the server prints, in a thread of its own: a server that prints
        nothing holds up this thread, never the constructor's deadline."""
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line)
            match = _URL.search(line)
            if match:
                self._announced.put(match.group(1))
        self._announced.put(None)  # the end of its output: it exited, or was killed

    def _wait_for_url(self, timeout: float) -> str:
        try:
            url = self._announced.get(timeout=timeout)
        except queue.Empty:
            why = f"printed no URL in {timeout:g} s"
        else:
            if url is not None:
                return url
            why = "ended its output"
        self.kill()  # its workers too: a server that did not start has nothing to keep
        self._reader.join(OUTPUT_SECONDS)  # the rest of its output, for the message
        raise RuntimeError(
            f"pixxel-mock did not start: it {why} (exit code {self.process.returncode}):"
            f" {''.join(self.output)}"
        )

    def stop(self, sig: int = signal.SIGINT, timeout: float = 15.0) -> int:
        """Stop the server (Ctrl-C by default) and return its exit code."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def kill(self) -> None:
        """kill -9 the whole server (master and workers), as a crash would, and return
        once they are gone: SIGKILL is delivered when each process next runs, so the
        master can be reaped while a worker still lives, for a moment, on a busy machine."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        _wait_until_gone(self.process.pid)

    def __enter__(self) -> LiveMock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _group_runs(group: int) -> bool:
    """Whether a process of the group still runs (zombies have ended). Without /proc,
    whether the group has a member at all."""
    if not PROC.is_dir():
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return False
        return True
    for stat in PROC.glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # ended while being read
        if int(fields[2]) == group and fields[0] not in ("Z", "X"):
            return True
    return False


def _wait_until_gone(group: int) -> None:
    deadline = time.monotonic() + KILL_SECONDS
    while _group_runs(group) and time.monotonic() < deadline:
        time.sleep(0.01)
