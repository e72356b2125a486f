"""A deliberately careless Pixxel client, for `pixxel_mock.explore` to catch. Do not copy it.

It creates a job, polls it and fetches its package, with three bugs that pass every
happy-path test:
- it reads the job out of any answer, so a 5xx error envelope makes it crash (KeyError);
- it retries a 429 at once, ignoring Retry-After;
- it polls until the job is `completed`, so a `failed` job keeps it polling forever.
It does turn a 4xx into its own `CarelessError`, as a caller would expect.
"""

from __future__ import annotations

from typing import Any

import requests

LINEAR_WORKFLOW = "0fd630f1-f29d-4da9-953f-48f1a09f76b5"
AGRI_PROJECT = "9531985d-5d9d-49f8-9818-e811892f902b"


class CarelessError(RuntimeError):
    """A 4xx answer."""


def run(base_url: str, key: str) -> int:
    """Create, wait, download; returns the package size."""
    session = requests.Session()
    session.headers["Authorization"] = key
    jobs = f"{base_url}/v0/workflows/{LINEAR_WORKFLOW}/jobs"

    def call(method: str, url: str, **params: str) -> Any:
        while True:
            answer = session.request(method, url, params=params or None, timeout=30)
            if answer.status_code == 429:
                continue  # bug: Retry-After ignored
            if 400 <= answer.status_code < 500:
                raise CarelessError(answer.text)
            return answer.json()  # bug: a 5xx envelope is taken for the resource

    job = call("POST", jobs, project_id=AGRI_PROJECT)
    while job["status"] != "completed":  # bug: `failed` never ends the loop
        job = call("GET", f"{jobs}/{job['id']}")
    while True:
        download = call("PUT", f"{jobs}/{job['id']}/download")
        if download["status"] == "ready":
            return len(requests.get(download["signed_url"], timeout=30).content)
