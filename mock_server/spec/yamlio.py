"""YAML reading with libyaml's C loader when present (8x faster start-up), and a JSON
copy of the documents every start reads (the specs) in the user's cache directory.

libyaml parses in C, but the loader still builds every object in Python: ~35 ms for
the two specs, against ~1 ms to load the same documents from JSON.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import yaml

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
COPIES_KEPT = 8  # per file name: checkouts of several versions do not evict each other


def read_yaml(path: Path) -> Any:
    with Path(path).open(encoding="utf-8") as handle:
        return yaml.load(handle, Loader=_LOADER)


def read_yaml_cached(path: Path) -> Any:
    """`read_yaml`, from a JSON copy named after the source's name and hash when one exists.

    The source is read every time, so an edited file (or another PyYAML) is parsed
    again; a copy that cannot be written or read only costs the parse.
    """
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    directory = cache_dir()
    if directory is None:
        return yaml.load(text, Loader=_LOADER)
    digest = hashlib.sha256(f"{yaml.__version__}\n{text}".encode()).hexdigest()[:32]
    copy = directory / f"{path.name}-{digest}.json"
    with contextlib.suppress(OSError, ValueError):
        return json.loads(copy.read_bytes())
    document = yaml.load(text, Loader=_LOADER)
    _keep(copy, document, f"{path.name}-*.json")
    return document


def cache_dir() -> Path | None:
    """$XDG_CACHE_HOME/pixxel-mock, or ~/.cache/pixxel-mock; None without a home."""
    base = os.environ.get("XDG_CACHE_HOME")
    if not base:
        try:
            base = str(Path.home() / ".cache")
        except RuntimeError:
            return None
    return Path(base) / "pixxel-mock"


def _keep(copy: Path, document: Any, siblings: str) -> None:
    """Write the copy only if JSON gives the same document back (no dates, no integer
    keys), atomically (several processes may write it at once); the oldest copies of
    the same file name go."""
    try:
        text = json.dumps(document)
    except (TypeError, ValueError):
        return
    if json.loads(text) != document:
        return
    with contextlib.suppress(OSError):
        copy.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=copy.parent, suffix=".tmp")
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(temporary, copy)
        for stale in sorted(copy.parent.glob(siblings), key=_newest_first)[COPIES_KEPT:]:
            stale.unlink(missing_ok=True)


def _newest_first(path: Path) -> float:
    """A sort key; a file another process just removed sorts last, with the oldest."""
    try:
        return -path.stat().st_mtime
    except OSError:
        return float("inf")
