"""`pixxel_mock.explore(client)`: hypothesis draws server behaviours, runs the client
against each over real HTTP, checks properties, and shrinks a failure to the smallest
behaviour that breaks the client.

Each example starts from a reset mock with its clock in `polls` mode (a client's
polling costs no waiting), loads the behaviour through the control API, runs
`client(base_url, key)` and reads the journal of what the client sent. The client's
`base_url` is a door of that example's own (gate.py), shut when the example ends: a
client that overran its time cannot reach the next one. Properties:
the client returns (or raises only what `allowed_exceptions` names), breaks no contract
rule, honours Retry-After, stays within `request_budget`, and passes `check` if given.
"""

from __future__ import annotations

import json
import threading
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import hypothesis
from hypothesis import HealthCheck
from hypothesis import strategies as st

from pixxel_mock.contract.gate import Gate
from pixxel_mock.contract.keys import client_key
from pixxel_mock.contract.strategies import BehaviourSpace, server_behaviours
from pixxel_mock.server.model.catalog import load_catalog
from pixxel_mock.server.model.faults import FaultRule
from pixxel_mock.server.spec.document import ApiSpec, Operation
from pixxel_mock.server.spec.resources import API_SPEC

if TYPE_CHECKING:
    from pixxel_mock.contract.fixture import PixxelMock

BUDGET_RULE = "explore-budget"
CLOCK_TOLERANCE = 0.05  # seconds: the journal's times are taken as each answer leaves


@dataclass
class ClientRun:
    """One run of the client under one behaviour: what `check` receives."""

    behaviour: dict[str, Any]
    returned: Any = None
    error: BaseException | None = None
    error_text: str = ""
    finished: bool = True
    requests: list[dict[str, Any]] = field(default_factory=list)
    budget_exceeded: bool = False

    def log(self) -> str:
        """One line a request; a run of the same request and answer is one line with its count."""
        lines = [
            f"  {e['method']} {e['path']}{'?' + e['query'] if e['query'] else ''} -> {e['status']}"
            for e in self.requests
        ]
        folded: list[tuple[str, int]] = []
        for line in lines:
            if folded and folded[-1][0] == line:
                folded[-1] = (line, folded[-1][1] + 1)
            else:
                folded.append((line, 1))
        return "\n".join(line + (f"   (x{count})" if count > 1 else "") for line, count in folded)


class ClientBroke(AssertionError):
    """A property failed; the message holds the behaviour to reproduce it."""

    def __init__(self, run: ClientRun, problems: list[str]) -> None:
        super().__init__(report(run, problems))
        self.run, self.problems = run, problems


def explore(
    mock: PixxelMock,
    client: Callable[[str, str], Any],
    *,
    key: str | None = None,
    max_examples: int = 50,
    seed: int = 0,
    request_budget: int = 300,
    client_timeout: float = 60.0,
    allowed_exceptions: tuple[type[BaseException], ...] = (),
    check: Callable[[ClientRun], None] | None = None,
    behaviours: st.SearchStrategy[dict[str, Any]] | None = None,
) -> None:
    """Fail with the shrunk behaviour if any drawn behaviour breaks a property.

    `key`: the client's (default: the first usable key of the mock's fixtures);
    `behaviours`: default, every behaviour the contract and the mock's fixtures allow."""
    operations = ApiSpec.load(API_SPEC).operations
    key = key or client_key(load_catalog(mock.fixtures))
    if behaviours is None:
        space = BehaviourSpace.derive(fixtures_dir=mock.fixtures)
        behaviours = server_behaviours(key=key, space=space)

    @hypothesis.seed(seed)
    @hypothesis.settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
    )
    @hypothesis.given(behaviours)
    def explore_client(behaviour: dict[str, Any]) -> None:
        run = run_client(mock, client, key, behaviour, request_budget, client_timeout)
        problems = properties(run, request_budget, allowed_exceptions, operations, key)
        if not problems and check is not None:
            try:
                check(run)
            except AssertionError as exc:
                problems.append(f"the outcome check failed: {exc}")
        if problems:
            raise ClientBroke(run, problems)

    explore_client()


def run_client(
    mock: PixxelMock,
    client: Callable[[str, str], Any],
    key: str,
    behaviour: dict[str, Any],
    request_budget: int,
    client_timeout: float,
) -> ClientRun:
    mock.reset()
    mock.set_clock(mode="polls")
    # First, so it counts every call: past the budget, connections drop (a runaway stops).
    mock.add_fault(
        {
            "id": BUDGET_RULE,
            "match": {"requests": {"from": request_budget + 1}},
            "action": {"drop": True},
        }
    )
    mock.apply_scenario(behaviour)
    run = ClientRun(behaviour)
    with Gate(mock.url, client_timeout) as gate:

        def target() -> None:
            try:
                run.returned = client(gate.url, key)
            except BaseException as exc:  # the client's failure is the finding
                run.error, run.error_text = exc, traceback.format_exc(limit=-3)

        worker = threading.Thread(target=target, name="explored-client", daemon=True)
        worker.start()
        worker.join(client_timeout)
        run.finished = not worker.is_alive()
    # The door is shut: a client still running has no way left to the mock.
    run.requests = mock.requests()
    counts = {rule["id"]: rule["matched"] for rule in mock.faults()}
    run.budget_exceeded = counts.get(BUDGET_RULE, 0) > request_budget
    return run


def properties(
    run: ClientRun,
    request_budget: int,
    allowed_exceptions: tuple[type[BaseException], ...],
    operations: Mapping[str, Operation],
    key: str,
) -> list[str]:
    problems = []
    if run.budget_exceeded:  # then its connections were dropped: what it raised follows
        problems.append(
            f"made more than {request_budget} requests (a loop that never ends?);"
            " stopped by dropping its connections"
        )
    elif not run.finished:
        problems.append("did not return in time")
    elif run.error is not None and not (
        allowed_exceptions and isinstance(run.error, allowed_exceptions)
    ):
        problems.append(f"raised {type(run.error).__name__}: {run.error}\n{run.error_text}")
    for entry in run.requests:
        problems += [
            f"sent {entry['method']} {entry['path']}, which the contract forbids: {v}"
            for v in entry["violations"]
            if not v.startswith("response:")
        ]
    problems += _retry_after_ignored(run, operations, key)
    return problems


def _retry_after_ignored(
    run: ClientRun, operations: Mapping[str, Operation], key: str
) -> list[str]:
    """After an answer with Retry-After: R, the next call of that operation comes R s later."""
    rules = [
        FaultRule.from_json(rule, "namespace", str(rule.get("id", index)))
        for index, rule in enumerate(run.behaviour.get("faults", []))
    ]
    problems = []
    for index, entry in enumerate(run.requests):
        wait = _asked_wait(entry, rules, operations, key)
        if not wait:
            continue
        following = next(
            (e for e in run.requests[index + 1 :] if e["operation_id"] == entry["operation_id"]),
            None,
        )
        if following is not None and following["at"] - entry["at"] < wait - CLOCK_TOLERANCE:
            problems.append(
                f"retried {entry['operation_id']} {following['at'] - entry['at']:.3f} s after a"
                f" {entry['status']} that said Retry-After: {wait:g}"
            )
    return problems


def _asked_wait(
    entry: dict[str, Any], rules: list[FaultRule], operations: Mapping[str, Operation], key: str
) -> float:
    """The Retry-After of a journal entry's answer, told by the rules that could have given it
    (the journal keeps no headers): the least of theirs, 0 if one of them sends none."""
    operation = operations.get(entry["operation_id"] or "")
    if operation is None:
        return 0.0
    waits = [
        _seconds(rule.action.retry_after(entry["status"]))
        for rule in rules
        if entry["status"] in rule.action.statuses
        and rule.matches(
            operation.method, operation.path, operation.operation_id, operation.secured, key
        )
    ]
    return min(waits, default=0.0)


def _seconds(retry_after: str | None) -> float:
    """Delay-seconds; an HTTP-date (or none) asks for no wait we can judge."""
    return float(retry_after) if retry_after and retry_after.isdigit() else 0.0


def report(run: ClientRun, problems: list[str]) -> str:
    behaviour = json.dumps(run.behaviour, indent=2)
    return (
        "the client broke under this server behaviour:\n- "
        + "\n- ".join(problems)
        + f"\n\nbehaviour (save as that.json; `pixxel-mock serve --scenario that.json`,"
        f" or pixxel_mock.apply_scenario(json.load(...))):\n{behaviour}\n\n"
        f"the client's requests ({len(run.requests)}):\n{run.log()}"
    )
