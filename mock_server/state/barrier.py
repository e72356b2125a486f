"""Read-your-writes for buffered writes spread over several processes.

Each process buffers its journal entries and a thread of its own writes them every
few milliseconds, so a request pays only a list append. A reader must still see every
exchange whose response left before the read began, whichever process answered it.
So the reader raises a shared request number; each buffering process's flusher, on
its next turn, notes that number, writes its buffer, then acknowledges the number in
its own slot; the reader waits until every live process with a slot has acknowledged.

The numbers live in a small memory-mapped file beside the state file: a u64 request
number, then `SLOTS` slots of (pid, acknowledged number). Processes that never buffered
have no slot and are not waited for; a dead process's slot is skipped (what it had not
written died with it, as after any crash) and reused.
"""

from __future__ import annotations

import fcntl
import logging
import mmap
import os
import struct
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pixxel_mock.server.state.epoch import map_shared

log = logging.getLogger("pixxel_mock")
SLOTS = 64
_WORD = struct.Struct("<Q")
_SIZE = _WORD.size * (1 + 2 * SLOTS)
_POLL_SECONDS = 0.0005


class FlushBarrier:
    """One per Store; safe across fork (each process maps the file anew)."""

    def __init__(self, path: Path, timeout: float = 5.0) -> None:
        self.path = path
        self.timeout = timeout
        self._map: mmap.mmap | None = None
        self._pid = 0
        self._slot: int | None = None
        self._map_lock = threading.Lock()

    # -- the shared words ------------------------------------------------------
    def _mapped(self) -> mmap.mmap:
        if self._map is not None and self._pid == os.getpid():
            return self._map
        with self._map_lock:
            if self._map is None or self._pid != os.getpid():
                self._map = map_shared(self.path, _SIZE)
                self._pid, self._slot = os.getpid(), None
            return self._map

    def _get(self, index: int) -> int:
        return _WORD.unpack_from(self._mapped(), index * _WORD.size)[0]

    def _set(self, index: int, value: int) -> None:
        _WORD.pack_into(self._mapped(), index * _WORD.size, value)

    @staticmethod
    def _pid_index(slot: int) -> int:
        return 1 + 2 * slot

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        """A lock on the file for every thread of every process (each opens it anew)."""
        with open(self.path, "rb") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    # -- the buffering side ----------------------------------------------------
    def register(self) -> bool:
        """Claim a slot for this process before it buffers anything; False if none is free
        (the caller then writes through, which needs no acknowledgement)."""
        self._mapped()
        if self._slot is not None:
            return True
        with self._exclusive():  # claims by several processes at once
            for slot in range(SLOTS):
                pid = self._get(self._pid_index(slot))
                if pid == os.getpid() or pid == 0 or not _alive(pid):
                    self._set(self._pid_index(slot) + 1, self.requested())
                    self._set(self._pid_index(slot), os.getpid())
                    self._slot = slot
                    return True
        return False

    def requested(self) -> int:
        return self._get(0)

    def acknowledge(self, number: int) -> None:
        """This process has written everything it buffered before it read `number`."""
        if self._slot is not None and self._pid == os.getpid():
            self._set(self._pid_index(self._slot) + 1, number)

    def release(self) -> None:
        if self._slot is not None and self._pid == os.getpid():
            self._set(self._pid_index(self._slot), 0)
            self._slot = None

    def clear(self) -> None:
        """Forget every slot: at server start, before any worker exists, since a pid
        left by an earlier run may now belong to an unrelated process."""
        self._mapped()[:] = bytes(_SIZE)

    # -- the reading side ------------------------------------------------------
    def request(self) -> int:
        """Ask every buffering process to write; the number to wait for.

        Raised under an exclusive lock, so the shared number never falls back (why:
        docs/reliability.md, "Read-your-writes for the journal").
        """
        self._mapped()
        with self._exclusive():
            number = self.requested() + 1
            self._set(0, number)
        return number

    def wait(self, number: int) -> bool:
        """Until every other live process with a slot acknowledged `number` (or timeout)."""
        deadline = time.monotonic() + self.timeout
        pending = self._pending(number)
        while pending:
            if time.monotonic() > deadline:
                log.warning("journal: processes %s did not flush in %.1fs", pending, self.timeout)
                return False
            time.sleep(_POLL_SECONDS)
            pending = self._pending(number)
        return True

    def _pending(self, number: int) -> list[int]:
        pending = []
        for slot in range(SLOTS):
            pid = self._get(self._pid_index(slot))
            if pid in (0, os.getpid()):
                continue
            if self._get(self._pid_index(slot) + 1) < number and _alive(pid):
                pending.append(pid)
        return pending


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
