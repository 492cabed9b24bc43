"""`Task` and `TaskStatus`: snapshots of one task row, the single source of truth for a video's
life (`TaskStatus` is the slimmer one the status read path loads)."""

from __future__ import annotations

from dataclasses import dataclass

from vgen.domain.requests import VideoRequest
from vgen.domain.states import TaskState


@dataclass(frozen=True)
class Task:
    id: str
    tenant_id: str
    model: str
    engine: str
    state: TaskState
    progress: int
    request: VideoRequest
    created_at: float
    updated_at: float
    deadline_at: float
    started_at: float | None = None
    completed_at: float | None = None
    lease_owner: str | None = None
    lease_expires_at: float | None = None
    attempts: int = 0
    upstream_id: str | None = None
    error: str | None = None
    artifact_key: str | None = None
    video_seconds: float | None = None
    archive_expires_at: float | None = None
    upstream_calls: int = 0
    """HTTP requests made to upstreams for this task so far (submit, polls, downloads)."""
    api_key_id: str | None = None

    @property
    def is_terminal(self) -> bool:
        return self.state.is_terminal


@dataclass(frozen=True)
class TaskStatus:
    """What a status query shows: a `Task` without its request (the hot read path skips it)."""

    id: str
    model: str
    engine: str
    state: TaskState
    progress: int
    created_at: float
    completed_at: float | None
    error: str | None
    artifact_key: str | None
    video_seconds: float | None
    archive_expires_at: float | None

    @property
    def is_terminal(self) -> bool:
        return self.state.is_terminal
