"""Start `pixxel-mock serve` (or `proxy`) as a real subprocess on an ephemeral port, and stop it.

Used by the integration tests and the `pixxel_mock` pytest fixture: the server is
the same program a user runs, over real HTTP on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence

_URL = re.compile(r"listening on (http://\S+)")


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
        self.url = self._wait_for_url(startup_timeout)
        threading.Thread(target=self._drain, daemon=True).start()

    def _wait_for_url(self, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        assert self.process.stdout is not None
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                break
            self.output.append(line)
            match = _URL.search(line)
            if match:
                return match.group(1)
        self.stop()
        raise RuntimeError(f"pixxel-mock did not start: {''.join(self.output)}")

    def _drain(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line)

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
