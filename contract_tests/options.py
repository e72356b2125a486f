"""What `pixxel-mock contract` was asked, as the suite reads it.

The options are declared once, as the command's argparse options (cli.py); the command
hands them to its pytest run as one JSON value (see suite_plugin.py), which reaches the
pytest-xdist workers with the rest of the command line.
"""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import asdict, dataclass, fields

from pixxel_mock.contract.keys import client_key
from pixxel_mock.server.model.catalog import load_catalog
from pixxel_mock.server.spec.document import ApiSpec
from pixxel_mock.server.spec.resources import API_SPEC, FIXTURES_DIR

OPTION = "--pixxel-contract"  # the suite plugin's one pytest option: ContractOptions as JSON
KEY_VARIABLE = "PIXXEL_API_KEY"
DEFAULT_LIVE_RATE = "10/s"


@dataclass(frozen=True)
class ContractOptions:
    """The command's options that the suite uses; each field is the dest of one of them."""

    base_url: str | None  # None: the in-process mock
    app: str | None  # module:app of another WSGI app to test in-process
    max_examples: int
    seed: int
    allow_writes: bool
    rate_limit: str | None
    stateful_steps: int
    report_dir: str
    scenarios: tuple[str, ...]  # loaded into the in-process mock
    operations: tuple[str, ...]  # the operationIds to test; empty: every one

    def __post_init__(self) -> None:
        for name in ("scenarios", "operations"):  # lists from argparse or JSON
            object.__setattr__(self, name, tuple(getattr(self, name)))

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> ContractOptions:
        return cls(**{field.name: getattr(args, field.name) for field in fields(cls)})

    @classmethod
    def from_json(cls, text: str) -> ContractOptions:
        return cls(**json.loads(text))

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    def selects(self, operation_id: str) -> bool:
        return not self.operations or operation_id in self.operations

    @property
    def in_process(self) -> bool:
        return self.base_url is None

    @property
    def writes_allowed(self) -> bool:
        """Writes (job creation) are on for the in-process mock, opt-in for a live target."""
        return self.in_process or self.allow_writes

    @property
    def api_key(self) -> str:
        """PIXXEL_API_KEY, or in-process the first usable key of the mock's fixtures."""
        key = os.environ.get(KEY_VARIABLE)
        if key:
            return key
        if self.in_process:
            return client_key(load_catalog(FIXTURES_DIR))
        raise RuntimeError(f"set {KEY_VARIABLE} to the API key for {self.base_url}")

    @property
    def effective_rate_limit(self) -> str | None:
        if self.rate_limit is not None:
            return self.rate_limit
        return None if self.in_process else DEFAULT_LIVE_RATE


def unknown_operations(operation_ids: list[str]) -> list[str]:
    """The ids --operation names that the contract lacks (a typo would test nothing)."""
    known = ApiSpec.load(API_SPEC).operations
    return [operation_id for operation_id in operation_ids if operation_id not in known]
