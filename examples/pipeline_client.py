"""An example Pixxel API client: run a workflow, wait for the job, download its package.

    python examples/pipeline_client.py --base-url http://127.0.0.1:8080 \\
        --key KEY --workflow 0fd630f1-f29d-4da9-953f-48f1a09f76b5 \\
        --project 9531985d-5d9d-49f8-9818-e811892f902b --out job.zip

KEY is your API key or, against the mock, a key of its fixtures/keys.yaml (`pixxel-mock
serve` lists them as it starts).

It does what a careful client of the real API does: estimates the cost first,
polls with exponential backoff, retries throttling (429, honouring Retry-After)
and gateway errors (502/503/504), repeats the download PUT until the package is
ready, and turns 400/403 answers into a clear error.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import requests

RETRIED = {429, 500, 502, 503, 504}
TERMINAL = {"completed", "failed"}


class PixxelError(RuntimeError):
    """An error answer of the API: status, code and message from the error envelope."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message


class PixxelClient:
    def __init__(
        self,
        base_url: str,
        key: str,
        poll_delay: float = 2.0,
        max_delay: float = 30.0,
        attempts: int = 8,
        timeout: float = 30.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()
        self.session.headers["Authorization"] = key
        self.poll_delay, self.max_delay = poll_delay, max_delay
        self.attempts, self.timeout = attempts, timeout

    def _call(
        self, method: str, path: str, body: Any = None, raw: bool = False, **params: str
    ) -> Any:
        """One API call with retries; `body` is sent as JSON; the answer is its JSON (None
        if it has no body), or its bytes if `raw`."""
        delay = self.poll_delay
        for attempt in range(1, self.attempts + 1):
            try:
                response = self.session.request(
                    method,
                    self.base_url + path,
                    params=params or None,
                    json=body,
                    timeout=self.timeout,
                )
            except requests.ConnectionError:
                if attempt == self.attempts:
                    raise
                time.sleep(delay)
                delay = min(delay * 2, self.max_delay)
                continue
            if response.status_code in RETRIED and attempt < self.attempts:
                retry_after = response.headers.get("Retry-After", "")
                time.sleep(float(retry_after) if retry_after.isdigit() else delay)
                delay = min(delay * 2, self.max_delay)
                continue
            if response.status_code >= 400:
                error = _error_of(response)
                raise PixxelError(
                    response.status_code, error.get("code", ""), error.get("message", "")
                )
            if raw:
                return response.content
            return response.json() if response.content else None
        raise AssertionError("unreachable")

    def estimate(self, workflow_id: str) -> int:
        return int(self._call("GET", f"/v0/workflows/{workflow_id}/estimate")["estimated_cost"])

    def create_job(self, workflow_id: str, project_id: str) -> dict[str, Any]:
        return self._call("POST", f"/v0/workflows/{workflow_id}/jobs", project_id=project_id)

    def wait_for_job(
        self, workflow_id: str, job_id: str, deadline: float = 3600.0
    ) -> dict[str, Any]:
        delay, give_up = self.poll_delay, time.monotonic() + deadline
        while True:
            job = self._call("GET", f"/v0/workflows/{workflow_id}/jobs/{job_id}")
            if job["status"] in TERMINAL or time.monotonic() > give_up:
                return job
            time.sleep(delay)
            delay = min(delay * 1.5, self.max_delay)

    def download_job(self, workflow_id: str, job_id: str, deadline: float = 600.0) -> bytes:
        delay, give_up = self.poll_delay, time.monotonic() + deadline
        path = f"/v0/workflows/{workflow_id}/jobs/{job_id}/download"
        while True:
            download = self._call("PUT", path)
            if download["status"] == "ready" and download["signed_url"]:
                package = requests.get(download["signed_url"], timeout=self.timeout)  # no key
                package.raise_for_status()
                return package.content
            if time.monotonic() > give_up:
                raise TimeoutError(f"download {download['id']} is still {download['status']}")
            time.sleep(delay)
            delay = min(delay * 1.5, self.max_delay)


def _error_of(response: requests.Response) -> dict[str, Any]:
    try:
        return response.json().get("error") or {}
    except ValueError:
        return {"code": "http_error", "message": response.text[:200]}


def run_pipeline(
    client: PixxelClient, workflow_id: str, project_id: str, out: Path
) -> dict[str, Any]:
    """Estimate, create, wait, download. Returns the final job; writes the ZIP to `out`."""
    cost = client.estimate(workflow_id)
    job = client.create_job(workflow_id, project_id)
    print(f"job {job['id']} created (estimated cost {cost} credits)")
    job = client.wait_for_job(workflow_id, job["id"])
    print(f"job {job['id']} {job['status']} ({job['progress']})")
    out.write_bytes(client.download_job(workflow_id, job["id"]))
    print(f"package written to {out}")
    return job


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", default="https://api.pixxel.space")
    parser.add_argument("--key", required=True)
    parser.add_argument("--workflow", required=True)
    parser.add_argument("--project", required=True)
    parser.add_argument("--out", type=Path, default=Path("job.zip"))
    args = parser.parse_args(argv)
    try:
        run_pipeline(PixxelClient(args.base_url, args.key), args.workflow, args.project, args.out)
    except PixxelError as exc:
        print(f"the API refused: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
