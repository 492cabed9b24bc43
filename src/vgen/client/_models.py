"""Typed results of the SDK (pydantic models)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

TaskStatus = Literal["queued", "processing", "completed", "failed"]


class Task(BaseModel):
    """A video task as the server reports it.

    `status` is one of `queued`, `processing`, `completed`, `failed`; `video_url` is set once
    `completed` (a signed URL that expires at `expires_at`); while `queued`, `queue_position`
    and `eta_seconds` say where it stands (None when the server does not know).
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    id: str
    status: TaskStatus
    progress: int = 0
    model: str | None = None
    created: int | None = None
    video_url: str | None = None
    actual_duration: float | None = None
    error: str | None = None
    completed_at: int | None = None
    expires_at: int | None = None
    engine: str | None = None
    queue_position: int | None = None  # while queued: 1 = started next (API.md §6)
    eta_seconds: int | None = None  # while queued: estimated seconds until done
    raw: dict[str, Any] = Field(default_factory=dict, repr=False)

    @property
    def is_terminal(self) -> bool:
        """True once the task is `completed` or `failed`."""
        return self.status in ("completed", "failed")


class TaskPage(BaseModel):
    """One page of `list`; pass `last_id` as `after` for the next page while `has_more`."""

    model_config = ConfigDict(frozen=True)

    data: list[Task]
    has_more: bool = False
    first_id: str | None = None
    last_id: str | None = None


class UploadedFile(BaseModel):
    """An image uploaded with `POST /v1/files`; use `url` (`asset://…`) in a create request."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    id: str
    url: str
