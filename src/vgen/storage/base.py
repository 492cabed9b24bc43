"""The archive protocol every storage backend implements, and the byte range it streams.

Invariant: callers address objects by key only; a backend raises `StorageUnavailable` (never an
`OSError` or a boto3 error) when the archive fails, and returns None/False for a missing key.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from types import TracebackType
from typing import Protocol

import anyio.to_thread

from vgen.domain.errors import StorageUnavailable

_CHUNK_BYTES = 256 * 1024


class ArchiveStorage(Protocol):
    """Where finished videos and input images live. Keys are relative, '/'-separated names
    (`videos/<task>/<attempt>.mp4`); the objects may be on another host (a bucket).

    Every method raises `StorageUnavailable` when the archive cannot be reached or refuses the
    operation (transient: retry later). A missing key is not an error: it is None or False.
    """

    async def put_file(self, key: str, source: Path) -> int:
        """Store the local file `source` under `key` (streamed; multipart for big files) and
        return its size in bytes. On success `source` is gone (moved or uploaded, then removed);
        on failure it is left in place so the caller can try again."""
        ...

    async def put_bytes(self, key: str, data: bytes) -> None:
        """Store `data` under `key`; a reader sees the old object or the whole new one."""
        ...

    async def open_range(
        self, key: str, *, start: int = 0, end: int | None = None
    ) -> ByteRange | None:
        """Bytes `[start, end)` of the object (`end` None: to its end; `start` < 0: the last
        `-start` bytes, like an HTTP suffix range), clamped to the object's size. None when the
        key is not stored. The caller iterates the range and closes it (`async with`)."""
        ...

    async def fetch_to(self, key: str, target: Path) -> bool:
        """Download the object into the local file `target` (written whole or not at all);
        False when the key is not stored."""
        ...

    async def size(self, key: str) -> int | None:
        """The object's size in bytes, or None when the key is not stored."""
        ...

    async def exists(self, key: str) -> bool:
        """Whether `key` is stored."""
        ...

    async def delete(self, key: str) -> None:
        """Remove `key`; absent keys are ignored."""
        ...

    async def list_keys(self, prefix: str) -> list[str]:
        """Every stored key that starts with `prefix` (e.g. `videos/<task>/`), sorted."""
        ...

    async def check(self) -> None:
        """Return when the archive is reachable and writable (`/readyz`).

        Raises:
            StorageUnavailable: it is not, with the reason.
        """
        ...

    def presigned_url(self, key: str, *, expires_at: int) -> str | None:
        """A URL that downloads `key` straight from the backend until `expires_at` (unix s), or
        None when the backend does not presign (local disk, or presigning switched off)."""
        ...

    def staging_dir(self) -> Path:
        """A local directory for files being produced (renders, downloads) before `put_file`."""
        ...


class ByteRange:
    """Bytes `[start, end)` of an object `total_bytes` long, read chunk by chunk off the event
    loop. Closing releases the file or connection behind it; iterating to the end closes too."""

    def __init__(
        self,
        *,
        total_bytes: int,
        start: int,
        end: int,
        read: Callable[[int], bytes],
        close: Callable[[], None],
    ) -> None:
        """`read(n)` (blocking) returns up to n bytes and raises `StorageUnavailable`;
        `close()` (blocking) releases the source."""
        self.total_bytes = total_bytes
        self.start = start
        self.end = end
        self._read = read
        self._close = close
        self._closed = False

    @property
    def size_bytes(self) -> int:
        return self.end - self.start

    async def __aiter__(self) -> AsyncIterator[bytes]:
        remaining = self.size_bytes
        try:
            while remaining > 0:
                chunk = await anyio.to_thread.run_sync(self._read, min(_CHUNK_BYTES, remaining))
                if not chunk:
                    raise StorageUnavailable("archive read failed: the object ended early")
                remaining -= len(chunk)
                yield chunk
        finally:
            await self.aclose()

    async def read_all(self) -> bytes:
        """The whole range in memory (small objects only: thumbnails, images)."""
        return b"".join([chunk async for chunk in self])

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            await anyio.to_thread.run_sync(self._close)

    async def __aenter__(self) -> ByteRange:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()


def clamp_range(total_bytes: int, *, start: int, end: int | None) -> tuple[int, int]:
    """`[start, end)` of `open_range` resolved against an object `total_bytes` long."""
    if start < 0:
        return max(0, total_bytes + start), total_bytes
    last = total_bytes if end is None else min(end, total_bytes)
    first = min(start, total_bytes)
    return first, max(first, last)


def checked_key(key: str) -> str:
    """`key` if it is a relative '/'-separated name with no empty, '.' or '..' part.

    Raises:
        ValueError: it is not (a programming error: keys are made by vgen, not by clients).
    """
    parts = key.split("/")
    if not key or "\\" in key or any(part in ("", ".", "..") for part in parts):
        raise ValueError(f"not a storage key: {key!r}")
    return key
