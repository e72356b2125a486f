"""Tenant isolation (OWASP API1) and signed URLs, as properties over generated inputs."""

from __future__ import annotations

from urllib.parse import quote, unquote, urlsplit

import pytest
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pixxel_mock.server import create_app
from pixxel_mock.server.model.errors import NO_ACCESS
from pixxel_mock.server.model.sessions import BAD_KEY

from .helpers import AGRI, ALPHA, BETA, KEYS, URBAN, WF_LINEAR, WF_MANY

CALLERS = {**KEYS, "unknown": "pxm_not_a_key"}  # the demo keys, and one no tenant has
OWNER = {WF_LINEAR: ("alpha", AGRI), WF_MANY: ("beta", URBAN)}
UNKNOWN_ID = "11111111-2222-4333-8444-555555555555"
HYPOTHESIS = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture(scope="module")
def world() -> tuple[FlaskClient, dict]:
    """One finished job with a ready download per tenant, created by its owner."""
    app = create_app({"clock_mode": "manual", "validate_responses": True})
    client = app.test_client()
    resources = {}
    for workflow, (owner, project) in OWNER.items():
        headers = {"Authorization": CALLERS[owner]}
        job = client.post(
            f"/v0/workflows/{workflow}/jobs?project_id={project}", headers=headers
        ).json
        resources[workflow] = {
            "owner": owner,
            "project": project,
            "job": job["id"],
            "task": job["tasks"][0]["id"],
        }
    client.post("/__mock/clock/advance", json={"seconds": 100_000})
    for workflow, resource in resources.items():
        headers = {"Authorization": CALLERS[resource["owner"]]}
        path = f"/v0/workflows/{workflow}/jobs/{resource['job']}/download"
        client.put(path, headers=headers)
        client.post("/__mock/clock/advance", json={"seconds": 60})
        resource["signed_url"] = client.put(path, headers=headers).json["signed_url"]
    return client, resources


def attempts(workflow: str, resource: dict, job: str, task: str) -> list[tuple[str, str]]:
    """Every id-taking operation, aimed at (workflow, job, task)."""
    base = f"/v0/workflows/{workflow}"
    return [
        ("GET", f"{base}?project_id={resource['project']}"),
        ("GET", f"{base}/estimate"),
        ("GET", f"{base}/jobs"),
        ("POST", f"{base}/jobs?project_id={resource['project']}"),
        ("GET", f"{base}/jobs/{job}"),
        ("PUT", f"{base}/jobs/{job}/download"),
        ("PUT", f"{base}/jobs/{job}/tasks/{task}/download"),
        ("GET", f"/v0/projects/{resource['project']}"),
        ("GET", f"/v0/workflows?project_id={resource['project']}"),
    ]


@HYPOTHESIS
@given(
    caller=st.sampled_from(sorted(CALLERS)),
    workflow=st.sampled_from(sorted(OWNER)),
    probe=st.sampled_from(["real", "unknown-job", "unknown-task"]),
)
def test_no_key_reaches_another_tenants_resources(
    world, caller: str, workflow: str, probe: str
) -> None:
    client, resources = world
    resource = resources[workflow]
    job = resource["job"] if probe != "unknown-job" else UNKNOWN_ID
    task = resource["task"] if probe != "unknown-task" else UNKNOWN_ID
    headers = {"Authorization": CALLERS[caller]}
    for method, path in attempts(workflow, resource, job, task):
        response = client.open(path, method=method, headers=headers)
        if caller in ("revoked", "unknown"):
            assert response.status_code == 403 and response.json["error"]["message"] == BAD_KEY
        elif caller != resource["owner"]:
            assert response.status_code in (403, 404), (method, path, response.status_code)
            assert "error" in response.json  # no data of the other tenant
            if response.status_code == 403:
                assert response.json["error"]["message"] == NO_ACCESS


def test_the_answer_does_not_reveal_whether_an_id_exists(world) -> None:
    client, resources = world
    beta = BETA
    alpha_job = resources[WF_LINEAR]
    pairs = [
        (
            f"/v0/workflows/{WF_LINEAR}/jobs/{alpha_job['job']}",
            f"/v0/workflows/{WF_LINEAR}/jobs/{UNKNOWN_ID}",
        ),
        (f"/v0/workflows/{WF_LINEAR}/estimate", f"/v0/workflows/{UNKNOWN_ID}/estimate"),
        (f"/v0/projects/{AGRI}", f"/v0/projects/{UNKNOWN_ID}"),
    ]
    for existing, missing in pairs:
        a, b = client.get(existing, headers=beta), client.get(missing, headers=beta)
        assert (a.status_code, a.data) == (b.status_code, b.data)


def test_signed_urls_do_not_cross_tenants(world) -> None:
    """A URL serves exactly its own package: ids swapped between tenants' URLs are refused."""
    client, resources = world
    alpha_url = resources[WF_LINEAR]["signed_url"]
    beta_url = resources[WF_MANY]["signed_url"]
    a, b = urlsplit(alpha_url), urlsplit(beta_url)
    crossed = [f"{a.path}?{b.query}", f"{b.path}?{a.query}"]
    for url in crossed:
        assert client.get(url).status_code == 403
    assert client.get(f"{a.path}?{a.query}").status_code == 200


def _mutations(url: str) -> list[str]:
    parts = urlsplit(url)
    path, query = parts.path, parts.query
    expires, signature = (item.split("=", 1)[1] for item in query.split("&"))
    prefix, namespace, name = path.rsplit("/", 2)
    download_id = name.removesuffix(".zip")
    flipped = signature[:-1] + ("0" if signature[-1] != "0" else "1")
    return [
        f"{path}?expires={int(expires) + 1}&signature={signature}",
        f"{path}?expires={int(expires) - 1}&signature={signature}",
        f"{path}?expires={expires}&signature={flipped}",
        f"{path}?expires={expires}&signature={signature.upper()}",
        f"{path}?expires={expires}&signature={signature[:-2]}",
        f"{path}?expires={expires}&signature=",
        f"{path}?expires={expires}",
        f"{path}?signature={signature}",
        f"{prefix}/{namespace}/{download_id.upper()}.zip?{query}",
        f"{prefix}/{namespace.upper()}/{name}?{query}",
        f"{prefix}/other/{name}?{query}",
        f"{prefix}/{namespace}/{download_id[:-1]}0.zip?{query}",
        f"{prefix}/{namespace}/{quote(download_id, safe='')}%2e.zip?{query}",
        f"{path}?expires=0{expires}&signature={signature}",
        f"{path}?expires={expires}.0&signature={signature}",
        f"{path}?expires={expires}&signature={signature}&signature={signature}",
        f"{path}?expires={quote(expires)}%20&signature={signature}",
        f"{path}?expires={expires}&signature={signature}%00",
    ]


@HYPOTHESIS
@given(
    position=st.integers(0, 200),
    replacement=st.characters(codec="ascii", exclude_characters="?&=#/%"),
)
def test_any_single_character_change_is_refused(world, position: int, replacement: str) -> None:
    client, resources = world
    url = resources[WF_LINEAR]["signed_url"].removeprefix("http://localhost")
    index = position % len(url)
    mutated = url[:index] + replacement + url[index + 1 :]
    if unquote(mutated) == unquote(url):
        return
    response = client.get(mutated)
    assert response.status_code in (400, 403, 404, 405), (mutated, response.status_code)


def test_every_listed_mutation_is_refused(world) -> None:
    client, resources = world
    for workflow in OWNER:
        url = resources[workflow]["signed_url"].removeprefix("http://localhost")
        refused = [m for m in _mutations(url) if client.get(m).status_code in (400, 403, 404)]
        assert refused == _mutations(url)  # 100%


def test_a_url_expires_exactly_at_its_expiry() -> None:
    app = create_app({"clock_mode": "manual", "url_ttl_seconds": 600})
    client = app.test_client()
    alpha = ALPHA
    job = client.post(f"/v0/workflows/{WF_LINEAR}/jobs?project_id={AGRI}", headers=alpha).json
    client.post("/__mock/clock/advance", json={"seconds": 100_000})
    path = f"/v0/workflows/{WF_LINEAR}/jobs/{job['id']}/download"
    client.put(path, headers=alpha)
    client.post("/__mock/clock/advance", json={"seconds": 60})
    url = client.put(path, headers=alpha).json["signed_url"].removeprefix("http://localhost")
    expires = int(url.split("expires=")[1].split("&")[0])
    now = client.get("/__mock/clock").json["epoch"]
    client.post("/__mock/clock/advance", json={"seconds": expires - now - 0.001})
    assert client.get(url).status_code == 200  # a millisecond before
    client.post("/__mock/clock/advance", json={"seconds": 0.001})
    assert client.get(url).status_code == 403  # at the expiry
