"""Deterministic identifiers: the same seed and history give the same ids."""

from __future__ import annotations

import hashlib
import uuid

_ROOT = uuid.UUID("5d0c5e8a-6f3b-4c1e-9a7d-2b8e4f6a1c3d")
_ROOT_HASH = hashlib.sha1(_ROOT.bytes)  # uuid5's hash, the namespace part done once


def derived_uuid(*parts: object) -> str:
    """A UUID (version 5) named by the parts, e.g. (seed, namespace, "job", 7).

    `uuid.uuid5` spelled out (same bits), without its UUID object: a job's answer
    derives one per task, so this is on the hot path of createJob.
    """
    digest = _ROOT_HASH.copy()
    digest.update("|".join(map(str, parts)).encode())
    raw = bytearray(digest.digest()[:16])
    raw[6] = (raw[6] & 0x0F) | 0x50  # version 5
    raw[8] = (raw[8] & 0x3F) | 0x80  # RFC 4122 variant
    text = raw.hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def unit_interval(*parts: object) -> float:
    """A deterministic number in [0, 1) named by the parts, for seeded jitter."""
    digest = hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64
