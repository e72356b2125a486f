"""Deterministic identifiers: the same seed and history give the same ids."""

from __future__ import annotations

import hashlib
import uuid

_ROOT = uuid.UUID("5d0c5e8a-6f3b-4c1e-9a7d-2b8e4f6a1c3d")


def derived_uuid(*parts: object) -> str:
    """A UUID (version 5) named by the parts, e.g. (seed, namespace, "job", 7)."""
    return str(uuid.uuid5(_ROOT, "|".join(str(part) for part in parts)))


def unit_interval(*parts: object) -> float:
    """A deterministic number in [0, 1) named by the parts, for seeded jitter."""
    digest = hashlib.blake2b("|".join(str(p) for p in parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64
