"""Thumbnail: a video's first decoded frame as a JPEG (the OpenAI dialect's `variant=thumbnail`).

Invariant: the picture is what a player shows first, at the video's own size.
"""

from __future__ import annotations

import io

import av
from PIL import Image

from vgen.domain.errors import EngineError

JPEG_QUALITY = 88


def first_frame_jpeg(path: str) -> bytes:
    """Decode the first frame of the video at `path` and encode it as JPEG. CPU-bound: run it in
    a thread from async code.

    Raises:
        EngineError: the file does not decode to at least one video frame.
    """
    try:
        with av.open(path) as container:
            if not container.streams.video:
                raise EngineError(f"{path} has no video stream")
            frame = next(container.decode(container.streams.video[0]), None)
            if frame is None:
                raise EngineError(f"{path} holds no decodable video frames")
            pixels = frame.to_ndarray(format="rgb24")
    except av.FFmpegError as exc:
        raise EngineError(f"{path} is not a decodable video: {exc}") from exc
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=JPEG_QUALITY)
    return buffer.getvalue()
