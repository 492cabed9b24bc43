"""How the fake providers serve a video: `Range` honoured, and the connection optionally cut
after some bytes (to test resumed downloads)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from starlette.responses import StreamingResponse


def video_response(
    video: bytes, range_header: str | None, *, cut_after: int | None
) -> StreamingResponse:
    start = int(range_header.removeprefix("bytes=").split("-")[0]) if range_header else 0
    body = video[start:]
    headers = {"Content-Length": str(len(body)), "Accept-Ranges": "bytes"}
    if range_header:
        headers["Content-Range"] = f"bytes {start}-{len(video) - 1}/{len(video)}"

    async def stream() -> AsyncIterator[bytes]:
        sent = 0
        for offset in range(0, len(body), 4096):
            chunk = body[offset : offset + 4096]
            if cut_after is not None and sent + len(chunk) > cut_after:
                yield chunk[: cut_after - sent]
                await asyncio.sleep(0.05)
                raise ConnectionResetError("fake: connection cut mid-stream")
            sent += len(chunk)
            yield chunk

    status = 206 if range_header else 200
    return StreamingResponse(stream(), status_code=status, headers=headers, media_type="video/mp4")
