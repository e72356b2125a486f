"""A recording as a scenario: each distinct request gets its recorded answers in order.

Why per request and not per resource: the real service's answers to the same
request (a job GET, a download PUT) form the sequence the client saw (queued,
running, failed; pending, ready; a 500 in the middle), so replaying the n-th
answer to the n-th identical request reproduces the incident poll by poll, then
stays at the last answer. On the recorded timing instead, the answer is the last
one recorded at or before the same time since the start of the recording.
Counting is the caller's job (it must be shared by the server's worker
processes); this module only knows the recording.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from pixxel_mock.server.model.timefmt import parse_rfc3339

VOLATILE_QUERY = {"signature", "expires"}  # signed-URL parts: redacted in recordings
TIMINGS = ("polls", "recorded")
SIGNED_URL = re.compile(rb'"signed_url"\s*:\s*"((?:[^"\\]|\\.)+)"')


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: str
    body: bytes


@dataclass(frozen=True)
class RecordedAnswer:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    offset: float = 0.0  # seconds after the recording's first exchange
    signed_urls: tuple[tuple[bytes, str], ...] = ()  # (URL as in the body, its package)


@dataclass(frozen=True)
class ReplaySettings:
    """A namespace's replay: which recording, how strictly, on which timing, since when."""

    recording: str
    strict: bool = False
    timing: str = "polls"
    started: float = 0.0  # simulated time the replay began

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> ReplaySettings | None:
        if not data:
            return None
        started = data.get("started")
        return cls(
            recording=str(data["recording"]),
            strict=bool(data.get("strict", False)),
            timing=str(data.get("timing", "polls")),
            started=parse_rfc3339(started) if started else 0.0,
        )

    @property
    def counter_prefix(self) -> str:
        """Match counts of this replay: a replay applied again starts from the first answer."""
        return f"replay:{self.recording}:{self.started}:"


def request_key(request: RecordedRequest) -> str:
    """The identity of a request for replay: method, path, sorted query, canonical JSON body.

    Headers do not count (the key is redacted in recordings), nor do signed-URL signatures.
    """
    query = sorted(
        (k, v)
        for k, v in parse_qsl(request.query, keep_blank_values=True)
        if k not in VOLATILE_QUERY
    )
    try:
        body = json.dumps(json.loads(request.body), sort_keys=True) if request.body else ""
    except ValueError:
        body = hashlib.sha256(request.body).hexdigest()
    text = json.dumps([request.method.upper(), request.path, query, body])
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def package_key(url: str) -> str:
    """The key a GET of this signed URL has in the recording (its package's id in a replay)."""
    parts = urlsplit(url)
    return request_key(RecordedRequest("GET", parts.path, parts.query, b""))


def signed_urls(body: bytes) -> list[tuple[bytes, str]]:
    """The non-empty `signed_url` values of a JSON body: (as written, decoded).

    Decoded because JSON may escape the URL (Go writes `&` as `\\u0026`)."""
    return [(raw, json.loads(b'"' + raw + b'"')) for raw in SIGNED_URL.findall(body)]


def recording_id(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:24]


@dataclass
class Recording:
    answers: dict[str, list[RecordedAnswer]] = field(default_factory=dict)
    downloads: dict[str, bytes] = field(default_factory=dict)  # package -> its download JSON

    @classmethod
    def of(
        cls, exchanges: Iterable[tuple[RecordedRequest, int, Mapping[str, str], bytes, float]]
    ) -> Recording:
        """From (request, status, headers, body, offset) in the order they happened."""
        recording = cls()
        for request, status, headers, body, offset in exchanges:
            urls = tuple((raw, package_key(url)) for raw, url in signed_urls(body))
            for _, package in urls:
                recording.downloads[package] = body
            answer = RecordedAnswer(status, tuple(headers.items()), body, offset, urls)
            recording.answers.setdefault(request_key(request), []).append(answer)
        return recording

    def answer(self, key: str, served_before: int) -> RecordedAnswer | None:
        """The answer to the (served_before + 1)-th identical request; the last one after that."""
        answers = self.answers.get(key)
        if not answers:
            return None
        return answers[min(served_before, len(answers) - 1)]

    def answer_at(self, key: str, elapsed: float) -> RecordedAnswer | None:
        """The last answer recorded at or before `elapsed` seconds (the first one before it)."""
        answers = self.answers.get(key)
        if not answers:
            return None
        due = [a for a in answers if a.offset <= elapsed]
        return due[-1] if due else answers[0]

    def package(self, package: str) -> bytes | None:
        """The recorded bytes of a package fetched through its signed URL, if it was."""
        fetched = [a for a in self.answers.get(package, ()) if a.status == 200]
        return fetched[-1].body if fetched else None

    def __len__(self) -> int:
        return sum(len(a) for a in self.answers.values())
