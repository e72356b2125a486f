"""One writer at a time across every process of a state file, queued by the kernel.

SQLite serialises writers itself, but a process that finds the write lock taken
gets SQLITE_BUSY and its busy handler sleeps in growing steps (1, 2, 5, 10, ...
25 ms, then 50 and 100) before trying again, even if the lock was freed a
microsecond later. Under a load of writes from several worker processes, those
sleeps were the p99 of createJob (151 ms). An exclusive `flock` on a file beside
the state file, taken around each write transaction, makes the others block in the
kernel instead and wake as soon as it is released; a killed process's lock is
released by the kernel, so a crash never leaves it held.
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
