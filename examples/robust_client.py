"""A robust Pixxel client: what `pixxel_mock.explore` finds nothing against.

It never raises for something the API may do: it retries 429 and 5xx answers
(waiting what Retry-After asks, else a short backoff), bounds every loop, stops on a
`failed` job, and reports the result as an `Outcome` (completed with the package
size, failed with the failing task's message, refused with the error envelope, or
gave up).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import requests

LINEAR_WORKFLOW = "0fd630f1-f29d-4da9-953f-48f1a09f76b5"
AGRI_PROJECT = "9531985d-5d9d-49f8-9818-e811892f902b"
RETRIED = {429, 500, 502, 503, 504}


@dataclass(frozen=True)
class Outcome:
    status: str  # completed | failed | refused | gave_up
    detail: str = ""
    package_bytes: int = 0


class _Stop(Exception):
    def __init__(self, outcome: Outcome) -> None:
        self.outcome = outcome


class RobustClient:
    def __init__(self, base_url: str, key: str, attempts: int = 12, backoff: float = 0.01) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()
        self.session.headers["Authorization"] = key
        self.attempts, self.backoff = attempts, backoff

    def call(self, method: str, path: str, **params: str) -> Any:
        for attempt in range(self.attempts):
            try:
                answer = self.session.request(
                    method, self.base_url + path, params=params or None, timeout=30
                )
            except requests.RequestException as exc:
                raise _Stop(Outcome("gave_up", f"{method} {path}: {exc}")) from exc
            if answer.status_code in RETRIED:
                wait = answer.headers.get("Retry-After", "")
                time.sleep(int(wait) if wait.isdigit() else self.backoff * 2**attempt)
                continue
            body = answer.json()
            if answer.status_code >= 400:
                raise _Stop(Outcome("refused", f"{answer.status_code} {body.get('error')}"))
            return body
        raise _Stop(Outcome("gave_up", f"{method} {path}: {self.attempts} attempts"))

    def run(self, workflow_id: str, project_id: str, max_polls: int = 200) -> Outcome:
        jobs = f"/v0/workflows/{workflow_id}/jobs"
        try:
            job = self.call("POST", jobs, project_id=project_id)
            for _ in range(max_polls):
                if job["status"] in ("completed", "failed"):
                    break
                job = self.call("GET", f"{jobs}/{job['id']}")
            if job["status"] == "failed":
                failed = [t for t in job["tasks"] if t["status"] == "failed"]
                return Outcome("failed", failed[0]["err_msg"] if failed else "")
            if job["status"] != "completed":
                return Outcome("gave_up", f"job still {job['status']} after {max_polls} polls")
            for _ in range(max_polls):
                download = self.call("PUT", f"{jobs}/{job['id']}/download")
                if download["status"] == "ready":
                    package = self.session.get(download["signed_url"], timeout=30)
                    return Outcome("completed", package_bytes=len(package.content))
            return Outcome("gave_up", f"package still pending after {max_polls} PUTs")
        except _Stop as stop:
            return stop.outcome


def run(base_url: str, key: str) -> Outcome:
    return RobustClient(base_url, key).run(LINEAR_WORKFLOW, AGRI_PROJECT)
