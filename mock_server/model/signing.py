"""Signed download URLs: HMAC-SHA256 over (namespace, download id, expiry), S3 style.

The URL is a bearer capability: it needs no Authorization header, so the only
things that make it valid are the signature made with this mock's secret and an
expiry that has not passed on the mock's clock.
"""

from __future__ import annotations

import hashlib
import hmac

DOWNLOAD_PREFIX = "/__downloads"


def signature(secret: str, namespace: str, download_id: str, expires: int) -> str:
    message = f"{namespace}\n{download_id}\n{expires}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signed_path(
    secret: str, namespace: str, download_id: str, expires: int, folder: str = ""
) -> str:
    """The query needs no quoting: an integer and a hex digest (urlencode cost a tenth
    of a download PUT). A `folder` (AOI downloads: `aois`) is part of what is signed."""
    signed_id = f"{folder}/{download_id}" if folder else download_id
    query = f"expires={expires}&signature={signature(secret, namespace, signed_id, expires)}"
    return f"{DOWNLOAD_PREFIX}/{namespace}/{signed_id}.zip?{query}"


def is_valid(secret: str, namespace: str, download_id: str, expires: str, given: str) -> bool:
    """Constant-time check of a presented signature; any malformed part is simply invalid."""
    if not expires.isdigit() or len(expires) > 12 or str(int(expires)) != expires:
        return False  # only the canonical text that was signed
    expected = signature(secret, namespace, download_id, int(expires))
    return hmac.compare_digest(expected.encode(), given.encode("utf-8", "replace"))
