"""pixxel-mock: an offline twin of the Pixxel Workflows / Jobs / Tasks API."""

from pixxel_mock.server.app.config import MockConfig
from pixxel_mock.server.app.factory import create_app, instance_of

__all__ = ["MockConfig", "create_app", "instance_of"]
