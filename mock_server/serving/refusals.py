"""gunicorn's own refusals (a request line or header it cannot parse) in the error envelope.

gunicorn answers those before the app sees the request, with a page of its own;
bridge.MockProtocol writes these instead, so a client always gets the documented JSON
envelope, with a documented status (400, or 403 for gunicorn's 403s).
"""

from __future__ import annotations

from pixxel_mock.server.handling import ApiError, to_json


def error_bytes(status: int, reason: str, message: str) -> bytes:
    """The whole answer, head and envelope; the connection closes after it."""
    status = status if status in (400, 403, 500) else 400
    code = {400: "bad_request", 403: "forbidden", 500: "internal_error"}[status]
    body = to_json(ApiError(status, code, f"{reason}: {message}").body())
    head = (
        f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("latin-1") + body
