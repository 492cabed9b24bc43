"""`TaskArtifacts`: a finished task's files in the archive — the video, and its thumbnail cached
beside it (made once, on first request).

Invariant: deleting a task's artifacts removes the thumbnail with the video.
"""

from __future__ import annotations

from pathlib import Path

import anyio.to_thread

from vgen.domain.errors import NotFound
from vgen.domain.tasks import Task, TaskStatus
from vgen.media.thumbnail import first_frame_jpeg
from vgen.storage.base import ArchiveStorage

_VIDEO_SUFFIX = ".mp4"


def video_prefix(task_id: str) -> str:
    """Every video object of a task is stored under this prefix (one per finishing attempt)."""
    return f"videos/{task_id}/"


def thumbnail_key(artifact_key: str) -> str:
    """Where the thumbnail of the video archived under `artifact_key` is cached."""
    return artifact_key.removesuffix(_VIDEO_SUFFIX) + ".thumbnail.jpg"


async def remove_videos(storage: ArchiveStorage, task_id: str, *, keep: str | None = None) -> int:
    """Delete every video object of the task (and cached thumbnails) but `keep` and its
    thumbnail; returns how many went. An attempt whose worker died between upload and
    completion leaves such a stray copy: it goes when the task ends or its archive expires."""
    kept = {keep, thumbnail_key(keep)} if keep else set()
    removed = 0
    for key in await storage.list_keys(video_prefix(task_id)):
        if key not in kept:
            await storage.delete(key)
            removed += 1
    return removed


class TaskArtifacts:
    def __init__(self, *, storage: ArchiveStorage) -> None:
        self._storage = storage

    async def video(self, task: Task | TaskStatus) -> Path:
        """A readable path of the task's archived video.

        Raises:
            NotFound: the task has no video in the archive (not made, or past retention).
        """
        path = await self._storage.local_path(task.artifact_key) if task.artifact_key else None
        if path is None:
            raise NotFound(f"The video of '{task.id}' is no longer available.")
        return path

    async def thumbnail(self, task: Task | TaskStatus) -> Path:
        """A readable path of the JPEG of the video's first frame, made now if not cached yet.

        Raises:
            NotFound: as `video`.
        """
        video = await self.video(task)
        assert task.artifact_key is not None  # `video` found it
        key = thumbnail_key(task.artifact_key)
        cached = await self._storage.local_path(key)
        if cached is not None:
            return cached
        # Two first requests may both render it; put_bytes is atomic, so either copy is whole.
        jpeg = await anyio.to_thread.run_sync(first_frame_jpeg, str(video))
        await self._storage.put_bytes(key, jpeg)
        made = await self._storage.local_path(key)
        if made is None:
            raise NotFound(f"The video of '{task.id}' is no longer available.")
        return made

    async def delete(self, task: Task) -> None:
        """Remove the task's video and thumbnail from the archive (absent files are fine)."""
        await remove_videos(self._storage, task.id)
