"""`pixxel-mock contract`, `validate-traffic` and `proxy`: the harness's commands."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from pixxel_mock.server.cli import DefaultsHelp

SUITE = Path(__file__).with_name("suite.py")
SUITE_PLUGIN = (
    "pixxel_mock.contract.suite_plugin"  # imported by pytest, not before: it rewrites asserts
)


def register(commands: Any) -> None:
    contract = commands.add_parser(
        "contract",
        help="run the contract tests against the mock (default) or a live API",
        description=(
            "Schemathesis over every operation (positive and negative data, stateful links), "
            "the 403 key rule and the lifecycle properties. Against a live --base-url the "
            "key comes from PIXXEL_API_KEY, job creation is skipped unless --allow-writes, "
            "and requests are rate limited (10/s by default)."
        ),
        formatter_class=DefaultsHelp,
    )
    contract.add_argument("--base-url", default=None, help="live target; default: in-process mock")
    contract.add_argument("--max-examples", type=int, default=25, help="examples per operation")
    contract.add_argument("--seed", type=int, default=0, help="seed of the generated data")
    contract.add_argument("--workers", type=int, default=1, help="parallel pytest workers")
    contract.add_argument(
        "--allow-writes", action="store_true", help="create jobs on a live target"
    )
    contract.add_argument("--rate-limit", default=None, help='e.g. "5/s" (live default 10/s)')
    contract.add_argument("--stateful-steps", type=int, default=8, help="steps per scenario")
    contract.add_argument("--junit-xml", default="reports/contract/junit.xml", help="JUnit report")
    contract.add_argument(
        "--report-dir", default="reports/contract", help="summary.md, results.json"
    )
    contract.add_argument(
        "--operation",
        dest="operations",
        action="append",
        default=[],
        metavar="OPERATION_ID",
        help="test only this operation (its operationId); repeatable; default: every one",
    )
    contract.add_argument("--app", default=None, help="module:app of a WSGI app to test in-process")
    contract.add_argument(
        "--scenario",
        dest="scenarios",
        action="append",
        default=[],
        help="run the in-process mock with this scenario loaded (faults on); repeatable",
    )
    contract.set_defaults(handler=run_contract)

    traffic = commands.add_parser(
        "validate-traffic",
        help="check recorded traffic (HAR 1.2 or VCR cassette) against the contract",
        description="Checks each recorded request and response against openapi/pixxel.yaml; "
        "exits 1 when any violates it.",
    )
    traffic.add_argument("file", type=Path, help="a .har file or a VCR cassette (YAML/JSON)")
    traffic.set_defaults(handler=run_validate_traffic)

    proxy = commands.add_parser(
        "proxy",
        help="a validating proxy in front of the real API",
        description="Forwards every request to --upstream unchanged and checks requests and "
        "responses against the contract; violations go to /__mock/requests and to the "
        "X-Pixxel-Contract-Violations response header.",
        formatter_class=DefaultsHelp,
    )
    proxy.add_argument("--upstream", required=True, help="e.g. https://api.pixxel.space")
    proxy.add_argument("--host", default="127.0.0.1", help="address to listen on")
    proxy.add_argument("--port", type=int, default=8081, help="port (0: any free port)")
    proxy.add_argument("--threads", type=int, default=8, help="requests forwarded at once")
    proxy.add_argument(
        "--record",
        type=Path,
        default=None,
        metavar="DIR",
        help="write every exchange to DIR/recording.har (HAR 1.2, secrets redacted)",
    )
    proxy.set_defaults(handler=run_proxy)

    coverage = commands.add_parser(
        "coverage",
        help="what a client's recorded traffic exercised, and what it never saw",
        description="Per operation: calls, statuses received, documented statuses never "
        "received; the job, task and download states seen; faults met; the client's "
        "contract violations.",
    )
    coverage.add_argument("file", type=Path, help="a .har file or a VCR cassette (YAML/JSON)")
    coverage.add_argument("--json", action="store_true", help="JSON instead of a table")
    coverage.set_defaults(handler=run_coverage)


def contract_argv(args: argparse.Namespace) -> list[str]:
    """The pytest run of the suite, with the command's options handed over as one value."""
    from pixxel_mock.contract.options import OPTION, ContractOptions

    argv = [
        str(SUITE),
        "-q",
        "-p",
        "no:cacheprovider",
        "-p",
        SUITE_PLUGIN,
        f"{OPTION}={ContractOptions.from_args(args).to_json()}",
        f"--junitxml={args.junit_xml}",
    ]
    if args.workers > 1:
        argv += ["-n", str(args.workers)]
    return argv


def run_contract(args: argparse.Namespace) -> int:
    """Run the suite; hypothesis keeps its files in a temporary folder, not the user's cwd."""
    import tempfile
    from unittest import mock

    import pytest

    from pixxel_mock.contract.options import unknown_operations

    if unknown := unknown_operations(args.operations):
        print(f"pixxel-mock: no operation {', '.join(unknown)} in the contract")
        return 2
    with (
        tempfile.TemporaryDirectory(prefix="pixxel-contract-") as scratch,
        mock.patch.dict(os.environ, {"HYPOTHESIS_STORAGE_DIRECTORY": scratch}),
    ):
        return int(pytest.main(contract_argv(args)))


def run_validate_traffic(args: argparse.Namespace) -> int:
    from pixxel_mock.contract.traffic import validate_traffic
    from pixxel_mock.server.checking.traffic import TrafficFormatError

    try:
        count, findings = validate_traffic(args.file)
    except (OSError, TrafficFormatError, KeyError) as exc:
        print(f"pixxel-mock: cannot read {args.file}: {exc}")
        return 2
    for finding in findings:
        print(finding)
    print(f"{count} exchange(s) checked, {len(findings)} violation(s)")
    return 1 if findings else 0


def run_proxy(args: argparse.Namespace) -> int:
    from pixxel_mock.contract.proxy import run

    return run(args)


def run_coverage(args: argparse.Namespace) -> int:
    import json

    from pixxel_mock.contract.coverage import recording_coverage
    from pixxel_mock.server.checking.traffic import TrafficFormatError

    try:
        report = recording_coverage(args.file)
    except (OSError, TrafficFormatError, KeyError) as exc:
        print(f"pixxel-mock: cannot read {args.file}: {exc}")
        return 2
    print(json.dumps(report.as_dict(), indent=1) if args.json else report.table())
    return 0
