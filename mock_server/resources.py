"""Where the contract and the default fixtures live (the checkout's top-level folders)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OPENAPI_DIR = ROOT / "openapi"
API_SPEC = OPENAPI_DIR / "pixxel.yaml"
CONTROL_SPEC = OPENAPI_DIR / "control.yaml"
FIXTURES_DIR = ROOT / "fixtures"
