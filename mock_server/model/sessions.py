"""What every request reads first: its namespace's clock and rules (a Session), and
whether its API key may call the API."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pixxel_mock.server.model.catalog import ApiKey, Catalog
from pixxel_mock.server.model.errors import AccessDenied
from pixxel_mock.server.model.faults import FaultRule, Scenario, merge_scenarios
from pixxel_mock.server.state.cache import BoundedCache
from pixxel_mock.server.state.clock import Clock
from pixxel_mock.server.state.namespaces import Namespaces

BAD_KEY = "Missing, invalid or revoked API key in the Authorization header."
Rules = tuple[tuple[FaultRule, ...], Scenario]


@dataclass(frozen=True)
class Session:
    """One request's view of a namespace: its clock read once, its rules."""

    namespace: str
    clock: Clock
    now: float
    faults: tuple[FaultRule, ...]
    scenario: Scenario

    @property
    def polls_mode(self) -> bool:
        return self.clock.mode == "polls"


@dataclass(frozen=True)
class ServerRules:
    """Rules loaded at start (`--scenario`): they apply in every namespace."""

    faults: tuple[FaultRule, ...] = ()
    scenario: dict[str, Any] = field(default_factory=dict)


class Sessions:
    """Namespaces as requests see them, and the API keys of the catalog."""

    def __init__(
        self,
        catalog: Catalog,
        namespaces: Namespaces,
        server_rules: ServerRules | None = None,
        real_time: Callable[[], float] = time.time,
    ) -> None:
        self._keys = catalog.keys
        self._namespaces = namespaces
        self.server_rules = server_rules or ServerRules()
        self._real_time = real_time
        self._rules: BoundedCache[tuple[str, int], Rules] = BoundedCache(256)

    def session(self, namespace: str) -> Session:
        """Read the namespace once: clock and rule version (rules are cached per version)."""
        row = self._namespaces.row(namespace)
        faults, scenario = self._rules_of(namespace, row.rules_version)
        return Session(namespace, row.clock, row.clock.now(self._real_time()), faults, scenario)

    def fault_rules(self, namespace: str) -> tuple[FaultRule, ...]:
        """The namespace's fault rules, then the server's; no clock read, no Session."""
        return self._rules_of(namespace, self._namespaces.row(namespace).rules_version)[0]

    def _rules_of(self, namespace: str, version: int) -> Rules:
        return self._rules.get_or_make(
            (namespace, version), lambda: self._load_rules(namespace, version)
        )

    def _load_rules(self, namespace: str, version: int) -> Rules:
        own_faults, own_scenario = self._namespaces.rules(namespace) if version else ([], {})
        faults = tuple(FaultRule.from_json(f, "namespace", f["id"]) for f in own_faults)
        scenario = merge_scenarios([self.server_rules.scenario, own_scenario])
        return faults + self.server_rules.faults, Scenario.from_json(scenario)

    def authenticate(self, header: str | None, session: Session) -> ApiKey:
        """Accept `Authorization: <key>` and `Authorization: Bearer <key>`."""
        value = (header or "").strip()
        if value[:7].lower() == "bearer ":
            value = value[7:].strip()
        key = self._keys.get(value)
        if (
            key is None
            or not key.is_active(session.now)
            or session.scenario.revoked(key.key, session.now)
        ):
            raise AccessDenied("forbidden", BAD_KEY)
        return key
