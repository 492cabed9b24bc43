"""Bring a task's `asset://` input images from the archive (which may be a bucket on another
host) into the attempt's local staging directory, for the engine to read."""

from __future__ import annotations

from pathlib import Path

from vgen.domain.errors import EngineError
from vgen.domain.files import asset_file_id
from vgen.domain.tasks import Task
from vgen.storage.base import ArchiveStorage
from vgen.store.files import FileRepository


async def fetch_images(
    task: Task, *, files: FileRepository, storage: ArchiveStorage, staging: Path
) -> dict[str, Path]:
    """Every image field of the task mapped to a local copy inside `staging`.

    Raises:
        EngineError: an input was deleted from the archive since the task was accepted.
        StorageUnavailable: the archive could not be read (transient).
    """
    images: dict[str, Path] = {}
    for index, (field, ref) in enumerate(task.request.image_refs().items()):
        stored = await files.get(task.tenant_id, asset_file_id(ref))
        if stored is None:
            raise EngineError(f"input image {field} ({ref}) is no longer available")
        local = staging / f"input-{index}{Path(stored.storage_key).suffix}"
        if not await storage.fetch_to(stored.storage_key, local):
            raise EngineError(f"input image {field} ({ref}) is no longer available")
        images[field] = local
    return images
