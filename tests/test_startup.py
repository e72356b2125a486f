"""What start-up relies on: `pixxel-mock serve` builds the app once, in the master, and
forks the workers from it; the specs load from a parsed copy in the user's cache.

What must not cross a fork stays per process: the master forks with no SQLite
connection open, each worker opens its own on the shared state file, and workers that
replace killed ones serve the same state from the app they inherit.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import time
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
from gunicorn.asgi.protocol import ASGIProtocol
from gunicorn.workers import gasgi

from pixxel_mock.contract.live import LiveMock
from pixxel_mock.server.serving.bridge import GunicornMismatch, check_gunicorn_hooks
from pixxel_mock.server.serving.gunicorn import EmbeddedGunicorn, run_gunicorn
from pixxel_mock.server.spec.resources import API_SPEC, CONTROL_SPEC
from pixxel_mock.server.spec.yamlio import COPIES_KEPT, read_yaml, read_yaml_cached

from .helpers import AGRI, ALPHA, WF_LINEAR

READS_PROC = pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="reads /proc")


def _open_files(pid: int) -> set[str]:
    names = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):  # closed since listed
            names.add(os.readlink(fd))
    return names


def _workers(master: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                parent = (entry / "stat").read_text().rsplit(")", 1)[1].split()[1]
                if int(parent) == master:
                    found.add(int(entry.name))
    return found


def _until(condition: Callable[[], bool], seconds: float = 30.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _answers(url: str) -> bool:
    try:
        return requests.get(f"{url}/ping").status_code == 200
    except requests.ConnectionError:
        return False


def _database_files(files: set[str], state: Path) -> set[str]:
    return files & {str(state), f"{state}-wal", f"{state}-shm"}


@READS_PROC
def test_the_master_forks_without_a_connection_and_new_workers_serve_the_same_state(
    tmp_path: Path,
) -> None:
    state = tmp_path / "state.sqlite"
    args = ["--validate-responses", "--workers", "2", "--clock", "manual"]
    with LiveMock([*args, "--state-file", str(state)]) as live:
        created = requests.post(
            f"{live.url}/v0/workflows/{WF_LINEAR}/jobs?project_id={AGRI}", headers=ALPHA
        )
        assert created.status_code == 200, created.text
        job_url = f"{live.url}/v0/workflows/{WF_LINEAR}/jobs/{created.json()['id']}"
        before = requests.get(job_url, headers=ALPHA).json()

        master = live.process.pid
        assert _database_files(_open_files(master), state) == set()
        assert _until(lambda: len(_workers(master)) == 2)
        first = _workers(master)
        assert any(_database_files(_open_files(pid), state) for pid in first)

        for pid in first:
            os.kill(pid, signal.SIGKILL)
        assert _until(lambda: len(_workers(master) - first) == 2)
        assert _until(lambda: _answers(live.url))  # a replacement listens

        after = requests.get(job_url, headers=ALPHA)
        assert after.status_code == 200, after.text
        assert after.json() == before
        assert _database_files(_open_files(master), state) == set()


@READS_PROC
def test_a_temporary_state_file_outlives_the_workers_and_goes_with_the_server() -> None:
    with LiveMock(["--workers", "2"]) as live:
        assert _until(lambda: "(temporary)" in "".join(live.output))
        state = Path(re.search(r"state: (\S+) \(temporary\)", "".join(live.output)).group(1))
        created = requests.post(
            f"{live.url}/v0/workflows/{WF_LINEAR}/jobs?project_id={AGRI}", headers=ALPHA
        ).json()
        master = live.process.pid
        assert _until(lambda: len(_workers(master)) == 2)
        first = _workers(master)
        for pid in first:
            os.kill(pid, signal.SIGTERM)  # a worker's clean exit unwinds through `run_mock_server`
        assert _until(lambda: len(_workers(master) - first) == 2)
        assert _until(lambda: _answers(live.url))
        job_url = f"{live.url}/v0/workflows/{WF_LINEAR}/jobs/{created['id']}"
        assert requests.get(job_url, headers=ALPHA).status_code == 200
        assert state.exists()
        assert live.stop() == 0
    assert not state.parent.exists()


def _connections(pid: int, port: int) -> int:
    """The process's established connections on the server's port (/proc/net/tcp)."""
    inodes = {name[8:-1] for name in _open_files(pid) if name.startswith("socket:[")}
    established = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].split(":")[1], 16) == port and fields[3] == "01":
            established.add(fields[9])
    return len(inodes & established)


@READS_PROC
def test_clients_that_connect_at_the_banner_reach_every_worker() -> None:
    """gunicorn forks the workers up to 100 ms apart, each with its own listening socket;
    keep-alive clients that connect as the banner appears must find them all."""
    with LiveMock(["--workers", "2"]) as live:
        host, port = live.url.removeprefix("http://").split(":")
        with contextlib.ExitStack() as stack:
            for _ in range(16):
                client = stack.enter_context(socket.create_connection((host, int(port))))
                client.sendall(b"GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
                assert client.recv(4096).startswith(b"HTTP/1.1 200")  # accepted by a worker
            assert _until(lambda: len(_workers(live.process.pid)) == 2)
            counts = [_connections(pid, int(port)) for pid in _workers(live.process.pid)]
            assert sum(counts) == 16 and 0 not in counts, counts  # 16 on one: 2 in 65,536


# -- gunicorn's private hooks (bridge.MockProtocol) -----------------------------------


def _stand_in(without: str = "", **changed: Callable[..., Any]) -> type:
    """gunicorn's ASGIProtocol as a release without one method, or with others changed."""
    kept = {k: v for k, v in vars(ASGIProtocol).items() if not k.startswith("__") and k != without}
    return type("ASGIProtocol", (), {**kept, **changed})


def test_the_installed_gunicorn_has_every_hook() -> None:
    check_gunicorn_hooks()


@pytest.mark.parametrize(
    "hook", ["_build_http_scope", "_send_error_response", "_safe_write", "connection_made"]
)
def test_a_gunicorn_without_a_hook_is_refused_naming_it(hook: str) -> None:
    with pytest.raises(GunicornMismatch, match=rf"ASGIProtocol\.{hook} \(missing\)"):
        check_gunicorn_hooks(_stand_in(without=hook))
    check_gunicorn_hooks(_stand_in())  # the stand-in is otherwise whole


def test_a_hook_that_takes_other_parameters_is_refused_naming_them() -> None:
    def scope(self: Any, request: Any, sockname: Any, peername: Any, stream: Any) -> Any: ...

    with pytest.raises(
        GunicornMismatch,
        match=r"_build_http_scope \(takes \(self, request, sockname, peername, stream\)",
    ):
        check_gunicorn_hooks(_stand_in(_build_http_scope=scope))


def test_a_worker_that_no_longer_names_its_protocol_is_refused() -> None:
    worker = types.ModuleType("gunicorn.workers.gasgi")
    with pytest.raises(GunicornMismatch, match=r"gunicorn\.workers\.gasgi\.ASGIProtocol"):
        check_gunicorn_hooks(ASGIProtocol, worker)


def test_the_server_checks_the_hooks_before_it_serves(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(gasgi, "ASGIProtocol")
    monkeypatch.setattr(EmbeddedGunicorn, "run", lambda self: pytest.fail("served unchecked"))
    with pytest.raises(GunicornMismatch, match="ASGIProtocol"):
        run_gunicorn(lambda: pytest.fail("built unchecked"), "127.0.0.1:0", 1, str)


# -- the specs' parsed copies (yamlio.read_yaml_cached) ------------------------------


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    return tmp_path / "xdg" / "pixxel-mock"


def test_a_spec_is_read_from_its_copy_until_the_source_changes(tmp_path: Path, cache: Path) -> None:
    spec = tmp_path / "pixxel.yaml"
    spec.write_text(API_SPEC.read_text(encoding="utf-8"), encoding="utf-8")
    assert read_yaml_cached(spec) == read_yaml(spec)
    (copy,) = cache.iterdir()
    copy.write_text('{"read": "from the copy"}')
    assert read_yaml_cached(spec) == {"read": "from the copy"}

    spec.write_text(spec.read_text(encoding="utf-8").replace("Pixxel", "Edited"), "utf-8")
    edited = read_yaml_cached(spec)
    assert edited == read_yaml(spec) and "Edited" in edited["info"]["title"]
    assert len(list(cache.glob("pixxel.yaml-*.json"))) == 2

    for damaged in cache.iterdir():
        damaged.write_text('{"truncat')
    assert read_yaml_cached(spec) == edited


def test_what_json_cannot_carry_is_parsed_each_time(tmp_path: Path, cache: Path) -> None:
    source = tmp_path / "dated.yaml"
    source.write_text("created: 2026-03-06T10:00:00Z\n200: ok\n")
    document = read_yaml_cached(source)
    assert document == read_yaml(source)
    assert set(map(type, document)) == {str, int}
    assert not cache.exists()


def test_only_the_newest_copies_of_a_name_are_kept(tmp_path: Path, cache: Path) -> None:
    source = tmp_path / "control.yaml"
    for version in range(COPIES_KEPT + 3):
        source.write_text(f"version: {version}\n")
        assert read_yaml_cached(source) == {"version": version}
    assert len(list(cache.glob("control.yaml-*.json"))) == COPIES_KEPT


def test_an_unwritable_cache_only_costs_the_parse(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    not_a_directory = tmp_path / "file"
    not_a_directory.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(not_a_directory))
    assert read_yaml_cached(CONTROL_SPEC) == read_yaml(CONTROL_SPEC)
