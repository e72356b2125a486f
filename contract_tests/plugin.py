"""The pytest plugin (entry point `pytest11`): options, the contract fixtures, `pixxel_mock`.

pytest loads it in every run of an environment that has pixxel-mock, the user's own
unrelated runs included: at load it imports only pytest and the standard library.
The harness (schemathesis, the mock, requests) loads when a test asks for a fixture.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from pixxel_mock.contract.options import ContractOptions, add_pytest_options, from_pytest

if TYPE_CHECKING:
    from pixxel_mock.contract.fixture import PixxelMock
    from pixxel_mock.contract.results import Results

RESULTS = pytest.StashKey["Results"]()
APP = pytest.StashKey[Any]()


def pytest_addoption(parser: pytest.Parser) -> None:
    add_pytest_options(parser)


@pytest.fixture(scope="session")
def contract_options(pytestconfig: pytest.Config) -> ContractOptions:
    return from_pytest(pytestconfig)


@pytest.fixture(scope="session")
def contract_app(pytestconfig: pytest.Config, contract_options: ContractOptions) -> Any:
    """The in-process target shared by the suite: the mock, or `--pixxel-app` (None when live)."""
    if not contract_options.in_process:
        return None
    if APP not in pytestconfig.stash:
        from pixxel_mock.contract.target import in_process_app

        named = pytestconfig.getoption("--pixxel-app")
        pytestconfig.stash[APP] = load_app(named) if named else in_process_app(contract_options)
    return pytestconfig.stash[APP]


def load_app(reference: str) -> Any:
    """`package.module:name` names a WSGI app; `package.module:name()` calls a factory."""
    module_name, _, attribute = reference.partition(":")
    factory = attribute.endswith("()")
    target = getattr(importlib.import_module(module_name), attribute.removesuffix("()") or "app")
    return target() if factory else target


@pytest.fixture(scope="session")
def contract_schema(contract_options: ContractOptions, contract_app: Any) -> Any:
    from pixxel_mock.contract.target import build_schema

    return build_schema(contract_options, contract_app)


@pytest.fixture(scope="session")
def contract_transport(contract_options: ContractOptions, contract_app: Any) -> Any:
    from pixxel_mock.contract.target import transport_for

    return transport_for(contract_options, contract_app)


@pytest.fixture(scope="session")
def contract_results(pytestconfig: pytest.Config, contract_options: ContractOptions) -> Results:
    if RESULTS not in pytestconfig.stash:
        from pixxel_mock.contract.results import Results
        from pixxel_mock.contract.target import EXCLUDED_CHECKS, skipped

        pytestconfig.stash[RESULTS] = Results.for_run(
            set(EXCLUDED_CHECKS), skipped(contract_options)
        )
    return pytestconfig.stash[RESULTS]


def pytest_sessionfinish(session: pytest.Session) -> None:
    """On a pytest-xdist worker: hand the results to the controller."""
    results = session.config.stash.get(RESULTS, None)
    workeroutput = getattr(session.config, "workeroutput", None)
    if results is not None and workeroutput is not None:
        workeroutput["pixxel_results"] = results.to_json()


def pytest_testnodedown(node: Any, error: Any) -> None:
    """On the controller: merge a worker's results."""
    data = getattr(node, "workeroutput", {}).get("pixxel_results")
    if data is None:
        return
    config = node.config
    if RESULTS not in config.stash:
        from pixxel_mock.contract.results import Results

        config.stash[RESULTS] = Results(checks=data["checks"], skipped=data["skipped"])
    config.stash[RESULTS].merge(data)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    results = config.stash.get(RESULTS, None)
    if results is None:
        return
    terminalreporter.write_sep("=", "pixxel-mock contract summary")
    terminalreporter.write(results.summary())
    report_dir = config.getoption("--pixxel-report-dir")
    if report_dir:
        terminalreporter.write_line(f"summary written to {results.write(report_dir)}")


@pytest.fixture(scope="session")
def pixxel_mock_server(pytestconfig: pytest.Config) -> Iterator[PixxelMock]:
    """One mock server per test session (real HTTP on 127.0.0.1, an ephemeral port)."""
    from pixxel_mock.contract.fixture import start_session_mock

    server = start_session_mock(pytestconfig.getoption("--pixxel-mock-clock"))
    yield server
    server.close()


@pytest.fixture
def pixxel_mock(pixxel_mock_server: PixxelMock) -> Iterator[PixxelMock]:
    """The session's mock, cleared after each test (jobs, downloads, clock, journal)."""
    yield pixxel_mock_server
    pixxel_mock_server.reset()
