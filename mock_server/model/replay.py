"""A recording as a scenario: each distinct request gets its recorded answers in order.

Why per request and not per resource: the real service's answers to the same
request (a job GET, a download PUT) form the sequence the client saw (queued,
running, failed; pending, ready; a 500 in the middle), so replaying the n-th
answer to the n-th identical request reproduces the incident poll by poll, then
stays at the last answer. Counting is the caller's job (it must be shared by the
server's worker processes); this module only knows the recording.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

VOLATILE_QUERY = {"signature", "expires"}  # signed-URL parts: redacted in recordings


@dataclass(frozen=True)
class RecordedAnswer:
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: str
    body: bytes


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


@dataclass
class Recording:
    answers: dict[str, list[RecordedAnswer]] = field(default_factory=dict)

    @classmethod
    def of(cls, exchanges: Iterable[tuple[RecordedRequest, RecordedAnswer]]) -> Recording:
        recording = cls()
        for request, answer in exchanges:
            recording.answers.setdefault(request_key(request), []).append(answer)
        return recording

    def answer(self, key: str, served_before: int) -> RecordedAnswer | None:
        """The answer to the (served_before + 1)-th identical request; the last one after that."""
        answers = self.answers.get(key)
        if not answers:
            return None
        return answers[min(served_before, len(answers) - 1)]

    def __len__(self) -> int:
        return sum(len(a) for a in self.answers.values())
