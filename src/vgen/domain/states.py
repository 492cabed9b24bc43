"""Task states and the named transitions between them: the one table every queue write obeys.

Invariant: a terminal state is never left (no transition starts from one); a transition that
needs the lease can be made only by the worker that holds it.
"""

from __future__ import annotations

from dataclasses import dataclass
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

INITIAL_STATE = TaskState.QUEUED
"""A new task row starts here: inserting it is enqueuing it."""


@dataclass(frozen=True)
class Transition:
    """A named move: from any of `sources` to `target`; `by_owner` moves need the lease."""

    name: str
    sources: frozenset[TaskState]
    target: TaskState
    by_owner: bool

    def allows(self, state: TaskState) -> bool:
        return state in self.sources


def _move(name: str, sources: set[TaskState], target: TaskState, *, by_owner: bool) -> Transition:
    return Transition(name, frozenset(sources), target, by_owner)


_Q, _P = TaskState.QUEUED, TaskState.PROCESSING

CLAIM = _move("claim", {_Q}, _P, by_owner=False)
"""A worker starts a queued task that is due (it takes the lease)."""
RECLAIM = _move("reclaim", {_P}, _P, by_owner=False)
"""A worker takes a running task whose lease lapsed (its worker died) or was parked."""
RENEW = _move("renew", {_P}, _P, by_owner=True)
RECORD_PROGRESS = _move("record_progress", {_P}, _P, by_owner=True)
RECORD_UPSTREAM_ID = _move("record_upstream_id", {_P}, _P, by_owner=True)
PARK = _move("park", {_P}, _P, by_owner=True)
"""Give the lease up until the next upstream poll (or retry); the task stays processing."""
REROUTE = _move("reroute", {_P}, _P, by_owner=True)
"""Hand the task to another engine target, due at once (only if no upstream accepted it)."""
COMPLETE = _move("complete", {_P}, TaskState.COMPLETED, by_owner=True)
FAIL = _move("fail", {_P}, TaskState.FAILED, by_owner=True)
CANCEL = _move("cancel", {_Q, _P}, TaskState.CANCELLED, by_owner=False)
"""The tenant ends the task whoever holds its lease; the worker's next write misses."""
EXPIRE = _move("expire", {_Q, _P}, TaskState.FAILED, by_owner=False)
"""The sweeper ends a task past its deadline."""

TRANSITIONS: tuple[Transition, ...] = (
    CLAIM,
    RECLAIM,
    RENEW,
    RECORD_PROGRESS,
    RECORD_UPSTREAM_ID,
    PARK,
    REROUTE,
    COMPLETE,
    FAIL,
    CANCEL,
    EXPIRE,
)
