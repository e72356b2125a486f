"""Where the contract and the default fixtures live: package data of `pixxel_mock.server`.

In the repository they are the top-level folders `openapi/` and `fixtures/`, which the
package links to; a wheel carries copies. Either way they are found through
importlib.resources, so an installed package never looks for a source tree.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def _package_dir(name: str) -> Path:
    folder = files("pixxel_mock.server") / name
    if not isinstance(folder, Path) or not folder.is_dir():
        raise RuntimeError(f"pixxel-mock is installed without its {name}/ folder ({folder})")
    return folder


OPENAPI_DIR = _package_dir("openapi")
API_SPEC = OPENAPI_DIR / "pixxel.yaml"
CONTROL_SPEC = OPENAPI_DIR / "control.yaml"
FIXTURES_SCHEMA = OPENAPI_DIR / "fixtures.yaml"  # the closed formats of the fixture files
FIXTURES_DIR = _package_dir("fixtures")
