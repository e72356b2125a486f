"""createJob's answer from a per-workflow template, while the new job is surely queued.

A job that has just been created shows nothing of its plan: every task is `created`
with no times, the job is `queued`, and only its id, its creator, its creation time
and its tasks' ids differ from one job of a workflow to the next. Planning, evaluating
and rendering it anyway was half of createJob's instructions in-process and about a
third of its server CPU, and a read on the other worker plans it again. So the answer
is filled into the JSON of a prototype job instead, and the plan is made when the job
is first read.

The template is proved before it is used: two prototype jobs are rendered the usual
way, the first is cut at its variable strings, and the cut must give back the second,
byte for byte, when filled with the second's values. A workflow whose rendering does
not pass that check (a value showing up where the cut cannot see it) keeps the usual
path.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pixxel_mock.server.handling import to_json
from pixxel_mock.server.model.catalog import Workflow
from pixxel_mock.server.model.ids import derived_uuid
from pixxel_mock.server.model.lifecycle import JobRecord, task_id
from pixxel_mock.server.model.timefmt import rfc3339

# Prototype creation times: far from any fixture's dates, so no other field shows them.
_PROTOTYPE_TIMES = (86_400.0 * 400 + 3_723, 86_400.0 * 800 + 7_446)
Render = Callable[[JobRecord], tuple[bytes, str]]  # a job's JSON and its states, as served


@dataclass(frozen=True)
class QueuedAnswer:
    task_names: tuple[str, ...]
    segments: tuple[bytes, ...]  # the JSON between the values
    slots: tuple[int, ...]  # which value goes after each segment but the last
    states: str  # what the answer shows: the job queued, its tasks created

    def fill(self, record: JobRecord) -> bytes:
        values = job_values(record, self.task_names)
        encoded = [to_json(value) for value in values]  # the time shows 2 + 2 per task times
        parts = [self.segments[0]]
        for slot, segment in zip(self.slots, self.segments[1:], strict=True):
            parts += (encoded[slot], segment)
        return b"".join(parts)


def job_values(record: JobRecord, task_names: Sequence[str]) -> list[str]:
    """What varies between two queued jobs of one workflow, in slot order."""
    return [
        record.id,
        record.created_by,
        rfc3339(record.created_at),
        *(task_id(record.id, name) for name in task_names),
    ]


def make_template(
    prototypes: Sequence[JobRecord], task_names: Sequence[str], render: Render
) -> QueuedAnswer | None:
    """The proved template for these prototypes' workflow, or None."""
    (first_json, states), (second_json, _) = (render(p) for p in prototypes)
    first = job_values(prototypes[0], task_names)
    if len(set(first)) != len(first):
        return None
    slot_of = {to_json(value): slot for slot, value in enumerate(first)}
    pattern = re.compile(b"|".join(re.escape(quoted) for quoted in slot_of))
    segments, slots, start = [], [], 0
    for match in pattern.finditer(first_json):
        segments.append(first_json[start : match.start()])
        slots.append(slot_of[match.group()])
        start = match.end()
    segments.append(first_json[start:])
    answer = QueuedAnswer(tuple(task_names), tuple(segments), tuple(slots), states)
    return answer if answer.fill(prototypes[1]) == second_json else None


class QueuedAnswers:
    """One template per workflow, made at the workflow's first createJob."""

    def __init__(self) -> None:
        self._templates: dict[str, QueuedAnswer | None] = {}

    def proved(self, workflow_id: str) -> bool:
        """Whether this workflow's new jobs are answered from its template (diagnostics)."""
        return self._templates.get(workflow_id) is not None

    def answer(
        self, record: JobRecord, workflow: Workflow, render: Render
    ) -> tuple[bytes, str] | None:
        """The new job's JSON and states, or None if its workflow has no proved template."""
        if record.workflow_id not in self._templates:
            task_names = [task.name for task in workflow.tasks]
            prototypes = [
                JobRecord(
                    namespace=record.namespace,
                    id=derived_uuid("prototype job", record.workflow_id, n),
                    seq=0,
                    workflow_id=record.workflow_id,
                    project_id=record.project_id,
                    created_by=f"prototype creator {n}",
                    created_at=at,
                )
                for n, at in enumerate(_PROTOTYPE_TIMES)
            ]
            self._templates[record.workflow_id] = make_template(prototypes, task_names, render)
        template = self._templates[record.workflow_id]
        if template is None:
            return None
        return template.fill(record), template.states
