"""Time on the wire: RFC 3339 UTC strings and Go-style durations."""

from __future__ import annotations

import time
from datetime import UTC, datetime


def rfc3339(at: float | None) -> str:
    """Seconds since the epoch as `2026-01-01T12:00:00Z`; None (not happened yet) as "".

    `time.gmtime` rather than a datetime: the same text at half the cost, and a job's
    answer holds a few dozen of these."""
    if at is None:
        return ""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(at)))


def parse_rfc3339(text: str) -> float:
    """Parse an RFC 3339 date-time (or a bare date, as midnight UTC) into epoch seconds."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


def utc_day(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d")


def go_duration(seconds: float | None) -> str:
    """A duration the way Go's time.Duration prints it (`4m5s`), as Pixxel's Go services do."""
    if seconds is None:
        return ""
    total = int(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"
