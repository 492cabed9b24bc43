"""Fetch a finished video from an upstream into a local file: streamed (constant memory),
resumed with `Range` after a broken connection, and checked against the announced size."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import anyio
import httpx

from vgen.domain.errors import UpstreamUnavailable
from vgen.engines.upstream_http import translated

_MAX_RESUMES = 5


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
    async with await anyio.open_file(target, "wb") as handle:
        for _ in range(_MAX_RESUMES + 1):
            ranged = {**headers, **({"Range": f"bytes={received}-"} if received else {})}
            try:
                async with client.stream("GET", url, headers=ranged) as response:
                    if response.status_code >= 400:
                        raise UpstreamUnavailable(
                            f"video download answered HTTP {response.status_code}"
                        )
                    if response.status_code != 206 and received:
                        await handle.seek(0)  # the server ignored Range: start over
                        await handle.truncate()
                        received = 0
                    total = _announced_total(response, received)
                    # No re-chunking: bytes buffered for a bigger chunk would be lost on a cut.
                    async for chunk in response.aiter_bytes():
                        await handle.write(chunk)
                        received += len(chunk)
            except httpx.TransportError:
                continue  # resume from `received`
            if total is None or received == total:
                return received
    raise UpstreamUnavailable(f"video download kept breaking off ({received} of {total} bytes)")


def _announced_total(response: httpx.Response, offset: int) -> int | None:
    content_range = response.headers.get("content-range", "")
    if "/" in content_range and content_range.rpartition("/")[2].isdigit():
        return int(content_range.rpartition("/")[2])
    length = response.headers.get("content-length")
    return offset + int(length) if length and length.isdigit() else None
