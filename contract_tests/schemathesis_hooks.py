"""schemathesis hooks for a plain `schemathesis run` of the contract (schemathesis.toml loads
them): the one built-in check whose expectation a configuration file cannot change.

schemathesis's `missing_required_header` expects 401 when the `Authorization` header is
missing, whatever its configuration says; Pixxel documents 403 for a missing, unknown or
revoked key. This registers, in place of the upstream one, a check of the same name (so
`--checks all` and `--checks missing_required_header` select it): the same rule (a request without a required header is refused), with
the documented status for the key and the upstream behaviour for every other header.
"""

from __future__ import annotations

from typing import Any

import schemathesis
from schemathesis.checks import CHECKS
from schemathesis.core.parameters import ParameterLocation
from schemathesis.generation.meta import CoveragePhaseData, CoverageScenario
from schemathesis.openapi.checks import MissingHeaderNotRejected
from schemathesis.specs.openapi import checks as upstream

MISSING_KEY_STATUS = 403  # Pixxel's answer to a request without a key


def omits_the_key(case: Any) -> bool:
    """Whether the case is schemathesis's probe without the `Authorization` header."""
    data = case.meta.phase.data if case.meta is not None else None
    return (
        isinstance(data, CoveragePhaseData)
        and data.scenario == CoverageScenario.MISSING_PARAMETER
        and data.parameter_location == ParameterLocation.HEADER
        and (data.parameter or "").lower() == "authorization"
    )


CHECKS.unregister(upstream.missing_required_header.__name__)  # a name is registered once


@schemathesis.check
def missing_required_header(ctx: Any, response: Any, case: Any) -> bool | None:
    """A request without a required header is refused; without the key, with 403."""
    if not omits_the_key(case):
        return upstream.missing_required_header(ctx, response, case)
    if response.status_code != MISSING_KEY_STATUS:
        raise MissingHeaderNotRejected(
            operation=f"{case.method} {case.path}",
            header_name="Authorization",
            status_code=response.status_code,
            expected_statuses=[MISSING_KEY_STATUS],
            message=(
                f"Got {response.status_code} when missing the 'Authorization' header,"
                f" expected {MISSING_KEY_STATUS} (Pixxel's documented answer)"
            ),
        )
    return None
