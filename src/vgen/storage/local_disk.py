"""Local-disk archive: files under one root, written via rename so a reader never sees a
half-written file. OS faults (full disk, refused write) become `StorageUnavailable` here."""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

import anyio.to_thread

from vgen.domain.errors import StorageUnavailable
from vgen.metrics import STORAGE_FAULTS
from vgen.storage.base import ByteRange, checked_key, clamp_range


@contextmanager
def _translated_os_errors(action: str) -> Iterator[None]:
    """An `OSError` becomes `StorageUnavailable` naming the reason but not the path: its
    message may reach a client, and `str(OSError)` carries the file name."""
    try:
        yield
    except OSError as exc:
        STORAGE_FAULTS.labels(action).inc()
        reason = os.strerror(exc.errno) if exc.errno else type(exc).__name__
        raise StorageUnavailable(f"archive {action} failed: {reason}") from exc


class LocalDiskStorage:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        with _translated_os_errors("setup"):
            self.root.mkdir(parents=True, exist_ok=True)
            self._staging = self.root / ".staging"
            self._staging.mkdir(exist_ok=True)

    def _path(self, key: str) -> Path:
        # `checked_key` admits no '..', '.' or empty part, so the path stays under the root;
        # not resolved: that would lstat every component, on the event loop, on every call.
        return self.root / checked_key(key)

    async def put_file(self, key: str, source: Path) -> int:
        target = self._path(key)

        def move() -> int:
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.replace(source, target)
            except OSError as exc:
                if exc.errno != errno.EXDEV:
                    raise
                # Another filesystem: copy beside the target, then rename, then drop the source.
                self._write_via_staging(target, lambda out: _copy_from(source, out))
                source.unlink()
            return target.stat().st_size

        with _translated_os_errors("write"):
            return await anyio.to_thread.run_sync(move)

    async def put_bytes(self, key: str, data: bytes) -> None:
        target = self._path(key)

        def write() -> None:
            target.parent.mkdir(parents=True, exist_ok=True)
            self._write_via_staging(target, lambda out: out.write(data))

        with _translated_os_errors("write"):
            await anyio.to_thread.run_sync(write)

    def _write_via_staging(self, target: Path, fill: Callable[[BinaryIO], object]) -> None:
        fd, tmp = tempfile.mkstemp(dir=self._staging)
        try:
            with os.fdopen(fd, "wb") as handle:
                fill(handle)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    async def open_range(
        self, key: str, *, start: int = 0, end: int | None = None
    ) -> ByteRange | None:
        path = self._path(key)

        def open_() -> ByteRange | None:
            try:
                handle = path.open("rb")
            except (FileNotFoundError, IsADirectoryError):
                return None
            try:
                total = os.fstat(handle.fileno()).st_size
                first, last = clamp_range(total, start=start, end=end)
                handle.seek(first)
            except BaseException:
                handle.close()
                raise

            def read(size: int) -> bytes:
                with _translated_os_errors("read"):
                    return handle.read(size)

            return ByteRange(
                total_bytes=total, start=first, end=last, read=read, close=handle.close
            )

        with _translated_os_errors("read"):
            return await anyio.to_thread.run_sync(open_)

    async def fetch_to(self, key: str, target: Path) -> bool:
        path = self._path(key)

        def copy() -> bool:
            if not path.is_file():
                return False
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".fetch-")
            try:
                with os.fdopen(fd, "wb") as out:
                    _copy_from(path, out)
                os.replace(tmp, target)
            except BaseException as exc:
                Path(tmp).unlink(missing_ok=True)
                if isinstance(exc, OSError) and not path.exists():
                    return False  # deleted (retention) while being copied
                raise
            return True

        with _translated_os_errors("read"):
            return await anyio.to_thread.run_sync(copy)

    async def size(self, key: str) -> int | None:
        path = self._path(key)

        def stat() -> int | None:
            try:
                return path.stat().st_size if path.is_file() else None
            except FileNotFoundError:
                return None

        with _translated_os_errors("read"):
            return await anyio.to_thread.run_sync(stat)

    async def exists(self, key: str) -> bool:
        return await self.size(key) is not None

    async def delete(self, key: str) -> None:
        path = self._path(key)
        with _translated_os_errors("delete"):
            await anyio.to_thread.run_sync(lambda: path.unlink(missing_ok=True))

    async def list_keys(self, prefix: str) -> list[str]:
        # Keys are '/'-separated paths: walk the deepest directory the prefix names.
        parent = prefix.rpartition("/")[0]
        directory = self._path(parent) if parent else self.root

        def walk() -> list[str]:
            if not directory.is_dir():
                return []
            found = (p.relative_to(self.root).as_posix() for p in directory.rglob("*"))
            # `.staging` holds work in progress, never a stored object.
            return sorted(
                k
                for k in found
                if k.startswith(prefix) and not k.startswith(".") and (self.root / k).is_file()
            )

        with _translated_os_errors("list"):
            return await anyio.to_thread.run_sync(walk)

    async def check(self) -> None:
        def probe() -> bool:
            return all(d.is_dir() and os.access(d, os.W_OK) for d in (self.root, self._staging))

        if not await anyio.to_thread.run_sync(probe):
            raise StorageUnavailable("archive check failed: the archive directory is not writable")

    def presigned_url(self, key: str, *, expires_at: int) -> str | None:
        return None  # files on disk are served by vgen itself, through signed URLs

    def staging_dir(self) -> Path:
        return self._staging


def _copy_from(source: Path, out: BinaryIO) -> None:
    with source.open("rb") as handle:
        shutil.copyfileobj(handle, out, 1024 * 1024)
