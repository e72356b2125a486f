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
from collections.abc import Sequence

_URL = re.compile(r"listening on (http://\S+)")
OUTPUT_SECONDS = 5.0  # how long a server killed at start may take to close its output


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
        """kill -9 the whole server (master and workers), as a crash would."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def __enter__(self) -> LiveMock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
