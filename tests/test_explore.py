"""explore(): hypothesis attacks a client with the behaviours the spec allows, over real
HTTP, and shrinks a failure to the smallest behaviour that causes it."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
import requests
from hypothesis import strategies as st

from examples import careless_client, robust_client
from examples.pipeline_client import PixxelClient, PixxelError, run_pipeline
from pixxel_mock.contract.explore import ClientBroke, ClientRun, run_client
from pixxel_mock.contract.gate import Gate
from pixxel_mock.contract.live import LiveMock
from pixxel_mock.contract.strategies import BehaviourSpace, server_behaviours
from pixxel_mock.server.spec.resources import FIXTURES_DIR
from pixxel_mock.server.spec.yamlio import read_yaml

from .helpers import AGRI, ALPHA, WF_LINEAR

LINEAR = BehaviourSpace.derive(workflows=[WF_LINEAR])


# what the careless client calls: faults on the imagery operations would never reach it
CARELESS_OPERATIONS = ("createJob", "getJob", "downloadJob")


def caught(pixxel_mock, client, **options) -> ClientBroke:
    with pytest.raises(ClientBroke) as failure:
        pixxel_mock.explore(client, **options)
    return failure.value


def test_the_careless_client_crashes_on_a_5xx_envelope(pixxel_mock, tmp_path: Path) -> None:
    space = BehaviourSpace.derive(
        operations=CARELESS_OPERATIONS, statuses=[500, 502, 503, 504], workflows=[WF_LINEAR]
    )
    broke = caught(
        pixxel_mock,
        careless_client.run,
        behaviours=server_behaviours(space=space, revocations=False, scenarios=False),
        allowed_exceptions=(careless_client.CarelessError,),
        max_examples=20,
    )
    assert isinstance(broke.run.error, KeyError)
    (fault,) = broke.run.behaviour["faults"]  # shrunk to a single fault
    assert fault["action"]["status"] >= 500
    assert fault["match"]["requests"] == {"from": 1, "to": 1}
    # the printed behaviour reproduces it on a server of its own
    (tmp_path / "that.json").write_text(json.dumps(broke.run.behaviour))
    scenario = ["--clock", "polls", "--scenario", str(tmp_path / "that.json")]
    with LiveMock(scenario) as server, pytest.raises(KeyError):
        careless_client.run(server.url, ALPHA["Authorization"])


def test_the_careless_client_ignores_retry_after(pixxel_mock) -> None:
    space = BehaviourSpace.derive(
        operations=CARELESS_OPERATIONS, statuses=[429], workflows=[WF_LINEAR]
    )
    broke = caught(
        pixxel_mock,
        careless_client.run,
        behaviours=server_behaviours(
            space=space, retry_after=st.just(1), revocations=False, scenarios=False
        ),
        max_examples=20,
    )
    assert any("Retry-After: 1" in problem for problem in broke.problems), broke.problems
    (fault,) = broke.run.behaviour["faults"]
    assert fault["action"] == {"status": 429, "headers": {"Retry-After": "1"}}


@pytest.mark.parametrize(
    "behaviour",
    [
        read_yaml(FIXTURES_DIR / "scenarios" / "throttled.yaml"),  # a rule naming no operation
        {
            "faults": [
                {"match": {"method": "GET"}, "limit": {"times": 1}, "action": {"status": 429}}
            ]
        },
    ],
    ids=["library-throttled", "429-without-header"],
)
def test_retry_after_is_judged_whatever_the_rule_matches_on(pixxel_mock, behaviour) -> None:
    """The journal keeps no headers: the wait asked for is read from the rules that could
    have answered, including the Retry-After: 1 the mock adds to a bare 429."""
    broke = caught(pixxel_mock, careless_client.run, behaviours=st.just(behaviour), max_examples=1)
    assert any("that said Retry-After: 1" in problem for problem in broke.problems), broke.problems


def test_the_careless_client_loops_forever_on_a_failed_job(pixxel_mock) -> None:
    broke = caught(
        pixxel_mock,
        careless_client.run,
        behaviours=server_behaviours(space=LINEAR, max_faults=0),
        request_budget=25,
        max_examples=30,
    )
    assert "made more than 25 requests" in broke.problems[0]
    behaviour = broke.run.behaviour
    assert behaviour["faults"] == []
    assert list(behaviour["scenario"]) == ["task_failures"]  # nothing else needed
    assert "the client's requests" in str(broke) and '"task_failures"' in str(broke)


def test_the_robust_client_survives_every_behaviour(pixxel_mock) -> None:
    def outcome(run: ClientRun) -> None:
        result = run.returned
        assert isinstance(result, robust_client.Outcome)
        assert result.status != "completed" or result.package_bytes > 0
        failing = run.behaviour["scenario"].get("task_failures")
        if failing and not run.behaviour["faults"]:  # a failed job is reported as such
            assert (result.status, result.detail) == ("failed", failing[0]["err_msg"])

    pixxel_mock.explore(
        robust_client.run, behaviours=server_behaviours(space=LINEAR), check=outcome
    )


def test_the_example_pipeline_client_survives_too(pixxel_mock, tmp_path: Path) -> None:
    def client(base_url: str, key: str) -> dict:
        pipeline = PixxelClient(base_url, key, poll_delay=0.0, max_delay=0.0)
        return run_pipeline(pipeline, WF_LINEAR, AGRI, tmp_path / "job.zip")

    pixxel_mock.explore(
        client,
        behaviours=server_behaviours(space=LINEAR),
        allowed_exceptions=(PixxelError,),  # how it reports a refused request
        max_examples=25,
    )


def test_a_client_past_its_time_cannot_reach_the_next_example(pixxel_mock) -> None:
    """explore gives up on a client at `client_timeout` but cannot stop its thread: the
    call that client makes later, while the next example runs, is refused at its own
    example's shut door, and the next example's journal holds only its own client."""
    released, late_call_made = threading.Event(), threading.Event()
    late_errors: list[Exception] = []

    def overrunning(base_url: str, key: str) -> None:
        released.wait(60)  # still running when its example ends
        try:
            requests.get(f"{base_url}/v0/projects", headers={"Authorization": key}, timeout=10)
        except requests.ConnectionError as exc:
            late_errors.append(exc)
        finally:
            late_call_made.set()

    def next_client(base_url: str, key: str) -> None:
        released.set()
        assert late_call_made.wait(60)
        requests.get(f"{base_url}/v0/workflows", headers={"Authorization": key}, timeout=10)

    key = pixxel_mock.keys["alpha"]
    first = run_client(pixxel_mock, overrunning, key, {}, request_budget=10, client_timeout=0.2)
    second = run_client(pixxel_mock, next_client, key, {}, request_budget=10, client_timeout=60)
    assert not first.finished and second.finished and second.error is None
    assert [entry["path"] for entry in second.requests] == ["/v0/workflows"]
    assert len(late_errors) == 1  # refused: it never reached the mock


def test_the_gate_passes_answers_drops_and_cut_bodies_as_the_mock_sent_them(pixxel_mock) -> None:
    key = {"Authorization": pixxel_mock.keys["alpha"]}
    pixxel_mock.add_fault(
        {"match": {"operation_id": "listProjects"}, "limit": {"times": 1}, "action": {"drop": True}}
    )
    pixxel_mock.add_fault(
        {"match": {"operation_id": "listBlocks"}, "action": {"truncate_bytes": 40}}
    )
    with Gate(pixxel_mock.url, 10) as gate:
        with pytest.raises(requests.ConnectionError):
            requests.get(f"{gate.url}/v0/projects", headers=key)
        with pytest.raises(requests.exceptions.ChunkedEncodingError):
            requests.get(f"{gate.url}/v0/blocks", headers=key)
        through = requests.get(f"{gate.url}/v0/projects", headers=key)
        created = requests.post(
            f"{gate.url}/v0/workflows/{WF_LINEAR}/jobs", params={"project_id": AGRI}, headers=key
        )
    direct = requests.get(f"{pixxel_mock.url}/v0/projects", headers=key)
    assert (through.status_code, through.content) == (direct.status_code, direct.content)
    assert through.headers["Content-Type"] == direct.headers["Content-Type"]
    assert created.status_code == 200 and created.json()["status"] == "queued"
    with pytest.raises(requests.ConnectionError):  # shut: nothing listens there any more
        requests.get(f"{gate.url}/v0/projects", headers=key)
