"""Local-disk archive: files under one root, written via rename so a reader never sees a
half-written file."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import anyio.to_thread


class LocalDiskStorage:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.root.mkdir(parents=True, exist_ok=True)
        self._staging = self.root / ".staging"
        self._staging.mkdir(exist_ok=True)

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root not in path.parents:
            raise ValueError(f"storage key escapes the archive: {key!r}")
        return path

    async def put_file(self, key: str, source: Path) -> int:
        target = self._path(key)

        def move() -> int:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(source, target)
            return target.stat().st_size

        return await anyio.to_thread.run_sync(move)

    async def put_bytes(self, key: str, data: bytes) -> None:
        target = self._path(key)

        def write() -> None:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self._staging)
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, target)

        await anyio.to_thread.run_sync(write)

    async def local_path(self, key: str) -> Path | None:
        path = self._path(key)
        return path if path.is_file() else None

    async def delete(self, key: str) -> None:
        path = self._path(key)
        await anyio.to_thread.run_sync(lambda: path.unlink(missing_ok=True))

    def staging_dir(self) -> Path:
        return self._staging
