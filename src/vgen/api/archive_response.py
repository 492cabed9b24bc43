"""Archived objects as HTTP responses, streamed from whichever backend holds them (a local disk
or a bucket), honouring one byte `Range` (RFC 9110 §14): 206 with `Content-Range`, or 416.

A `Range` this module does not serve (several ranges, bad syntax) is ignored, as the RFC allows:
the whole object is sent with 200.
"""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from vgen.domain.errors import NotFound
from vgen.storage.base import ArchiveStorage

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def requested_range(header: str | None) -> tuple[int, int | None] | None:
    """`(start, end_exclusive)` of a single byte range (`start` < 0: a suffix of that many
    bytes), or None for no range or one to ignore."""
    match = _RANGE.match(header.strip()) if header else None
    if match is None:
        return None
    first, last = match.groups()
    if not first:
        return (-int(last), None) if last else None
    if last and int(last) < int(first):
        return None  # invalid: ignored, not unsatisfiable
    return int(first), int(last) + 1 if last else None


async def archive_response(
    storage: ArchiveStorage,
    key: str,
    *,
    request: Request,
    media_type: str,
    filename: str,
    missing: str,
) -> Response:
    """Serve `key`; `missing` is the message of the 404 when the archive no longer holds it."""
    wanted = requested_range(request.headers.get("range"))
    start, end = wanted if wanted is not None else (0, None)
    body = await storage.open_range(key, start=start, end=end)
    if body is None:
        raise NotFound(missing)
    headers = {
        "accept-ranges": "bytes",
        "content-disposition": f'inline; filename="{filename}"',
        "cache-control": "private, max-age=3600",
    }
    if wanted is not None and (start >= body.total_bytes or body.size_bytes == 0):
        await body.aclose()
        headers["content-range"] = f"bytes */{body.total_bytes}"
        return Response(status_code=416, headers=headers)
    status = 200
    if wanted is not None:
        status = 206
        headers["content-range"] = f"bytes {body.start}-{body.end - 1}/{body.total_bytes}"
    headers["content-length"] = str(body.size_bytes)
    if request.method == "HEAD":
        await body.aclose()
        return Response(status_code=status, headers=headers, media_type=media_type)
    return StreamingResponse(body, status_code=status, headers=headers, media_type=media_type)
