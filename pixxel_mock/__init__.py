"""pixxel-mock: an offline twin of the Pixxel platform API, and a contract-test harness for it.

- `pixxel_mock.server`: the mock (`create_app`, `MockConfig`, `pixxel-mock serve`);
- `pixxel_mock.contract`: the harness (the `pixxel_mock` pytest fixture, `explore`,
  `pixxel-mock contract`, traffic checking and the validating proxy).
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("pixxel-mock")
except PackageNotFoundError:  # imported from a source tree that was never installed
    __version__ = "0+unknown"
