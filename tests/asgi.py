"""One HTTP request through an `InlineBridge`, as gunicorn's asyncio worker makes it."""

from __future__ import annotations

from typing import Any

from pixxel_mock.server.serving.bridge import InlineBridge


async def asgi_request(
    bridge: InlineBridge,
    method: str,
    path: str,
    query: str = "",
    headers: tuple[tuple[bytes, bytes], ...] = (),
    body: bytes = b"",
) -> tuple[int, bytes]:
    """The answer's status and body."""
    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "headers": list(headers),
        "scheme": "http",
        "http_version": "1.1",
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await bridge(scope, receive, send)
    answer = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return sent[0]["status"], answer
