"""One writer at a time across every process of a state file, queued by the kernel.

Each write transaction holds an exclusive `flock` on a file beside the state file, so other
writers wait in the kernel rather than in SQLite's busy-handler sleeps, and a killed process's
lock goes with it (why: docs/performance.md, "The write gate").
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class WriteGate:
    """Per process (reopened after fork); threads of a process queue before it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd = -1
        self._pid = 0

    def _descriptor(self) -> int:
        if self._pid != os.getpid():
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            self._pid = os.getpid()
        return self._fd

    @contextmanager
    def held(self) -> Iterator[None]:
        fd = self._descriptor()
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._pid == os.getpid():
            os.close(self._fd)
            self._pid, self._fd = 0, -1
