"""`TaskArtifacts`: a finished task's objects in the archive — the video, and its thumbnail
cached beside it (made once, on first request) — addressed by key, wherever the archive is.

Invariant: deleting a task's artifacts removes the thumbnail with the video.
"""

from __future__ import annotations

import secrets
from functools import partial

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

    def video(self, task: Task | TaskStatus) -> str:
        """The archive key of the task's video.

        Raises:
            NotFound: the task has no video (not made, or past retention).
        """
        if not task.artifact_key:
            raise NotFound(f"The video of '{task.id}' is no longer available.")
        return task.artifact_key

    async def thumbnail(self, task: Task | TaskStatus) -> str:
        """The archive key of the JPEG of the video's first frame, made now if not cached yet
        (from a local copy of the video in staging, which the archive may not be).

        Raises:
            NotFound: as `video`, or the video is gone from the archive.
            EngineError: the archived video does not decode.
        """
        key = thumbnail_key(self.video(task))
        if await self._storage.exists(key):
            return key
        local = self._storage.staging_dir() / f"thumbnail-{secrets.token_hex(8)}.mp4"
        try:
            if not await self._storage.fetch_to(self.video(task), local):
                raise NotFound(f"The video of '{task.id}' is no longer available.")
            jpeg = await anyio.to_thread.run_sync(first_frame_jpeg, str(local))
        finally:
            await anyio.to_thread.run_sync(partial(local.unlink, missing_ok=True))
        # Two first requests may both render it; put_bytes is atomic, so either copy is whole.
        await self._storage.put_bytes(key, jpeg)
        return key

    async def delete(self, task: Task) -> None:
        """Remove the task's video and thumbnail from the archive (absent files are fine)."""
        await remove_videos(self._storage, task.id)
