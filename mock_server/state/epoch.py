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


def map_shared(path: Path, size: int) -> mmap.mmap:
    """`size` bytes of a file every process maps (created, or grown, as needed).

    Map it anew in each process: a mapping inherited across fork is the parent's."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        if os.fstat(fd).st_size < size:
            os.ftruncate(fd, size)
        return mmap.mmap(fd, size)
    finally:
        os.close(fd)


class Epoch:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._map: mmap.mmap | None = None
        self._pid = 0

    def _mapped(self) -> mmap.mmap:
        if self._map is None or self._pid != os.getpid():
            self._map, self._pid = map_shared(self.path, _SIZE), os.getpid()
        return self._map

    def read(self) -> int:
        return struct.unpack_from("<Q", self._mapped())[0]

    def bump(self) -> None:
        struct.pack_into("<Q", self._mapped(), 0, secrets.randbits(63) + 1)
