"""The `pixxel-mock` command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from importlib.metadata import entry_points
from pathlib import Path

from pixxel_mock import __version__
from pixxel_mock.server.app.config import MockConfig
from pixxel_mock.server.faults.scenarios import ScenarioError, ScenarioLoader
from pixxel_mock.server.model.catalog import FixtureError
from pixxel_mock.server.model.replay import TIMINGS
from pixxel_mock.server.model.timefmt import parse_rfc3339
from pixxel_mock.server.spec.resources import FIXTURES_DIR
from pixxel_mock.server.state.clock import CLOCK_MODES
from pixxel_mock.server.state.database import StateFileError

COMMAND_GROUP = "pixxel_mock.commands"  # entry points: `register(subparsers)` adds commands


class DefaultsHelp(argparse.ArgumentDefaultsHelpFormatter):
    """Shows a default only where there is one and the help does not already say it."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if action.default is None or "default" in text:
            return text
        return super()._get_help_string(action) or text


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pixxel-mock",
        description="Offline twin of the Pixxel platform API, and its contract tests.",
    )
    parser.add_argument("--version", action="version", version=f"pixxel-mock {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = commands.add_parser(
        "serve",
        help="run the mock server",
        description="Run the mock on gunicorn. Ctrl-C stops it.",
        formatter_class=DefaultsHelp,
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on")
    serve.add_argument("--port", type=int, default=8080, help="port (0: any free port)")
    serve.add_argument("--workers", type=int, default=2, help="worker processes")
    serve.add_argument(
        "--threads",
        type=int,
        default=4,
        help="threads per worker for requests that wait on purpose (Prefer delay, delay faults)",
    )
    serve.add_argument("--seed", type=int, default=0, help="seed of ids and durations")
    serve.add_argument("--clock", choices=CLOCK_MODES, default="wall", help="clock mode")
    serve.add_argument(
        "--speed", type=float, default=60.0, help="simulated seconds per real second (wall mode)"
    )
    serve.add_argument(
        "--start-time",
        type=parse_rfc3339,
        default=None,
        help="simulated time at start, RFC 3339 (default: now)",
    )
    serve.add_argument("--fixtures", type=Path, default=FIXTURES_DIR, help="fixtures directory")
    serve.add_argument(
        "--state-file",
        type=Path,
        default=None,
        help="SQLite file that keeps the state across restarts (default: fresh at each start)",
    )
    serve.add_argument(
        "--control-token",
        default=None,
        help="require this token (X-Mock-Token) on /__mock/ instead of loopback-only",
    )
    serve.add_argument(
        "--url-ttl", type=int, default=3600, help="signed URL lifetime, simulated seconds"
    )
    serve.add_argument("--journal-size", type=int, default=10_000, help="journal entries kept")
    serve.add_argument(
        "--archive-items",
        type=int,
        default=2_000,
        help="STAC items of the seeded archive, generated from --seed over fixtures/archive.yaml",
    )
    serve.add_argument(
        "--stores-dir",
        type=Path,
        default=None,
        help="folder standing for the stores' buckets, where deliveries land "
        "(default: beside the state file)",
    )
    serve.add_argument(
        "--max-namespaces",
        type=int,
        default=1_000,
        help="X-Mock-Session namespaces kept; past this the oldest is evicted",
    )
    serve.add_argument(
        "--scenario",
        action="append",
        default=[],
        metavar="NAME",
        help="load a scenario of fixtures/scenarios/ (or a file) server-wide; repeatable",
    )
    serve.add_argument(
        "--validate-responses",
        action="store_true",
        help="test mode: answer 500 when a response would break the spec",
    )
    serve.add_argument(
        "--replay",
        type=Path,
        default=None,
        metavar="FILE.har",
        help="answer recorded requests with their recorded answers, in order (see README)",
    )
    serve.add_argument(
        "--replay-strict",
        action="store_true",
        help="with --replay: requests the recording lacks get 404 not_recorded",
    )
    serve.add_argument(
        "--replay-timing",
        choices=TIMINGS,
        default="polls",
        help="with --replay: the next recorded answer per request (polls), or the one recorded"
        " at the same time since the start, on the mock's clock (recorded)",
    )
    serve.set_defaults(handler=_serve)
    keep = commands.add_parser(
        "scenario-from-har",
        help="keep a recording as a library scenario (NAME.har + NAME.yaml)",
        description="Copy a HAR (or VCR) recording into a scenario directory with a scenario"
        " file that replays it; apply it by name (POST /__mock/scenarios/NAME, with --fixtures"
        " pointing at that directory's parent) or with serve --scenario DIR/NAME.yaml.",
        formatter_class=DefaultsHelp,
    )
    keep.add_argument("recording", type=Path, help="the .har file (or VCR cassette)")
    keep.add_argument("name", help="scenario name: a-z, 0-9 and '-'")
    keep.add_argument(
        "--dir", type=Path, default=Path("fixtures/scenarios"), help="scenario directory"
    )
    keep.add_argument("--description", default="", help="what the incident was")
    keep.add_argument("--strict", action="store_true", help="replay strictly")
    keep.add_argument("--timing", choices=TIMINGS, default="polls", help="replay timing")
    keep.set_defaults(handler=_scenario_from_har)
    for command in entry_points(group=COMMAND_GROUP):  # the harness's commands
        command.load()(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.handler(args))


def _serve(args: argparse.Namespace) -> int:
    from pixxel_mock.server.serving.bridge import GunicornMismatch  # gunicorn: needed here only
    from pixxel_mock.server.serving.gunicorn import run_mock_server

    try:
        config = MockConfig(
            fixtures_dir=args.fixtures,
            state_file=args.state_file,
            seed=args.seed,
            clock_mode=args.clock,
            speed=args.speed,
            start_time=args.start_time,
            control_token=args.control_token,
            url_ttl_seconds=args.url_ttl,
            journal_size=args.journal_size,
            archive_items=args.archive_items,
            stores_dir=args.stores_dir,
            max_namespaces=args.max_namespaces,
            validate_responses=args.validate_responses,
            scenarios=tuple(args.scenario),
            replay_file=args.replay,
            replay_strict=args.replay_strict,
            replay_timing=args.replay_timing,
        )
        run_mock_server(config, args.host, args.port, args.workers, args.threads)
    except (
        FixtureError,
        StateFileError,
        ScenarioError,
        GunicornMismatch,
        ValueError,
        OSError,
    ) as exc:
        print(f"pixxel-mock: {exc}", file=sys.stderr)
        return 2
    return 0


def _scenario_from_har(args: argparse.Namespace) -> int:
    from pixxel_mock.server.faults.scenarios import write_replay_scenario
    from pixxel_mock.server.model.replay import recording_id
    from pixxel_mock.server.spec.document import ApiSpec
    from pixxel_mock.server.spec.resources import API_SPEC, CONTROL_SPEC

    try:
        written = write_replay_scenario(
            args.recording, args.name, args.dir, args.strict, args.timing, args.description
        )
        loaded = ScenarioLoader(ApiSpec.load(API_SPEC), ApiSpec.load(CONTROL_SPEC)).load(written)
    except (ScenarioError, OSError, ValueError) as exc:
        print(f"pixxel-mock: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {written} (recording {recording_id(loaded.recording or '')})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
