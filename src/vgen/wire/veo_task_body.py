"""The §1.2 task object as vgen writes it (API.md §1.2): status polls, lists and webhook
events all carry this one body, so a `video_url` is minted the same way everywhere.

Invariant: a `video_url` is valid for the URL lifetime but never past the archive's retention end.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from vgen.domain.queue_estimate import QueueEstimate
from vgen.domain.states import TaskState
from vgen.domain.tasks import Task, TaskStatus
from vgen.storage.signing import UrlSigner


def created_body(task: Task | TaskStatus) -> dict[str, Any]:
    return {
        "id": task.id,
        "task_id": task.id,
        "object": "video",
        "created": int(task.created_at),
        "model": task.model,
        "status": _wire_status(task.state),
    }


def _wire_status(state: TaskState) -> str:
    # API.md §1.2: a cancelled task shows as failed with error "cancelled".
    return TaskState.FAILED.value if state is TaskState.CANCELLED else state.value


def task_body(
    task: Task | TaskStatus,
    *,
    video_url: str | None,
    expires_at: int | None,
    queue: QueueEstimate | None = None,
) -> dict[str, Any]:
    completed = task.state is TaskState.COMPLETED
    error = task.error
    if task.state is TaskState.CANCELLED:
        error = "cancelled"
    elif task.state is TaskState.FAILED and not error:
        error = "failed"
    return {
        **created_body(task),
        "progress": task.progress if not completed else 100,
        "video_url": video_url if completed else None,
        "actualDuration": _whole_seconds(task.video_seconds) if completed else None,
        "error": error,
        "completed_at": int(task.completed_at) if task.completed_at and task.is_terminal else None,
        "expires_at": expires_at if completed else None,
        "engine": task.engine,
        **queue_fields(task.state, queue),
    }


def queue_fields(state: TaskState, queue: QueueEstimate | None) -> dict[str, int | None]:
    """API.md §6: where a queued task stands; both null when unknown or not queued."""
    if queue is None or state is not TaskState.QUEUED:
        return {"queue_position": None, "eta_seconds": None}
    return {"queue_position": queue.position, "eta_seconds": queue.eta_seconds}


def _whole_seconds(value: float | None) -> int | float | None:
    if value is None:
        return None
    return round(value) if abs(value - round(value)) < 0.05 else value


Presign = Callable[[str, int], str | None]
"""`(archive key, expires_at)` → a URL straight to the archive's object, or None (no presigning)."""


def signed_task_body(
    task: Task | TaskStatus,
    *,
    signer: UrlSigner,
    ttl_s: float,
    now: float,
    presign: Presign | None = None,
    queue: QueueEstimate | None = None,
) -> dict[str, Any]:
    """The §1.2 body with a `video_url` minted now: valid `ttl_s`, never past the archive's
    retention end (also what webhooks carry). The URL is the archive's own presigned one when
    `presign` gives one (the bytes then never pass through vgen), else vgen's signed URL."""
    video_url = None
    expires_at = None
    if task.state is TaskState.COMPLETED and task.artifact_key and task.archive_expires_at:
        expires_at = int(min(now + ttl_s, task.archive_expires_at))
        if expires_at > now:
            presigned = presign(task.artifact_key, expires_at) if presign else None
            video_url = presigned or signer.mint_url(f"{task.id}/video.mp4", expires_at=expires_at)
    return task_body(task, video_url=video_url, expires_at=expires_at, queue=queue)


@dataclass(frozen=True)
class TaskBodies:
    """Renders §1.2 bodies with URLs valid `ttl_s` from the given `now`: presigned by the
    archive when it does that (`VGEN_S3_PRESIGNED_URLS`), else signed by `signer`."""

    signer: UrlSigner
    ttl_s: float
    presign: Presign | None = None

    def __call__(
        self, task: Task | TaskStatus, now: float, queue: QueueEstimate | None = None
    ) -> dict[str, Any]:
        return signed_task_body(
            task, signer=self.signer, ttl_s=self.ttl_s, now=now, presign=self.presign, queue=queue
        )

    def encoded(self, task: TaskStatus, now: float, queue: QueueEstimate | None = None) -> bytes:
        """The body as JSON bytes. A body depends on `now` only through its URL's expiry
        second, so polls of one task within one second share one rendering (the hottest
        answer: a client polls, many clients poll the same task)."""
        expires_at = None
        if task.state is TaskState.COMPLETED and task.artifact_key and task.archive_expires_at:
            expires_at = int(min(now + self.ttl_s, task.archive_expires_at))
        live = expires_at is not None and expires_at > now
        return _encoded(self, task, expires_at, live, queue)


@functools.lru_cache(maxsize=4096)
def _encoded(
    bodies: TaskBodies,
    task: TaskStatus,
    expires_at: int | None,
    live: bool,
    queue: QueueEstimate | None,
) -> bytes:
    # Any instant that yields this expiry second and liveness renders the same body: a live URL
    # expiring at `expires_at` is rendered from `expires_at - ttl_s`; a dead one (capped by the
    # archive's retention end, which has passed) from any later instant; no URL from any.
    if expires_at is None:
        now = 0.0
    elif live:
        now = expires_at - bodies.ttl_s
    else:
        now = math.inf
    return orjson.dumps(bodies(task, now, queue))
