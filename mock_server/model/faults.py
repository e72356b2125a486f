"""Fault rules and domain scenarios: what to break, when, and how, as pure values.

A rule matches requests (method, path template, operationId, key), counts its
matches per namespace, and fires on some of them (`times`, `after`, `every`,
`probability`, a `requests` window). Whether the Nth match fires, which status it
answers and how long it waits all derive from (seed, namespace, rule, N): the same
seed and the same calls give the same faults, whichever worker serves them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pixxel_mock.server.model.catalog import TaskFailure
from pixxel_mock.server.model.ids import unit_interval
from pixxel_mock.server.model.lifecycle import JobOverrides
from pixxel_mock.server.model.replay import ReplaySettings
from pixxel_mock.server.model.timefmt import parse_rfc3339, rfc3339

NO_BODY = object()
DEFAULT_RETRY_AFTER = "1"  # seconds, on a 429 whose rule sets no Retry-After
DEFAULT_INSIGHT_ERROR = "Insight processing failed: the block stopped with a runtime error."


@dataclass(frozen=True)
class Delay:
    fixed_ms: float | None = None
    uniform_ms: tuple[float, float] | None = None
    median_ms: float | None = None
    sigma: float = 0.0

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> Delay | None:
        if not data:
            return None
        lognormal = data.get("lognormal") or {}
        uniform = data.get("uniform_ms")
        return cls(
            fixed_ms=data.get("fixed_ms"),
            uniform_ms=(float(uniform[0]), float(uniform[1])) if uniform else None,
            median_ms=lognormal.get("median_ms"),
            sigma=float(lognormal.get("sigma", 0.0)),
        )

    def seconds(self, *seed: object) -> float:
        """The delay for one request, drawn from the seed."""
        if self.fixed_ms is not None:
            return self.fixed_ms / 1000
        u = unit_interval("delay", *seed)
        if self.uniform_ms is not None:
            low, high = sorted(self.uniform_ms)
            return (low + (high - low) * u) / 1000
        if self.median_ms is not None:
            normal = _standard_normal(u, unit_interval("delay2", *seed))
            return min(self.median_ms * math.exp(self.sigma * normal), 60_000) / 1000
        return 0.0


def _standard_normal(u1: float, u2: float) -> float:
    """Box-Muller from two uniforms in [0, 1)."""
    return math.sqrt(-2 * math.log(1 - u1)) * math.cos(2 * math.pi * u2)


@dataclass(frozen=True)
class FaultAction:
    statuses: tuple[int, ...] = ()
    body: Any = NO_BODY
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: Delay | None = None
    drop: bool = False
    truncate_bytes: int | None = None

    def retry_after(self, status: int) -> str | None:
        """The Retry-After sent with `status`: the rule's own, and a 429 always has one."""
        given = self.headers.get("Retry-After")
        return given if given is not None or status != 429 else DEFAULT_RETRY_AFTER

    def status(self, *seed: object) -> int | None:
        if not self.statuses:
            return None
        return self.statuses[int(unit_interval("status", *seed) * len(self.statuses))]


@dataclass(frozen=True)
class FaultRule:
    id: str
    scope: str  # "namespace" (control API) or "server" (--scenario)
    document: Mapping[str, Any]  # as given, for listing
    method: str | None
    path: str | None
    operation_id: str | None
    key: str | None
    window: tuple[int, int | None] | None
    times: int | None
    after: int | None
    every: int | None
    probability: float | None
    action: FaultAction

    @classmethod
    def from_json(cls, data: Mapping[str, Any], scope: str, default_id: str) -> FaultRule:
        match = data.get("match") or {}
        limit = data.get("limit") or {}
        action = data["action"]
        statuses = tuple(
            action.get("statuses") or ([action["status"]] if "status" in action else [])
        )
        window = match.get("requests")
        return cls(
            id=str(data.get("id") or default_id),
            scope=scope,
            document={**data, "id": str(data.get("id") or default_id)},
            method=match.get("method"),
            path=match.get("path"),
            operation_id=match.get("operation_id"),
            key=match.get("key"),
            window=(int(window.get("from", 1)), window.get("to")) if window else None,
            times=limit.get("times"),
            after=limit.get("after"),
            every=limit.get("every"),
            probability=limit.get("probability"),
            action=FaultAction(
                statuses=statuses,
                body=action.get("body", NO_BODY),
                headers=dict(action.get("headers") or {}),
                delay=Delay.from_json(action.get("delay")),
                drop=bool(action.get("drop", False)),
                truncate_bytes=action.get("truncate_bytes"),
            ),
        )

    def applies_to(self, method: str, path: str, operation_id: str, secured: bool) -> bool:
        """Whether the rule can match this operation at all (the request's key aside).

        A rule naming a key matches only operations that take one: a key revoked from
        its Nth request on makes every secured call answer 403, and /ping stays up."""
        return (
            (self.method is None or self.method == method)
            and (self.path is None or self.path == path)
            and (self.operation_id is None or self.operation_id == operation_id)
            and (self.key is None or secured)
        )

    def matches(
        self, method: str, path: str, operation_id: str, secured: bool, key: str | None
    ) -> bool:
        return self.applies_to(method, path, operation_id, secured) and (
            self.key is None or self.key == key
        )

    def fires(self, count: int, *seed: object) -> bool:
        """Whether the `count`-th match (1-based) of this rule fires."""
        if self.window is not None:
            low, high = self.window
            if count < low or (high is not None and count > high):
                return False
        if self.times is not None:
            return count <= self.times
        if self.after is not None:
            return count >= self.after
        if self.every is not None:
            return count % self.every == 0
        if self.probability is not None:
            return unit_interval("fires", *seed, self.id, count) < self.probability
        return True


@dataclass(frozen=True)
class Scenario:
    """Domain scenarios: failing tasks, slow jobs, slow packages, short URLs, revoked keys,
    AOIs and visualizations that fail, AOI downloads that wait, insights that fail,
    insight packages that wait, tasking that fails or is partial, deliveries that fail,
    a recording to replay."""

    task_failures: tuple[Mapping[str, Any], ...] = ()
    slow_jobs: tuple[Mapping[str, Any], ...] = ()
    pending_seconds: float | None = None
    pending_polls: int | None = None
    aoi_outcomes: tuple[Mapping[str, Any], ...] = ()
    visualization_outcomes: tuple[Mapping[str, Any], ...] = ()
    aoi_download_seconds: float = 0.0
    aoi_download_polls: int = 0
    insight_failures: tuple[Mapping[str, Any], ...] = ()
    insight_download_seconds: float | None = None
    insight_download_polls: int | None = None
    order_outcomes: tuple[Mapping[str, Any], ...] = ()
    delivery_outcomes: tuple[Mapping[str, Any], ...] = ()
    url_ttl_seconds: int | None = None
    revocations: Mapping[str, float] = field(default_factory=dict)
    replay: ReplaySettings | None = None
    document: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> Scenario:
        data = data or {}
        downloads = data.get("downloads") or {}
        aoi_downloads = data.get("aoi_downloads") or {}
        insight_downloads = data.get("insight_downloads") or {}
        return cls(
            task_failures=tuple(data.get("task_failures") or ()),
            slow_jobs=tuple(data.get("slow_jobs") or ()),
            pending_seconds=downloads.get("pending_seconds"),
            pending_polls=downloads.get("pending_polls"),
            aoi_outcomes=tuple(data.get("aoi_outcomes") or ()),
            visualization_outcomes=tuple(data.get("visualization_outcomes") or ()),
            aoi_download_seconds=float(aoi_downloads.get("pending_seconds", 0.0)),
            aoi_download_polls=int(aoi_downloads.get("pending_polls", 0)),
            insight_failures=tuple(data.get("insight_failures") or ()),
            insight_download_seconds=insight_downloads.get("pending_seconds"),
            insight_download_polls=insight_downloads.get("pending_polls"),
            order_outcomes=tuple(data.get("order_outcomes") or ()),
            delivery_outcomes=tuple(data.get("delivery_outcomes") or ()),
            url_ttl_seconds=(data.get("signed_urls") or {}).get("ttl_seconds"),
            revocations={
                r["key"]: parse_rfc3339(r["at"]) for r in data.get("key_revocations") or ()
            },
            replay=ReplaySettings.from_json(data.get("replay")),
            document=dict(data),
        )

    def overrides_for(self, workflow_id: str, job_id: str) -> JobOverrides:
        def applies(entry: Mapping[str, Any]) -> bool:
            return (
                entry.get("workflow_id", workflow_id) == workflow_id
                and entry.get("job_id", job_id) == job_id
            )

        failures = {
            e["task"]: TaskFailure(e["failure_type"], e["err_msg"])
            for e in self.task_failures
            if applies(e)
        }
        factor = 1.0
        for entry in self.slow_jobs:
            if applies(entry):
                factor *= float(entry["factor"])
        return JobOverrides.of(slow_factor=factor, failures=failures)

    def aoi_outcome(self, project_id: str, name: str) -> str:
        """How a new AOI's processing ends: the last matching entry's outcome, or success."""
        return _outcome(self.aoi_outcomes, project_id=project_id, name=name)

    def visualization_outcome(self, project_id: str, index_name: str) -> str:
        """How a new visualization ends: the last matching entry's outcome, or success."""
        return _outcome(self.visualization_outcomes, project_id=project_id, index_name=index_name)

    def insight_failure(self, block: str, aoi_id: str) -> str:
        """The err_msg a new insight fails with ("" = it completes): the last entry that
        matches its block and AOI."""
        err_msg = ""
        for entry in self.insight_failures:
            if entry.get("block", block) == block and entry.get("aoi_id", aoi_id) == aoi_id:
                err_msg = str(entry.get("err_msg") or DEFAULT_INSIGHT_ERROR)
        return err_msg

    def order_outcome(self, project_id: str, name: str) -> str:
        """How a new tasking item ends (success, weak_feasibility, infeasible, cloudy,
        expired): the last entry matching its project and name, or success."""
        return _outcome(self.order_outcomes, project_id=project_id, name=name)

    def delivery_outcome(self, store_name: str) -> str:
        """How deliveries to a store end from now on (success or failed)."""
        return _outcome(self.delivery_outcomes, store_name=store_name)

    def revoked(self, key: str, at: float) -> bool:
        revoked_at = self.revocations.get(key)
        return revoked_at is not None and at >= revoked_at


def _outcome(entries: Sequence[Mapping[str, Any]], **facts: str) -> str:
    """The outcome of the last entry whose every named fact matches, or success."""
    outcome = "success"
    for entry in entries:
        if all(entry.get(name, value) == value for name, value in facts.items()):
            outcome = str(entry["outcome"])
    return outcome


def with_absolute_times(scenario: Mapping[str, Any], now: float) -> dict[str, Any]:
    """Turn `after_seconds` revocations into `at` times, counted from `now`."""
    revocations = [
        {"key": r["key"], "at": r.get("at") or rfc3339(now + float(r["after_seconds"]))}
        for r in scenario.get("key_revocations") or ()
    ]
    return {**scenario, "key_revocations": revocations} if revocations else dict(scenario)


def merge_scenarios(scenarios: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Later scenarios add to lists and override settings of earlier ones."""
    merged: dict[str, Any] = {}
    for scenario in scenarios:
        for key, value in scenario.items():
            if isinstance(value, list):
                merged[key] = [*merged.get(key, []), *value]
            elif isinstance(value, dict):
                merged[key] = {**merged.get(key, {}), **value}
            else:
                merged[key] = value
    return merged
