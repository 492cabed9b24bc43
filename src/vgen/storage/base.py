"""The archive protocol every storage backend implements."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol


class ArchiveStorage(Protocol):
    """Where finished videos and input images live. Keys are relative, '/'-separated paths."""

    async def put_file(self, key: str, source: Path) -> int:
        """Move `source` into the archive under `key` atomically; returns its size in bytes."""
        ...

    async def put_bytes(self, key: str, data: bytes) -> None:
        """Store `data` under `key` atomically."""
        ...

    async def local_path(self, key: str) -> Path | None:
        """A readable local path for `key`, or None when it is not stored."""
        ...

    async def delete(self, key: str) -> None:
        """Remove `key`; absent keys are ignored."""
        ...

    def staging_dir(self) -> Path:
        """A directory on the same filesystem for files being produced (e.g. renders)."""
        ...
