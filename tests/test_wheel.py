"""What `pip install pixxel-mock` gives a user: the built wheel, in a fresh virtualenv in an
empty folder outside the checkout, serves the README's walkthrough and runs the harness."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from pixxel_mock.contract.live import LiveMock

from .helpers import AGRI, ALPHA, REPO, WF_LINEAR, har, har_entry

NOT_SOURCE = (".git", ".venv*", "node_modules", "build", "*.egg-info", "reports", ".*cache")
USER_TEST = f"""
import requests


def test_my_client_against_the_mock(pixxel_mock):
    headers = {{"Authorization": pixxel_mock.keys["alpha"]}}
    base = f"{{pixxel_mock.url}}/v0/workflows/{WF_LINEAR}/jobs"
    job = requests.post(f"{{base}}?project_id={AGRI}", headers=headers).json()
    for _ in range(50):  # the fixture's clock moves on each poll
        job = requests.get(f"{{base}}/{{job['id']}}", headers=headers).json()
        if job["status"] == "completed":
            break
    assert job["status"] == "completed"
    pixxel_mock.assert_no_violations()
"""


# A bound, not a goal: resolving and unpacking the dependencies (rasterio and numpy are
# tens of MB) from pip's cache or the index, on a loaded machine.
INSTALL_SECONDS = 900


@dataclass(frozen=True)
class Install:
    bin: Path  # the fresh virtualenv's bin/
    home: Path  # an empty folder to run in, outside the checkout
    wheel: Path

    def run(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
        return subprocess.run(
            [str(self.bin / args[0]), *args[1:]],
            cwd=self.home,
            env={**env, "PIXXEL_API_KEY": ALPHA["Authorization"]},
            capture_output=True,
            text=True,
            timeout=timeout,
        )


def _lock_as_constraints(target: Path) -> Path:
    """requirements.lock without its hashes: pip resolves the wheel's own declared
    dependencies (so a missing one would fail here), at the locked versions."""
    lines = [
        line.split(" \\")[0]
        for line in (REPO / "requirements.lock").read_text().splitlines()
        if line[:1].isalpha()
    ]
    target.write_text("\n".join(lines) + "\n")
    return target


@pytest.fixture(scope="module")
def install(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Install]:
    root = tmp_path_factory.mktemp("wheel")
    # A copy of the tree: setuptools' build/ keeps stale modules that would land in the
    # wheel, and must not be shared with a concurrent run in the checkout.
    source = root / "source"
    shutil.copytree(REPO, source, symlinks=True, ignore=shutil.ignore_patterns(*NOT_SOURCE))
    build = ["wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(root / "dist")]
    subprocess.run(
        [sys.executable, "-m", "pip", *build, str(source)],
        check=True,
        capture_output=True,
    )
    (wheel,) = (root / "dist").glob("pixxel_mock-*.whl")
    subprocess.run([sys.executable, "-m", "venv", str(root / "venv")], check=True)
    home = root / "user"
    home.mkdir()
    installed = Install(root / "venv" / "bin", home, wheel)
    constraints = _lock_as_constraints(root / "constraints.txt")
    result = installed.run(
        *("python", "-m", "pip", "install", "-q", str(wheel), "-c", str(constraints)),
        timeout=INSTALL_SECONDS,
    )
    assert result.returncode == 0, result.stderr
    yield installed


def test_the_wheel_carries_the_contract_and_the_fixtures(install: Install) -> None:
    names = set(zipfile.ZipFile(install.wheel).namelist())
    for shipped in ("openapi/pixxel.yaml", "openapi/control.yaml", "fixtures/projects.yaml"):
        assert f"pixxel_mock/server/{shipped}" in names
    assert any(n.startswith("pixxel_mock/server/fixtures/scenarios/") for n in names)
    where = install.run(
        "python", "-c", "import pixxel_mock.server.spec.resources as r; print(r.API_SPEC)"
    )
    assert "site-packages" in where.stdout and str(REPO) not in where.stdout


def test_serve_runs_the_readme_walkthrough(install: Install) -> None:
    with LiveMock(
        ["--clock", "manual"], program=[str(install.bin / "pixxel-mock")], cwd=str(install.home)
    ) as server:
        base, job_path = server.url, f"{server.url}/v0/workflows/{WF_LINEAR}"
        listed = requests.get(f"{base}/v0/workflows?project_id={AGRI}", headers=ALPHA)
        assert WF_LINEAR in [w["id"] for w in listed.json()["workflows"]]
        assert requests.get(f"{job_path}/estimate", headers=ALPHA).json() == {"estimated_cost": 18}
        job = requests.post(f"{job_path}/jobs?project_id={AGRI}", headers=ALPHA).json()
        assert job["status"] == "queued"
        requests.post(f"{base}/__mock/clock/advance", json={"seconds": 3600})
        job = requests.get(f"{job_path}/jobs/{job['id']}", headers=ALPHA).json()
        assert (job["status"], job["progress"]) == ("completed", "100%")
        download = f"{job_path}/jobs/{job['id']}/download"
        assert requests.put(download, headers=ALPHA).json()["status"] == "pending"
        requests.post(f"{base}/__mock/clock/advance", json={"seconds": 60})
        ready = requests.put(download, headers=ALPHA).json()
        package = requests.get(ready["signed_url"])
        assert package.status_code == 200
        assert "manifest.json" in zipfile.ZipFile(io.BytesIO(package.content)).namelist()
        for page in ("/", "/docs", "/docs/swagger-ui-bundle.js", "/__mock/ui", "/__mock/jobs"):
            assert requests.get(base + page).status_code == 200, page  # the web face too


WHEEL_OPERATIONS = ("createJob", "getJob", "searchArchive", "createAoi", "createVisualization")


def test_contract_passes_against_the_served_mock(install: Install) -> None:
    with LiveMock(
        ["--speed", "100000"], program=[str(install.bin / "pixxel-mock")], cwd=str(install.home)
    ) as server:
        result = install.run(
            "pixxel-mock",
            "contract",
            f"--base-url={server.url}",
            "--allow-writes",
            "--rate-limit=2000/s",
            "--max-examples=5",
            # the jobs, the archive (its fixtures, the index) and the rasters, from the wheel
            *(f"--operation={operation}" for operation in WHEEL_OPERATIONS),
        )
    assert result.returncode == 0, result.stdout[-3000:]
    assert "pixxel-mock contract summary" in result.stdout


def test_validate_traffic_and_proxy(install: Install) -> None:
    with LiveMock(program=[str(install.bin / "pixxel-mock")], cwd=str(install.home)) as upstream:
        path = f"/v0/workflows?project_id={AGRI}"
        answer = requests.get(upstream.url + path, headers=ALPHA)
        recording = install.home / "traffic.har"
        entry = har_entry("GET", path, ALPHA, answer.status_code, answer.content)
        recording.write_text(json.dumps(har([entry])))
        checked = install.run("pixxel-mock", "validate-traffic", str(recording))
        assert checked.returncode == 0, checked.stdout
        assert "1 exchange(s) checked, 0 violation(s)" in checked.stdout
        with LiveMock(
            ["--upstream", upstream.url],
            command="proxy",
            program=[str(install.bin / "pixxel-mock")],
            cwd=str(install.home),
        ) as proxy:
            assert requests.get(proxy.url + path, headers=ALPHA).content == answer.content
            (seen,) = requests.get(f"{proxy.url}/__mock/requests").json()["requests"]
            assert (seen["path"], seen["violations"]) == ("/v0/workflows", [])


def test_the_fixture_in_a_users_own_test_file(install: Install) -> None:
    (install.home / "test_client.py").write_text(USER_TEST)
    result = install.run("python", "-m", "pytest", "-q", "-p", "no:cacheprovider")
    assert result.returncode == 0, result.stdout[-3000:]
    assert "1 passed" in result.stdout
