"""The pytest plugin of a `pixxel-mock contract` run: the suite's fixtures, the results table
and its merging across pytest-xdist workers.

Only that command loads it (`-p pixxel_mock.contract.suite_plugin`), so a user's own pytest
runs never see its fixtures or its option. Its one option carries the command's options as
JSON (ContractOptions): declared by the command, not again here.
"""

from __future__ import annotations

import importlib
from typing import Any

import pytest

from pixxel_mock.contract.options import OPTION, ContractOptions
from pixxel_mock.contract.results import Results
from pixxel_mock.contract.target import (
    EXCLUDED_CHECKS,
    build_schema,
    in_process_app,
    skipped,
    transport_for,
)
from pixxel_mock.contract.transport import Transport

OPTIONS = pytest.StashKey[ContractOptions]()
RESULTS = pytest.StashKey[Results]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(OPTION, required=True, help="set by `pixxel-mock contract`: its options")


def pytest_configure(config: pytest.Config) -> None:
    config.stash[OPTIONS] = ContractOptions.from_json(config.getoption(OPTION))


@pytest.fixture(scope="session")
def contract_options(pytestconfig: pytest.Config) -> ContractOptions:
    return pytestconfig.stash[OPTIONS]


@pytest.fixture(scope="session")
def contract_app(contract_options: ContractOptions) -> Any:
    """The in-process target shared by the suite: the mock, or `--app` (None when live)."""
    if not contract_options.in_process:
        return None
    if contract_options.app:
        return load_app(contract_options.app)
    return in_process_app(contract_options)


def load_app(reference: str) -> Any:
    """`package.module:name` names a WSGI app; `package.module:name()` calls a factory."""
    module_name, _, attribute = reference.partition(":")
    factory = attribute.endswith("()")
    target = getattr(importlib.import_module(module_name), attribute.removesuffix("()") or "app")
    return target() if factory else target


@pytest.fixture(scope="session")
def contract_schema(contract_options: ContractOptions, contract_app: Any) -> Any:
    return build_schema(contract_options, contract_app)


@pytest.fixture(scope="session")
def contract_transport(contract_options: ContractOptions, contract_app: Any) -> Transport:
    return transport_for(contract_options, contract_app)


@pytest.fixture(scope="session")
def contract_results(pytestconfig: pytest.Config, contract_options: ContractOptions) -> Results:
    results = Results.for_run(set(EXCLUDED_CHECKS), skipped(contract_options))
    pytestconfig.stash[RESULTS] = results
    return results


def pytest_sessionfinish(session: pytest.Session) -> None:
    """On a pytest-xdist worker: hand the results to the controller."""
    results = session.config.stash.get(RESULTS, None)
    workeroutput = getattr(session.config, "workeroutput", None)
    if results is not None and workeroutput is not None:
        workeroutput["pixxel_results"] = results.to_json()


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """On the controller: merge a worker's results."""
    data = getattr(node, "workeroutput", {}).get("pixxel_results")
    if data is None:
        return
    config = node.config
    if RESULTS not in config.stash:
        config.stash[RESULTS] = Results(checks=data["checks"], skipped=data["skipped"])
    config.stash[RESULTS].merge(data)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    results = config.stash.get(RESULTS, None)
    if results is None:
        return
    terminalreporter.write_sep("=", "pixxel-mock contract summary")
    terminalreporter.write(results.summary())
    terminalreporter.write_line(
        f"summary written to {results.write(config.stash[OPTIONS].report_dir)}"
    )
