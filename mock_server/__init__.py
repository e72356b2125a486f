"""pixxel-mock: an offline twin of the Pixxel Workflows / Jobs / Tasks API."""

from .app import create_app, runtime_of
from .config import MockConfig

__all__ = ["MockConfig", "create_app", "runtime_of"]
