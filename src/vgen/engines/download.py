"""Fetch a finished video from an upstream into a local file: streamed (bounded memory),
resumed with `Range` after a broken connection, and checked against the announced size."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import BinaryIO

import anyio.to_thread
import httpx

from vgen.domain.errors import UpstreamUnavailable
from vgen.engines.upstream_http import translated

_MAX_RESUMES = 5
# Received bytes are handed to a thread to write once this many are gathered (and at the end):
# a thread hop per network read (64 KB at most) would be most of a small video's download cost, and
# a megabyte per download in flight is little memory.
_FLUSH_BYTES = 1 << 20


async def download_video(
    client: httpx.AsyncClient,
    url: str,
    target: Path,
    *,
    headers: Mapping[str, str] | None = None,
) -> int:
    """Write `url` to `target`; returns the byte count.

    Raises:
        UpstreamUnavailable: the download failed (the caller polls again for a fresh URL).
        UpstreamRejected: the URL can never work.
    """
    # A broken connection is resumed below; what else httpx raises is translated at the edge.
    with translated("video download"):
        return await _write_resuming(client, url, target, headers=headers or {})


async def _write_resuming(
    client: httpx.AsyncClient, url: str, target: Path, *, headers: Mapping[str, str]
) -> int:
    received, total = 0, None
    async with _GatheredFile(target) as handle:
        for _ in range(_MAX_RESUMES + 1):
            ranged = {**headers, **({"Range": f"bytes={received}-"} if received else {})}
            try:
                async with client.stream("GET", url, headers=ranged) as response:
                    if response.status_code >= 400:
                        raise UpstreamUnavailable(
                            f"video download answered HTTP {response.status_code}"
                        )
                    if response.status_code != 206 and received:
                        await handle.restart()  # the server ignored Range: start over
                        received = 0
                    total = _announced_total(response, received)
                    # Every byte received counts, gathered or written: a cut resumes after it.
                    async for chunk in response.aiter_bytes():
                        await handle.write(chunk)
                        received += len(chunk)
            except httpx.TransportError:
                continue  # resume from `received`
            if total is None or received == total:
                return received
    raise UpstreamUnavailable(f"video download kept breaking off ({received} of {total} bytes)")


class _GatheredFile:
    """A file written from the event loop in few thread hops: chunks are gathered in memory
    and written a megabyte at a time; a small video is opened, written and closed in one."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._handle: BinaryIO | None = None
        self._gathered: list[bytes] = []
        self._size = 0

    async def __aenter__(self) -> _GatheredFile:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if exc_info[0] is None:
            await self._flush(close=True)
        elif self._handle is not None:
            await anyio.to_thread.run_sync(self._handle.close)

    async def write(self, chunk: bytes) -> None:
        self._gathered.append(chunk)
        self._size += len(chunk)
        if self._size >= _FLUSH_BYTES:
            await self._flush(close=False)

    async def restart(self) -> None:
        """Drop everything received so far, written or not."""
        self._gathered, self._size = [], 0
        if self._handle is not None:
            handle = self._handle
            await anyio.to_thread.run_sync(lambda: (handle.seek(0), handle.truncate()))

    async def _flush(self, *, close: bool) -> None:
        data = b"".join(self._gathered)
        self._gathered, self._size = [], 0
        await anyio.to_thread.run_sync(self._write, data, close)

    def _write(self, data: bytes, close: bool) -> None:
        if self._handle is None:
            self._handle = self._path.open("wb")
        try:
            self._handle.write(data)
        finally:
            if close:
                self._handle.close()


def _announced_total(response: httpx.Response, offset: int) -> int | None:
    content_range = response.headers.get("content-range", "")
    if "/" in content_range and content_range.rpartition("/")[2].isdigit():
        return int(content_range.rpartition("/")[2])
    length = response.headers.get("content-length")
    return offset + int(length) if length and length.isdigit() else None
