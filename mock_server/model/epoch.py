"""A change marker shared by every process through an 8-byte memory-mapped file.

Writers store a fresh random value after each commit that could make a cached
read stale (clock, rules, reset, import, polls); readers compare it with the value
they cached under. Reading costs a few hundred nanoseconds instead of a query,
so the hot path needs no SQLite read at all while nothing changes. It is only a
hint: the SQLite file stays the truth, and a lost or torn marker only costs a reload.
"""

from __future__ import annotations

import mmap
import os
import secrets
import struct
from pathlib import Path

_SIZE = 8


class Epoch:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._map: mmap.mmap | None = None
        self._pid = 0

    def _mapped(self) -> mmap.mmap:
        if self._map is None or self._pid != os.getpid():
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                if os.fstat(fd).st_size < _SIZE:
                    os.ftruncate(fd, _SIZE)
                self._map = mmap.mmap(fd, _SIZE)
            finally:
                os.close(fd)
            self._pid = os.getpid()
        return self._map

    def read(self) -> int:
        return struct.unpack_from("<Q", self._mapped())[0]

    def bump(self) -> None:
        struct.pack_into("<Q", self._mapped(), 0, secrets.randbits(63) + 1)
