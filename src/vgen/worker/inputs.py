"""Turn a task's `asset://` image references into local files for the engine."""

from __future__ import annotations

from pathlib import Path

from vgen.domain.errors import EngineError
from vgen.domain.files import asset_file_id
from vgen.domain.tasks import Task
from vgen.storage.base import ArchiveStorage
from vgen.store.files import FileRepository


async def resolve_images(
    task: Task, *, files: FileRepository, storage: ArchiveStorage
) -> dict[str, Path]:
    """Every image field of the task mapped to a readable path.

    Raises:
        EngineError: an input was deleted from the archive since the task was accepted.
    """
    images: dict[str, Path] = {}
    for field, ref in task.request.image_refs().items():
        file_id = asset_file_id(ref)
        stored = await files.get(task.tenant_id, file_id)
        path = await storage.local_path(stored.storage_key) if stored else None
        if path is None:
            raise EngineError(f"input image {field} ({ref}) is no longer available")
        images[field] = path
    return images
