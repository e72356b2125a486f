"""Who may call an operation, and in which namespace: the steps of the pipeline that
read the caller's identity from the request."""

from __future__ import annotations

import hmac
import ipaddress
import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from flask import Request

from pixxel_mock.server.handling import DEFAULT_NAMESPACE, ApiError, state_of
from pixxel_mock.server.model.catalog import ApiKey
from pixxel_mock.server.model.sessions import Session
from pixxel_mock.server.spec.document import Operation

if TYPE_CHECKING:
    from pixxel_mock.server.app.instance import MockInstance

NAMESPACE_HEADER = "X-Mock-Session"
# the hot path reads its headers (this one, Prefer, Authorization) from the WSGI environ
# by their PEP 3333 names, not through werkzeug's header view
NAMESPACE_KEY = "HTTP_" + NAMESPACE_HEADER.upper().replace("-", "_")
CONTROL_TOKEN_HEADER = "X-Mock-Token"
_NAMESPACE = re.compile(r"[A-Za-z0-9._-]{1,64}")

Guard = Callable[[Operation, "MockInstance", Session, Request], ApiKey | None]


def api_guard(
    operation: Operation, instance: MockInstance, session: Session, request: Request
) -> ApiKey | None:
    """The API key check of the Pixxel API: missing, unknown or revoked keys are 403."""
    if not operation.secured:
        return None
    header = request.environ.get("HTTP_AUTHORIZATION")
    if header is None:
        state_of(request.environ).violations.append(
            "missing Authorization header (security scheme ApiKeyAuth)"
        )
    return instance.sessions.authenticate(header, session)


def control_guard(
    operation: Operation, instance: MockInstance, session: Session, request: Request
) -> ApiKey | None:
    """Loopback clients only, unless a control token is configured: then the token only."""
    if not operation.secured:
        return None
    token = instance.config.control_token
    if token is None:
        if not is_loopback(request.remote_addr):
            raise ApiError(
                403,
                "control_forbidden",
                "The control API answers only loopback clients unless started with a token.",
            )
        return None
    given = request.headers.get(CONTROL_TOKEN_HEADER, "")
    if not hmac.compare_digest(given.encode("utf-8", "replace"), token.encode()):
        raise ApiError(
            403,
            "control_forbidden",
            f"Send the control token in the {CONTROL_TOKEN_HEADER} header.",
        )
    return None


def is_loopback(address: str | None) -> bool:
    try:
        return ipaddress.ip_address((address or "").split("%")[0]).is_loopback
    except ValueError:
        return False


def namespace_of(header: str | None) -> str:
    """The namespace a request names in `X-Mock-Session` (the default one without it)."""
    if header is None:
        return DEFAULT_NAMESPACE
    if not _NAMESPACE.fullmatch(header):
        raise ApiError(
            400,
            "invalid_parameter",
            f'Header "{NAMESPACE_HEADER}" must be 1-64 letters, digits, ".", "_" or "-".',
            {"parameter": NAMESPACE_HEADER, "in": "header"},
        )
    return header
