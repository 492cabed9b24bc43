"""Task states and the transitions allowed between them.

Invariant: a terminal state is never left; every other move goes forward.
"""

from __future__ import annotations

from enum import StrEnum


class TaskState(StrEnum):
    QUEUED = "queued"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        return self in _TERMINAL


_TERMINAL = frozenset({TaskState.COMPLETED, TaskState.FAILED, TaskState.CANCELLED})

_ALLOWED: dict[TaskState, frozenset[TaskState]] = {
    TaskState.QUEUED: frozenset({TaskState.PROCESSING, TaskState.FAILED, TaskState.CANCELLED}),
    # processing -> queued happens only when a lease lapses and the task is handed back.
    TaskState.PROCESSING: frozenset(
        {TaskState.QUEUED, TaskState.COMPLETED, TaskState.FAILED, TaskState.CANCELLED}
    ),
}


def can_transition(current: TaskState, target: TaskState) -> bool:
    return target in _ALLOWED.get(current, frozenset())
